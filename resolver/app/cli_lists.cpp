#include "app/cli_lists.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "base/clock.hpp"
#include "config/edit.hpp"
#include "hush/blocklists/data_dir.h"
#include "hush/blocklists/subscriptions/subscriptions.h"

namespace hush {

namespace subs = blocklists::subs;

namespace {

std::string span(int64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m";
  if (seconds < 172800) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

std::string when(int64_t t, int64_t now) {
  if (t <= 0) return "never";
  char buf[32];
  time_t tt = time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return std::string(buf) + (t <= now ? " (" + span(now - t) + " ago)" : " (in " + span(t - now) + ")");
}

// A progress bar on stderr, redrawn at most ten times a second.
struct ProgressBar {
  std::string name;
  std::chrono::steady_clock::time_point last{};
  bool drawn = false;
  bool operator()(uint64_t got, uint64_t total) {
    auto now = std::chrono::steady_clock::now();
    if (drawn && now - last < std::chrono::milliseconds(100)) return true;
    last = now;
    drawn = true;
    char line[160];
    double mib = double(got) / (1 << 20);
    if (total > 0) {
      int width = 30, fill = int(double(got) / double(total) * width);
      std::string bar(size_t(std::min(fill, width)), '#');
      bar.resize(size_t(width), '.');
      std::snprintf(line, sizeof line, "\r%-24.24s [%s] %3d%% %7.1f MiB", name.c_str(), bar.c_str(),
                    int(100.0 * double(got) / double(total)), mib);
    } else {
      std::snprintf(line, sizeof line, "\r%-24.24s %7.1f MiB", name.c_str(), mib);
    }
    std::cerr << line << std::flush;
    return true;
  }
  void done() {
    if (drawn) std::cerr << "\r" << std::string(75, ' ') << "\r" << std::flush;
  }
};

void print_result(const subs::UpdateResult& r) {
  std::cout << r.name << ": " << subs::outcome_name(r.outcome);
  if (r.outcome == subs::UpdateResult::Outcome::Failed || r.outcome == subs::UpdateResult::Outcome::Busy)
    std::cout << ": " << r.error << " (" << r.entries << " rules in force)";
  else
    std::cout << ", " << r.entries << " rules, " << r.invalid << " invalid lines";
  std::cout << "\n";
}

subs::UpdateResult update_one(subs::Subscriptions& s, const std::string& name) {
  if (!::isatty(STDERR_FILENO)) return s.update(name);
  ProgressBar bar{name};
  auto r = s.update(name, [&bar](uint64_t got, uint64_t total) { return bar(got, total); });
  bar.done();
  return r;
}

int print_catalog() {
  for (const subs::CatalogEntry& e : subs::catalog()) {
    std::cout << e.id << "\n  " << e.name << " [" << e.category;
    if (!e.vendor.empty()) std::cout << ", " << e.vendor;
    std::cout << "]\n  " << e.url << "\n  format " << e.format << " ("
              << (e.subdomains ? "entries block their subdomains" : "exact names") << "), licence " << e.license
              << ", " << e.homepage << "\n";
  }
  std::cout << "\nsubscribe with: hush lists add catalog:ID\n";
  return 0;
}

}  // namespace

int64_t parse_duration(const std::string& text) {
  if (text.empty()) return -1;
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (...) {
    return -1;
  }
  if (n <= 0) return -1;
  std::string unit = text.substr(used);
  if (unit.empty() || unit == "h") return n * 3600;
  if (unit == "s") return n;
  if (unit == "m") return n * 60;
  if (unit == "d") return n * 86400;
  return -1;
}

void add_lists_commands(CLI::App* lists, ListsCommand& cmd) {
  cmd.add = lists->add_subcommand("add", "subscribe to a list by URL (or catalog:ID) and download it now");
  cmd.add->add_option("url", cmd.url, "http(s):// or file:// URL, or catalog:ID (see hush lists catalog)")
      ->required();
  cmd.add->add_option("-n,--name", cmd.name, "the list's name (default: the catalog id or the URL's file name)");
  cmd.add->add_option("-g,--group", cmd.groups, "client group the list applies to (repeatable; default: default)");
  cmd.add->add_flag("--subdomains", cmd.subdomains, "plain and hosts entries also block their subdomains");
  cmd.add->add_option("--interval", cmd.interval, "time between updates: 6h, 2d, 30m (default: subscriptions.interval_hours)");
  cmd.add->add_flag("--no-update", cmd.no_update, "do not download now (the server does within seconds)");
  cmd.rm = lists->add_subcommand("rm", "unsubscribe and delete the local copy");
  cmd.rm->add_option("name", cmd.name, "the list's name")->required();
  cmd.ls = lists->add_subcommand("ls", "the subscribed lists: URL, entries, last update and error, next update");
  cmd.update = lists->add_subcommand("update", "download subscribed lists now");
  cmd.update->add_option("name", cmd.name, "only this list (default: all)");
  cmd.catalog = lists->add_subcommand("catalog", "well-known lists to subscribe to with catalog:ID");
  cmd.enable = lists->add_subcommand("enable", "switch a list back on (in the configuration file, --config)");
  cmd.enable->add_option("name", cmd.name, "the list's name")->required();
  cmd.disable = lists->add_subcommand("disable", "switch a list off without removing it (in the configuration file, --config)");
  cmd.disable->add_option("name", cmd.name, "the list's name")->required();
}

namespace {
// Edits blocking.disabled_lists through the one writer of the file.
int switch_list(const ListsCommand& cmd, const Config& cfg) {
  if (cfg.file.empty()) {
    std::cerr << "hush: give the configuration file with --config: the switch is kept there\n";
    return 2;
  }
  bool on = bool(*cmd.enable);
  std::vector<KeyChange> changed;
  std::vector<std::string> errors;
  if (!edit_config_file(cfg.file, [&](const std::string& text) {
        return std::vector<ConfigEdit>{list_switch_edit(text, cmd.name, on)};
      }, changed, errors)) {
    for (const std::string& e : errors) std::cerr << "hush: " << e << "\n";
    return 1;
  }
  std::cout << cmd.name << (on ? " enabled" : " disabled") << " in " << cfg.file
            << (changed.empty() ? " (it was already)" : "")
            << "; a running server takes it at its next reload (systemctl reload hush, or SIGHUP)\n";
  return 0;
}
}  // namespace

namespace {
int run_lists(const ListsCommand& cmd, const Config& cfg);
}

// Run as root on a data directory that belongs to the server's user (the
// package's /var/lib/hush): hand what this command created to that user, or
// the server could no longer write its database, list copies and settings files.
void give_to_dir_owner(const std::string& dir) {
  struct stat st;
  if (::geteuid() != 0 || ::stat(dir.c_str(), &st) != 0 || st.st_uid == 0) return;
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string db = database_path(dir);
  std::vector<std::string> paths = {db, db + "-wal", db + "-shm", dir + "/lists"};
  for (const char* f : {"rules.json", "local.records", "web-auth.json", "companies.txt"}) paths.push_back(dir + "/" + f);
  for (fs::directory_iterator it(dir + "/lists", ec), end; !ec && it != end; it.increment(ec))
    paths.push_back(it->path().string());
  for (const std::string& p : paths)
    if (::lchown(p.c_str(), st.st_uid, st.st_gid) != 0 && errno != ENOENT) {
      std::cerr << "hush: cannot hand " << p << " to uid " << st.st_uid << "\n";
    }
}

int run_lists_command(const ListsCommand& cmd, const Config& cfg) {
  if (*cmd.catalog) return print_catalog();
  if (*cmd.enable || *cmd.disable) return switch_list(cmd, cfg);
  int rc = run_lists(cmd, cfg);
  give_to_dir_owner(cfg.server.data_dir);
  return rc;
}

namespace {
int run_lists(const ListsCommand& cmd, const Config& cfg) {
  std::string error;
  auto s = subs::Subscriptions::open(cfg.server.data_dir, cfg.subscription_settings(), error);
  if (!s) {
    std::cerr << "hush: " << error << "\n";
    return 1;
  }
  const int64_t now = now_seconds();
  if (*cmd.add) {
    subs::AddRequest req;
    req.url = cmd.url;
    req.name = cmd.name;
    req.groups = cmd.groups;
    req.subdomains = cmd.subdomains;
    req.claim = !cmd.no_update;
    if (!cmd.interval.empty()) {
      req.interval_s = parse_duration(cmd.interval);
      if (req.interval_s < 0) {
        std::cerr << "hush: --interval '" << cmd.interval << "': expected e.g. 90s, 30m, 6h or 2d\n";
        return 2;
      }
    }
    auto added = s->add(req, error);
    if (!added) {
      std::cerr << "hush: " << error << "\n";
      return 2;
    }
    std::cout << "added " << added->name << ": " << added->url << "\n";
    if (cmd.no_update) return 0;
    auto r = update_one(*s, added->name);
    print_result(r);
    if (r.outcome == subs::UpdateResult::Outcome::Failed)
      std::cout << "the subscription stays; hush retries later (hush lists ls shows when)\n";
    return r.outcome == subs::UpdateResult::Outcome::Failed ? 1 : 0;
  }
  if (*cmd.rm) {
    if (!s->remove(cmd.name, error)) {
      std::cerr << "hush: " << error << "\n";
      return 1;
    }
    std::cout << "removed " << cmd.name << "\n";
    return 0;
  }
  if (*cmd.ls) {
    auto all = s->list();
    if (all.empty()) std::cout << "no subscribed lists (hush lists add URL, or hush lists catalog)\n";
    for (const subs::Subscription& l : all) {
      std::cout << l.name << "  " << l.url << "\n"
                << "  entries " << l.entries << ", invalid lines " << l.invalid
                << (l.has_copy ? "" : " (no local copy yet)") << "\n"
                << "  last update " << when(l.last_success, now) << ", next update " << when(l.next_update, now)
                << "\n"
                << "  last error " << (l.last_error.empty() ? "-" : l.last_error)
                << (l.failures > 1 ? " (" + std::to_string(l.failures) + " failures in a row)" : "") << "\n";
      if (l.groups.size() != 1 || l.groups[0] != "default" || l.subdomains || l.interval_s) {
        std::cout << "  groups";
        for (const std::string& g : l.groups) std::cout << " " << g;
        if (l.subdomains) std::cout << ", subdomains";
        if (l.interval_s) std::cout << ", every " << span(l.interval_s);
        std::cout << "\n";
      }
    }
    return 0;
  }
  if (*cmd.update) {
    std::vector<std::string> names;
    if (!cmd.name.empty()) {
      names.push_back(cmd.name);
    } else {
      for (const subs::Subscription& l : s->list()) names.push_back(l.name);
      if (names.empty()) std::cout << "no subscribed lists\n";
    }
    int rc = 0;
    for (const std::string& n : names) {
      auto r = update_one(*s, n);
      print_result(r);
      if (r.outcome == subs::UpdateResult::Outcome::Failed) rc = 1;
    }
    return rc;
  }
  return 2;
}
}  // namespace

}  // namespace hush

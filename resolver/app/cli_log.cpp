#include "app/cli_log.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>
#include <thread>

#include "base/clock.hpp"
#include "base/memory.hpp"
#include "app/cli_format.hpp"
#include "app/exports.hpp"
#include "clients/groups.hpp"
#include "base/printable.hpp"
#include "base/qtype.hpp"
#include "querylog/reader.hpp"
#include "web/http_server.hpp"
#include "hush/blocklists/data_dir.h"

namespace hush {

namespace ql = querylog;

struct LogCommands {
  std::string data_dir;             // --data-dir
  std::string config_file;          // --config
  std::string configured_data_dir;  // from the configuration file
  std::string http;                 // --http: the running server's /metrics
  std::string configured_http;      // http.listen from the configuration file
  bool memory = false;              // stats --memory
  std::string client, domain, status, type, since;
  bool blocked = false, follow = false;
  size_t limit = 0, top = 10;
  std::string target, new_name, groups;
  int64_t before = 0;

  CLI::App* log = nullptr;
  CLI::App* tail = nullptr;
  CLI::App* search = nullptr;
  CLI::App* stats = nullptr;
  CLI::App* clients = nullptr;
  CLI::App* rename = nullptr;
  CLI::App* group = nullptr;
};

namespace {

using cli::kFailed, cli::kOk, cli::kUsage, cli::local_time, cli::pad, cli::percent;

void print_entry(std::ostream& out, const ql::LogEntry& e) {
  // Names and texts come from the network (query names, DHCP and PTR names,
  // CNAME targets): escaped, or they could drive the terminal.
  std::string who = printable(e.device == e.client_ip ? e.client_ip : e.device + " (" + e.client_ip + ")");
  std::string detail = printable(e.status == ql::Status::Blocked ? e.reason : e.answer);
  char latency[24];
  std::snprintf(latency, sizeof latency, "%.1fms", double(e.latency_us) / 1000.0);
  out << local_time(e.time_us, true, true) << "  " << pad(who, 28) << "  " << transport_name(e.transport) << "  "
      << pad(qtype_name(e.qtype), 5) << "  "
      << pad(printable(e.domain), 40) << "  " << pad(ql::to_string(e.status), 9) << "  " << pad(latency, 8) << "  "
      << detail << "\n";
}

struct Context {
  const LogCommands& c;
  std::ostream& out;
  std::ostream& err;
  std::unique_ptr<ql::Reader> reader;
  int64_t now = hush::now_us();

  std::string data_dir() const {
    return !c.data_dir.empty()              ? c.data_dir
           : !c.configured_data_dir.empty() ? c.configured_data_dir
                                            : std::string("./hush-data");
  }

  bool open(bool writable) {
    sqlite::Error e;
    reader = ql::Reader::open(database_path(data_dir()), writable, e);
    if (!reader) err << "hush: " << e.message << "\n";
    return bool(reader);
  }
  // Fails (message printed) when `who` names no device.
  bool devices_for(const std::string& who, std::vector<int64_t>& ids) {
    if (who.empty()) return true;
    sqlite::Error e;
    ids = reader->find_devices(who, e);
    if (e) {
      err << "hush: " << e.message << "\n";
      return false;
    }
    if (ids.empty()) err << "hush: no device is called or has the address '" << who << "'\n";
    return !ids.empty();
  }
  // --since as a start time; `fallback` when not given.
  bool since_time(int64_t fallback, int64_t& out_us) {
    if (c.since.empty()) {
      out_us = fallback;
      return true;
    }
    auto d = ql::parse_duration(c.since);
    if (!d) err << "hush: --since: expected a duration like 30m, 24h or 7d, not '" << c.since << "'\n";
    if (d) out_us = now - *d;
    return bool(d);
  }
  int fail(const sqlite::Error& e) {
    err << "hush: reading " << database_path(data_dir()) << ": " << e.message << "\n";
    return kFailed;
  }
};

int run_queries(Context& x, bool tail) {
  const LogCommands& c = x.c;
  ql::QueryFilter f;
  if (!c.status.empty()) {
    ql::Status s;
    if (!ql::parse_status(c.status, s)) {
      x.err << "hush: --status: expected blocked, forwarded, cached, local, refused or error\n";
      return kUsage;
    }
    f.status = s;
  }
  if (c.blocked) f.status = ql::Status::Blocked;
  if (!c.type.empty()) {
    f.qtype = qtype_from_name(c.type);
    if (!f.qtype) {
      x.err << "hush: --type: unknown record type '" << c.type << "'\n";
      return kUsage;
    }
  }
  if (!x.since_time(0, f.since_us)) return kUsage;
  if (!x.open(false)) return kFailed;
  if (!x.devices_for(c.client, f.devices)) return kFailed;
  f.domain_contains = c.domain;
  f.before_id = c.before;
  f.limit = c.limit ? c.limit : (tail ? 20 : 100);
  sqlite::Error e;
  ql::QueryPage page = x.reader->queries(f, e);
  if (e) return x.fail(e);
  if (!tail) {
    for (const auto& row : page.rows) print_entry(x.out, row);
    if (page.next_before_id)
      x.out << "(more: add --before " << page.next_before_id << ")\n";
    return kOk;
  }
  // tail shows the newest rows in time order, then keeps going with --follow.
  for (auto it = page.rows.rbegin(); it != page.rows.rend(); ++it) print_entry(x.out, *it);
  x.out.flush();
  if (!c.follow) return kOk;
  f.after_id = page.rows.empty() ? 0 : page.rows.front().id;
  if (f.after_id == 0) {
    ql::QueryFilter newest = f;
    newest.limit = 1;
    newest.after_id = 0;
    sqlite::Error ignored;
    f.after_id = -1;
    auto p = x.reader->queries(newest, ignored);
    if (!p.rows.empty()) f.after_id = p.rows.front().id;
  }
  f.before_id = 0;
  f.limit = 1000;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ql::QueryPage more = x.reader->queries(f, e);
    if (e) return x.fail(e);
    for (const auto& row : more.rows) print_entry(x.out, row);
    if (!more.rows.empty()) f.after_id = more.rows.back().id;
    x.out.flush();
  }
}

// The value of the sample `name` (with its labels, as written) in a
// Prometheus exposition, or -1.
double sample(const std::string& text, const std::string& name) {
  size_t at = 0;
  while ((at = text.find(name + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::strtod(text.c_str() + at + name.size() + 1, nullptr);
    at += name.size();
  }
  return -1;
}

int run_memory(Context& x) {
  // configured_http is the default 127.0.0.1:8080 unless --config said otherwise.
  std::string listen = !x.c.http.empty() ? x.c.http : x.c.configured_http;
  if (listen.empty()) {
    x.err << "hush: http.listen is off in " << x.c.config_file << ", so the server reports nowhere; give --http ADDR:PORT\n";
    return kUsage;
  }
  std::string why;
  std::optional<std::string> body = web::local_get(listen, "/metrics", why);
  if (!body) {
    x.err << "hush: " << why << "\n";
    return kFailed;
  }
  const std::string& text = *body;
  double budget = sample(text, "hush_memory_budget_bytes");
  if (budget < 0) {
    x.err << "hush: the server at " << listen << " does not report its memory (an older hush?)\n";
    return kFailed;
  }
  auto mib = memory::mib_text;
  std::ostream& out = x.out;
  out << "budget    " << (budget > 0 ? mib(budget) : std::string("none (server.memory_budget_mib = 0)")) << "\n";
  out << "resident  " << mib(sample(text, "hush_memory_rss_bytes")) << "\n\n";
  out << pad("PART", 10) << pad("HOLDS", 12) << "SHARE\n";
  for (const char* part : {"lists", "cache", "querylog", "sqlite", "other"}) {
    double share = sample(text, std::string("hush_memory_share_bytes{part=\"") + part + "\"}");
    out << pad(part, 10) << pad(mib(sample(text, std::string("hush_memory_bytes{part=\"") + part + "\"}")), 12)
        << (share > 0 ? mib(share) : std::string("-")) << "\n";
  }
  if (sample(text, "hush_memory_over_budget") > 0)
    out << "\nthe lists and what does not shrink leave less than the smallest shares: hush holds more than its budget\n";
  return kOk;
}

int run_stats(Context& x) {
  if (x.c.memory) return run_memory(x);
  int64_t since;
  if (!x.since_time(x.now - 24LL * 3600 * 1000000, since)) return kUsage;
  if (!x.open(false)) return kFailed;
  std::vector<int64_t> devices;
  if (!x.devices_for(x.c.client, devices)) return kFailed;
  sqlite::Error e;
  ql::Summary s = x.reader->summary(devices, since, ql::kForever, e);
  if (e) return x.fail(e);
  std::ostream& out = x.out;
  out << "since " << local_time(since) << (x.c.client.empty() ? "" : ", client " + x.c.client) << "\n";
  out << "queries   " << s.total() << "\n";
  out << "blocked   " << s.counts[size_t(ql::Status::Blocked)] << " (" << percent(s.counts[size_t(ql::Status::Blocked)], s.total()) << ")\n";
  for (ql::Status st : {ql::Status::Cached, ql::Status::Forwarded, ql::Status::Local, ql::Status::Refused, ql::Status::Error})
    out << pad(ql::to_string(st), 10) << s.counts[size_t(st)] << "\n";
  out << "devices   " << s.devices << "\n";
  if (s.dropped) out << "not logged (queue full or disk trouble): " << s.dropped << "\n";
  auto ranked = [&](const char* title, const std::vector<ql::Ranked>& rows, bool show_blocked) {
    out << "\n" << title << "\n";
    if (rows.empty()) out << "  (none)\n";
    for (const auto& r : rows)
      out << "  " << pad(std::to_string(show_blocked ? r.blocked : r.total), 9) << pad(printable(r.name), 44)
          << (show_blocked ? "" : percent(r.blocked, r.total) + " blocked") << "\n";
  };
  auto top = x.reader->top_domains(devices, since, ql::kForever, x.c.top, false, e);
  if (e) return x.fail(e);
  ranked("top domains", top, false);
  auto top_blocked = x.reader->top_domains(devices, since, ql::kForever, x.c.top, true, e);
  if (e) return x.fail(e);
  ranked("top blocked", top_blocked, true);
  if (devices.empty()) {
    auto clients = x.reader->top_clients(since, ql::kForever, x.c.top, e);
    if (e) return x.fail(e);
    ranked("top clients", clients, false);
  }
  return kOk;
}

int run_clients(Context& x) {
  int64_t since;
  if (!x.since_time(x.now - 24LL * 3600 * 1000000, since)) return kUsage;
  if (!x.open(false)) return kFailed;
  sqlite::Error e;
  auto devices = x.reader->devices(since, e);
  if (e) return x.fail(e);
  x.out << pad("NAME", 24) << pad("MAC", 19) << pad("ADDRESSES", 32) << pad("LAST SEEN", 21)
        << pad("QUERIES", 9) << pad("BLOCKED", 9) << "GROUPS\n";
  for (const auto& d : devices) {
    std::string addrs, groups;
    for (const auto& a : d.addresses) addrs += (addrs.empty() ? "" : ",") + a;
    for (const auto& g : d.groups) groups += (groups.empty() ? "" : ",") + g;
    x.out << pad(printable(d.name), 23) << " " << pad(d.mac.empty() ? "-" : d.mac, 19) << pad(addrs, 31) << " "
          << pad(local_time(d.last_seen_us), 21) << pad(std::to_string(d.queries), 9)
          << pad(percent(d.blocked, d.queries), 9) << groups << "\n";
  }
  return kOk;
}

int run_device_change(Context& x, bool rename) {
  if (refused_on_replica("", x.data_dir(), x.err)) return kFailed;
  if (!x.open(true)) return kFailed;
  std::vector<int64_t> ids;
  if (!x.devices_for(x.c.target, ids)) return kFailed;
  if (ids.size() > 1) {
    x.err << "hush: '" << x.c.target << "' names " << ids.size()
          << " devices; use its MAC or an address instead\n";
    return kUsage;
  }
  sqlite::Error e;
  bool ok;
  if (rename) {
    ok = x.reader->rename_device(ids[0], x.c.new_name, e);
  } else {
    std::vector<std::string> groups;
    std::string g = x.c.groups;
    for (size_t start = 0; start <= g.size();) {
      size_t comma = g.find(',', start);
      if (comma == std::string::npos) comma = g.size();
      groups.push_back(g.substr(start, comma - start));
      start = comma + 1;
    }
    auto devices = clients::DeviceGroups::open(x.data_dir(), true, e);
    ok = devices && devices->set(ids[0], groups, e);
  }
  if (!ok) {
    x.err << "hush: " << e.message << "\n";
    return (e.code & 0xff) == SQLITE_MISMATCH ? kUsage : kFailed;
  }
  x.out << (rename ? "renamed " : "set groups of ") << x.c.target << "\n";
  return kOk;
}

}  // namespace

std::shared_ptr<LogCommands> add_log_commands(CLI::App& app) {
  auto c = std::make_shared<LogCommands>();
  LogCommands& k = *c;
  auto data_dir = [&k](CLI::App* sub) {
    sub->add_option("-d,--data-dir", k.data_dir, "hush's data directory (default: the configuration's, else ./hush-data)");
    sub->add_option("-c,--config", k.config_file, "the server's TOML configuration file (data_dir, http.listen)")
        ->check(CLI::ExistingFile);
  };
  k.log = app.add_subcommand("log", "show the query log");
  k.log->require_subcommand(1);
  k.tail = k.log->add_subcommand("tail", "the latest queries, oldest first");
  k.tail->add_option("--client", k.client, "only this device: name, MAC or address");
  k.tail->add_flag("--blocked", k.blocked, "only blocked queries");
  k.tail->add_flag("-f,--follow", k.follow, "keep printing new queries");
  k.tail->add_option("-n,--limit", k.limit, "how many (default 20)");
  data_dir(k.tail);
  k.search = k.log->add_subcommand("search", "find queries, newest first");
  k.search->add_option("--domain", k.domain, "domain contains this text");
  k.search->add_option("--since", k.since, "only the last 30m, 24h, 7d...");
  k.search->add_option("--status", k.status, "blocked, forwarded, cached, local, refused or error");
  k.search->add_option("--type", k.type, "record type: A, AAAA, HTTPS...");
  k.search->add_option("--client", k.client, "only this device: name, MAC or address");
  k.search->add_option("-n,--limit", k.limit, "how many (default 100)");
  k.search->add_option("--before", k.before, "continue below this query id (paging)");
  data_dir(k.search);
  k.stats = app.add_subcommand("stats", "totals, top domains and top clients");
  k.stats->add_option("--client", k.client, "only this device: name, MAC or address");
  k.stats->add_option("--since", k.since, "the last 30m, 24h, 7d... (default 24h)");
  k.stats->add_option("--top", k.top, "rows per top list (default 10)");
  k.stats->add_flag("--memory", k.memory, "where the running server's memory goes, against server.memory_budget_mib");
  k.stats->add_option("--http", k.http, "with --memory: the server's http.listen, https://ADDR:PORT for one with http.tls (default: --config's, else 127.0.0.1:8080)");
  data_dir(k.stats);
  k.clients = app.add_subcommand("clients", "the devices hush has seen");
  k.clients->add_option("--since", k.since, "count queries over the last 24h, 7d... (default 24h)");
  data_dir(k.clients);
  k.rename = k.clients->add_subcommand("rename", "give a device the name hush shows");
  k.rename->add_option("device", k.target, "its name, MAC or address")->required();
  k.rename->add_option("name", k.new_name, "the new name; \"\" for the discovered one")->required();
  data_dir(k.rename);
  k.group = k.clients->add_subcommand("group", "set a device's blocklist groups");
  k.group->add_option("device", k.target, "its name, MAC or address")->required();
  k.group->add_option("groups", k.groups, "comma-separated, e.g. default,kids")->required();
  data_dir(k.group);
  return c;
}

const std::string& log_config_file(const LogCommands& cmds) { return cmds.config_file; }

void set_configured_data_dir(LogCommands& cmds, const std::string& dir) { cmds.configured_data_dir = dir; }

void set_configured_http(LogCommands& cmds, const std::string& listen) { cmds.configured_http = listen; }

bool log_command_chosen(const LogCommands& c) { return *c.log || *c.stats || *c.clients; }

std::optional<int> run_log_commands(const LogCommands& c, std::ostream& out, std::ostream& err) {
  Context x{c, out, err};
  if (*c.tail) return run_queries(x, true);
  if (*c.search) return run_queries(x, false);
  if (*c.stats) return run_stats(x);
  if (*c.rename) return run_device_change(x, true);
  if (*c.group) return run_device_change(x, false);
  if (*c.clients) return run_clients(x);
  return std::nullopt;
}

}  // namespace hush

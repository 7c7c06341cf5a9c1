#include "app/cli_report.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <iostream>

#include "app/cli_format.hpp"
#include "base/clock.hpp"
#include "base/printable.hpp"
#include "config/config.hpp"
#include "clients/directory.hpp"
#include "report/actions.hpp"
#include "report/json.hpp"
#include "report/report.hpp"
#include "app/exports.hpp"
#include "hush/blocklists/data_dir.h"

namespace hush {

namespace ql = querylog;

struct ReportCommands {
  std::string config_file, data_dir;
  std::string device, since, company, group, list, url, name;
  bool json = false, fresh = false;
  size_t names = 5;

  CLI::App* report = nullptr;
  CLI::App* who = nullptr;
  CLI::App* block = nullptr;
  CLI::App* unblock = nullptr;
  CLI::App* subscribe = nullptr;
};

namespace {

using cli::kFailed, cli::kOk, cli::kUsage, cli::lpad, cli::pad, cli::percent;

std::string local_time(int64_t us) { return cli::local_time(us, false); }

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

struct Run {
  const ReportCommands& c;
  std::ostream& out;
  std::ostream& err;
  Config cfg;
  std::string data_dir;
  std::shared_ptr<const report::CompanyMap> map;
  int64_t now = hush::now_us();

  // The configuration (when given), the data directory and the company map
  // with the user's overrides; bad override lines are reported and skipped.
  bool load() {
    std::vector<std::string> errors;
    if (!c.config_file.empty() && !load_config_file(c.config_file, cfg, errors)) {
      for (const std::string& e : errors) err << "hush: " << e << "\n";
      return false;
    }
    data_dir = !c.data_dir.empty() ? c.data_dir : cfg.server.data_dir;
    std::string overrides =
        cfg.report.overrides.empty() ? report::default_overrides_path(data_dir) : cfg.report.overrides;
    map = report::CompanyMap::with_overrides(overrides, errors);
    for (const std::string& e : errors) err << "hush: warning: " << e << " (line skipped)\n";
    return true;
  }

  bool since_time(int64_t fallback, int64_t& since_us) {
    if (c.since.empty()) {
      since_us = now - fallback;
      return true;
    }
    auto d = ql::parse_duration(c.since);
    if (!d) err << "hush: --since: expected a duration like 30m, 24h or 7d, not '" << c.since << "'\n";
    if (d) since_us = now - *d;
    return bool(d);
  }

  std::unique_ptr<report::ReportReader> open_report() {
    std::string error;
    auto r = report::ReportReader::open(database_path(data_dir), map, error);
    if (!r) err << "hush: " << error << "\n";
    return r;
  }

  // The one device `who` names; 0 and a message when none or several.
  int64_t one_device(ql::Reader& log, const std::string& who) {
    sqlite::Error e;
    auto ids = log.find_devices(who, e);
    if (e) err << "hush: " << e.message << "\n";
    else if (ids.empty()) err << "hush: no device is called or has the address '" << who << "'\n";
    else if (ids.size() > 1) err << "hush: '" << who << "' names " << ids.size() << " devices; use its MAC or an address\n";
    return !e && ids.size() == 1 ? ids[0] : 0;
  }

  void print_json(nlohmann::json j) { out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n"; }

  void print_names(const std::vector<report::NameUsage>& names) {
    size_t shown = 0;
    for (const report::NameUsage& n : names) {
      if (shown++ == c.names) {
        out << "    ... " << names.size() - c.names << " more (--names N)\n";
        break;
      }
      out << "    " << pad(printable(n.name), 50) << lpad(std::to_string(n.queries), 9) << lpad(percent(n.blocked, n.queries), 9)
          << "\n";
    }
  }

  int device_report(report::ReportReader& r, int64_t id, int64_t since) {
    std::string error;
    report::DeviceReport d = r.device(id, since, ql::kForever, error);
    if (!error.empty()) return fail(error);
    std::optional<report::QuietEvidence> quiet;
    sqlite::Error err;
    if (std::optional<ql::Device> dev = r.log().device(id, ql::kForever, err))
      quiet = report::quiet_on_network(*dev, clients::read_inputs(clients::Sources{}).neighbours, now_us());
    if (c.json) {
      nlohmann::json j = report::to_json(d);
      if (quiet)
        j["quiet"] = report::to_json(*quiet);
      j["since_ms"] = since / 1000;
      print_json(std::move(j));
      return kOk;
    }
    out << printable(d.device) << " since " << local_time(since) << ": " << d.queries << " queries, "
        << percent(d.blocked, d.queries) << " blocked, " << d.companies.size() << " companies\n\n";
    out << pad("COMPANY", 32) << pad("CATEGORIES", 26) << lpad("QUERIES", 9) << lpad("BLOCKED", 9) << "  FIRST SEEN\n";
    for (const report::CompanyUsage& u : d.companies) {
      out << pad(printable(u.name) + (u.known ? "" : " (?)"), 31) << " " << pad(joined(u.categories), 25) << " "
          << lpad(std::to_string(u.queries), 9) << lpad(percent(u.blocked, u.queries), 9) << "  "
          << local_time(u.first_seen_us) << "\n";
      print_names(u.names);
    }
    if (d.companies.empty()) out << "(no queries in this period)\n";
    if (!d.bypass.empty()) {
      out << "\nmay be going around hush: it asked for encrypted-DNS resolvers, which answer what hush cannot "
             "see or block\n";
      for (const report::BypassEvidence& b : d.bypass)
        out << "    " << pad(printable(b.name), 40) << pad(b.resolver, 22) << lpad(std::to_string(b.queries), 9)
            << " queries, " << b.blocked << " blocked, last " << local_time(b.last_seen_us) << "\n";
    }
    if (quiet)
      out << "\nquiet but still on the network: no query since " << local_time(quiet->last_query_us) << ", yet "
          << quiet->address << (quiet->mac.empty() ? "" : " (" + quiet->mac + ")")
          << " is in the neighbour table; its questions may be going elsewhere\n";
    return kOk;
  }

  int overview(report::ReportReader& r, int64_t since) {
    std::string error;
    auto companies = r.overview(since, ql::kForever, error);
    if (!error.empty()) return fail(error);
    if (c.json) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& u : companies) list.push_back(report::to_json(u));
      print_json({{"since_ms", since / 1000}, {"companies", std::move(list)}});
      return kOk;
    }
    out << "every device since " << local_time(since) << ": " << companies.size() << " companies\n\n";
    out << pad("COMPANY", 32) << pad("CATEGORIES", 26) << lpad("DEVICES", 8) << lpad("QUERIES", 9) << lpad("BLOCKED", 9)
        << "\n";
    for (const auto& u : companies) {
      out << pad(printable(u.name) + (u.known ? "" : " (?)"), 31) << " " << pad(joined(u.categories), 25) << " "
          << lpad(std::to_string(u.devices), 8) << lpad(std::to_string(u.queries), 9)
          << lpad(percent(u.blocked, u.queries), 9) << "\n";
    }
    if (companies.empty()) out << "(no queries in this period)\n";
    return kOk;
  }

  int company(report::ReportReader& r, int64_t since) {
    std::string error;
    report::CompanyDevices cd = r.company(c.company, since, ql::kForever, error);
    if (cd.key.empty()) {
      err << "hush: " << error << "\n";
      return kUsage;
    }
    if (!error.empty()) return fail(error);
    auto series = r.series(cd.key, std::nullopt, since, ql::kForever, report::Step::Auto, error);
    if (!error.empty()) return fail(error);
    if (c.json) {
      nlohmann::json j = report::to_json(cd);
      j["since_ms"] = since / 1000;
      j["series"] = nlohmann::json::array();
      for (const auto& p : series) j["series"].push_back(report::to_json(p));
      print_json(std::move(j));
      return kOk;
    }
    out << printable(cd.name) << (cd.known ? "" : " (no company in the map; grouped by domain)") << " since "
        << local_time(since) << ": " << cd.devices.size() << " devices\n\n";
    out << pad("DEVICE", 32) << lpad("QUERIES", 9) << lpad("BLOCKED", 9) << "  FIRST SEEN        LAST SEEN\n";
    for (const auto& d : cd.devices) {
      out << pad(printable(d.device), 31) << " " << lpad(std::to_string(d.queries), 9) << lpad(percent(d.blocked, d.queries), 9)
          << "  " << pad(local_time(d.first_seen_us), 18) << local_time(d.last_seen_us) << "\n";
      print_names(d.names);
    }
    return kOk;
  }

  int fresh(report::ReportReader& r, std::optional<int64_t> device, int64_t since) {
    std::string error;
    auto contacts = r.new_contacts(device, since, 200, error);
    if (!error.empty()) return fail(error);
    if (c.json) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& n : contacts) list.push_back(report::to_json(n));
      print_json({{"since_ms", since / 1000}, {"contacts", std::move(list)}});
      return kOk;
    }
    out << "first contacts since " << local_time(since) << "\n\n";
    for (const auto& n : contacts) {
      bool company = n.kind == report::NewContact::Kind::Company;
      out << local_time(n.time_us) << "  " << pad(printable(n.device), 24) << "  " << (company ? "new company  " : "new name     ")
          << printable(company ? n.company + " (" + n.name + ")" : n.name + " (" + n.company + ")") << "\n";
    }
    if (contacts.empty()) out << "(none)\n";
    return kOk;
  }

  int who() {
    report::Attribution a = map->attribute(c.name);
    if (c.json) {
      print_json(report::to_json(a));
      return kOk;
    }
    if (!a.company) {
      out << printable(c.name) << ": no company in the map; grouped as " << printable(a.site) << "\n";
      return kOk;
    }
    out << printable(c.name) << ": " << a.company->name << " (" << a.company->id << ")"
        << (a.category.empty() ? "" : ", " + a.category) << ", matched " << printable(a.matched)
        << (a.tracker.empty() ? "" : " (tracker " + a.tracker + ")") << "\n";
    return kOk;
  }

  // --device or --group of an action.
  bool target(report::Target& t) {
    if (c.device.empty() == c.group.empty()) {
      err << "hush: give --device NAME|IP or --group GROUP\n";
      return false;
    }
    if (!c.group.empty()) {
      t.group = c.group;
      return true;
    }
    sqlite::Error e;
    auto log = ql::Reader::open(database_path(data_dir), false, e);
    if (!log) {
      err << "hush: " << e.message << "\n";
      return false;
    }
    int64_t id = one_device(*log, c.device);
    if (id) t.device_id = id;
    return id != 0;
  }

  std::string whom(const report::Target& t, const std::string& group) {
    return t.device_id ? "device " + c.device + " (group " + group + ")" : "group " + group;
  }

  int action() {
    const report::Company* company = map->find(c.company);
    if (!company) {
      err << "hush: no company '" << c.company << "' in the map (see hush report, or hush report who NAME)\n";
      return kUsage;
    }
    report::Target t;
    if (!target(t)) return kUsage;
    std::string error;
    if (*c.subscribe) {
      blocklists::subs::Settings s;
      s.max_bytes = cfg.subscriptions.max_bytes;
      s.shrink_limit = cfg.subscriptions.shrink_limit;
      s.interval_s = int64_t(cfg.subscriptions.interval_hours) * 3600;
      report::SubscribeResult r;
      error = report::subscribe_vendor(data_dir, s, *map, company->id, t, c.list, c.url, &r);
      if (!error.empty()) return fail(error);
      if (c.json) return print_json(report::to_json(r)), kOk;
      out << (r.created ? "subscribed " : "added ") << whom(t, r.group) << (r.created ? " to list " : " to list ")
          << r.list << (r.created ? "; hush downloads it within about two seconds when it runs (or: hush lists update " + r.list + ")" : "")
          << "\n";
      return kOk;
    }
    report::BlockResult r;
    bool block = bool(*c.block);
    error = block ? report::block_company(data_dir, *map, company->id, t, &r)
                  : report::unblock_company(data_dir, *map, company->id, t, &r);
    if (!error.empty()) return fail(error);
    if (c.json) return print_json(report::to_json(r)), kOk;
    out << (block ? "blocked " : "unblocked ") << company->name << " for " << whom(t, r.group) << ": "
        << r.patterns.size() << " entries";
    if (block && r.patterns.empty()) out << " (already blocked)";
    out << "\n";
    for (const std::string& p : r.patterns) out << "  " << p << "\n";
    return kOk;
  }

  int fail(const std::string& error) {
    err << "hush: " << error << "\n";
    return kFailed;
  }
};

}  // namespace

std::shared_ptr<ReportCommands> add_report_command(CLI::App& app) {
  auto c = std::make_shared<ReportCommands>();
  ReportCommands& k = *c;
  auto common = [&k](CLI::App* sub) {
    sub->add_option("-c,--config", k.config_file, "TOML configuration file (server.data_dir, report.overrides)")
        ->check(CLI::ExistingFile);
    sub->add_option("-d,--data-dir", k.data_dir, "hush's data directory (default ./hush-data)");
    sub->add_flag("--json", k.json, "print JSON (see docs/REPORT.md)");
  };
  k.report = app.add_subcommand("report", "which companies each device talks to");
  k.report->add_option("device", k.device, "one device: name, MAC or address (default: every device)");
  k.report->add_option("--since", k.since, "the last 24h, 7d, 30d... (default 7d; --new: 24h)");
  k.report->add_flag("--new", k.fresh, "first contacts with a company or a name");
  k.report->add_option("--company", k.company, "the devices that talk to this company (id, name or domain)");
  k.report->add_option("--names", k.names, "names shown per company (default 5)");
  common(k.report);
  k.who = k.report->add_subcommand("who", "which company a name belongs to");
  k.who->add_option("name", k.name, "a domain name")->required();
  common(k.who);
  auto action = [&](const char* name, const char* help) {
    CLI::App* sub = k.report->add_subcommand(name, help);
    sub->add_option("company", k.company, "company id or name (see hush report)")->required();
    sub->add_option("--device", k.device, "for this device only: name, MAC or address");
    sub->add_option("--group", k.group, "for every device of this group");
    common(sub);
    return sub;
  };
  k.block = action("block", "block a company's names for one device or a group");
  k.unblock = action("unblock", "undo hush report block");
  k.subscribe = action("subscribe", "subscribe a device or group to the catalog's list for a company");
  k.subscribe->add_option("--list", k.list, "this catalog list instead of the first that fits");
  k.subscribe->add_option("--url", k.url, "download the list from here instead (a mirror or file://)");
  return c;
}

bool report_command_chosen(const ReportCommands& c) { return bool(*c.report); }

int run_report_command(const ReportCommands& c, std::ostream& out, std::ostream& err) {
  Run x{c, out, err, {}, {}, {}};
  if (!x.load()) return kUsage;
  if (*c.who) return x.who();
  if ((*c.block || *c.unblock || *c.subscribe) && refused_on_replica(x.cfg.sync.primary, x.data_dir, err)) return kFailed;
  if (*c.block || *c.unblock || *c.subscribe) return x.action();
  if (c.fresh && !c.company.empty()) {
    err << "hush: --new and --company do not go together\n";
    return kUsage;
  }
  int64_t since;
  if (!x.since_time(c.fresh ? kDayUs : 7 * kDayUs, since)) return kUsage;
  auto r = x.open_report();
  if (!r) return kFailed;
  std::optional<int64_t> device;
  if (!c.device.empty()) {
    int64_t id = x.one_device(r->log(), c.device);
    if (!id) return kUsage;
    device = id;
  }
  if (!c.company.empty()) return x.company(*r, since);
  if (c.fresh) return x.fresh(*r, device, since);
  return device ? x.device_report(*r, *device, since) : x.overview(*r, since);
}

}  // namespace hush

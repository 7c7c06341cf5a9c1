#include "app/cli_schedules.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "app/cli_controls.hpp"
#include "app/cli_format.hpp"
#include "base/clock.hpp"
#include "base/printable.hpp"
#include "policy/controls.hpp"
#include "policy/schedules.hpp"
#include "report/actions.hpp"

namespace hush {

namespace {

using cli::kFailed, cli::kOk, cli::kUsage, cli::pad;
using nlohmann::json;

int fail(std::ostream& err, const std::string& why, int code) {
  err << "hush: " << why << "\n";
  return code;
}

std::string windows_text(const policy::Schedule& s) {
  std::string out;
  for (const policy::Window& w : s.windows)
    out += (out.empty() ? "" : "; ") + policy::days_text(w.days) + " " + policy::clock_text(w.from) + "-" +
           policy::clock_text(w.to);
  return out;
}

std::string what_text(const policy::Schedule& s) {
  if (s.off) return "blocking off";
  std::string out;
  auto add = [&out](const char* kind, const std::vector<std::string>& v) {
    for (const std::string& x : v) out += (out.empty() ? "block " : ", ") + std::string(kind) + x;
  };
  add("service ", s.services);
  add("list ", s.lists);
  add("company ", s.companies);
  add("", s.rules);
  return out;
}

std::shared_ptr<const report::CompanyMap> company_map(const Config& cfg) {
  std::vector<std::string> warnings;
  std::string overrides =
      cfg.report.overrides.empty() ? report::default_overrides_path(cfg.server.data_dir) : cfg.report.overrides;
  return report::CompanyMap::with_overrides(overrides, warnings);
}

int add(const ScheduleCommand& c, const Config& cfg, std::ostream& out, std::ostream& err) {
  policy::Schedule s;
  std::string why;
  uint8_t days = policy::parse_days(c.days, why);
  if (!days) return fail(err, why, kUsage);
  int from = policy::parse_clock(c.from, false), to = policy::parse_clock(c.to, true);
  if (from < 0 || to < 0) return fail(err, "--from and --to: a time like 21:00 or 07:30 (--to may be 24:00)", kUsage);
  s.windows.push_back({days, from, to});
  s.zone = c.zone;
  s.off = c.off;
  s.services = c.services;
  s.lists = c.lists;
  s.companies = c.companies;
  s.rules = c.rules;
  if (!s.companies.empty())
    if (why = report::schedule_companies(*company_map(cfg), s); !why.empty()) return fail(err, why, kUsage);
  // Checked before the device is looked up, so a mistake does not put it in a group.
  s.group = std::string(blocklists::kEveryGroup);
  if (why = policy::check_schedule(s); !why.empty()) return fail(err, why, kUsage);
  int code = kOk;
  if (why = resolve_whom(cfg, c.device, c.group, true, s.group, s.label, code); !why.empty())
    return fail(err, why, code);
  auto settings = cfg.subscription_settings();
  for (const std::string& service : s.services)
    if (why = policy::ensure_service_list(cfg.server.data_dir, settings, service); !why.empty())
      return fail(err, why, kUsage);
  std::error_code ec;
  std::filesystem::create_directories(cfg.server.data_dir, ec);  // a first use before any `hush serve`
  auto added = policy::ScheduleStore(cfg.server.data_dir).add(s, now_seconds(), why);
  if (!added) return fail(err, why, kUsage);
  out << "schedule " << added->id << ": " << what_text(*added) << " for " << printable(added->label) << ", "
      << windows_text(*added) << (added->zone.empty() ? "" : " (" + added->zone + ")") << "\n";
  return kOk;
}

int list(const ScheduleCommand& c, const Config& cfg, std::ostream& out, std::ostream& err) {
  std::string error;
  std::vector<policy::Schedule> all = cfg.schedules;
  for (policy::Schedule& s : policy::ScheduleStore(cfg.server.data_dir).all(&error)) all.push_back(std::move(s));
  if (!error.empty()) return fail(err, error, kFailed);
  int64_t now = now_seconds();
  if (c.json) {
    json j = json::array();
    for (const policy::Schedule& s : all) {
      json windows = json::array();
      for (const policy::Window& w : s.windows)
        windows.push_back({{"days", policy::days_text(w.days)}, {"from", policy::clock_text(w.from)},
                           {"to", policy::clock_text(w.to)}});
      policy::WindowState st = policy::window_state(s, now);
      j.push_back({{"id", s.id}, {"group", s.group}, {"label", s.label}, {"zone", s.zone}, {"windows", windows},
                   {"off", s.off}, {"services", s.services}, {"lists", s.lists}, {"companies", s.companies},
                   {"rules", s.rules}, {"active", st.in}, {"next_change", st.next_change},
                   {"source", s.source.empty() ? "schedules.json" : s.source}, {"read_only", !s.source.empty()}});
    }
    out << json{{"schedules", j}}.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kOk;
  }
  if (all.empty()) {
    out << "no schedules\n";
    return kOk;
  }
  out << pad("ID", 14) << pad("FOR", 20) << pad("WHEN", 38) << pad("WHAT", 34) << pad("NOW", 28) << "FROM\n";
  for (const policy::Schedule& s : all) {
    policy::WindowState st = policy::window_state(s, now);
    std::string state = std::string(st.in ? "on" : "off") +
                        (st.next_change ? " until " + cli::local_time(st.next_change * kSecondUs, false) : "");
    out << pad(s.id, 14) << pad(printable(s.label), 20)
        << pad(windows_text(s) + (s.zone.empty() ? "" : " " + s.zone), 38) << pad(printable(what_text(s)), 34)
        << pad(state, 28) << (s.source.empty() ? "hush schedule / dashboard" : s.source) << "\n";
  }
  return kOk;
}

}  // namespace

bool check_config_schedules(Config& cfg, std::vector<std::string>& errors) {
  size_t before = errors.size();
  std::shared_ptr<const report::CompanyMap> map;
  for (policy::Schedule& s : cfg.schedules) {
    if (s.companies.empty()) continue;
    if (!map) map = company_map(cfg);
    if (std::string why = report::schedule_companies(*map, s); !why.empty())
      errors.push_back(s.source + ": schedule '" + s.id + "': " + why);
  }
  return errors.size() == before && policy::check_config_schedules(cfg.schedules, errors);
}

void find_schedule_devices(Config& cfg, bool join, std::vector<std::string>& warnings) {
  for (policy::Schedule& s : cfg.schedules) {
    // A telemetry preset's catalog list is subscribed as `hush schedule add` does.
    if (join)
      for (const std::string& service : s.services)
        if (std::string why = policy::ensure_service_list(cfg.server.data_dir, cfg.subscription_settings(), service);
            !why.empty())
          warnings.push_back(s.source + ": schedule '" + s.id + "': " + why);
    if (s.device.empty()) continue;
    std::string group, label;
    int code = kOk;
    std::string why = resolve_whom(cfg, s.device, "", join, group, label, code);
    if (why.empty()) {
      s.group = group;
      s.label = label;
    } else {
      s.group.clear();
      warnings.push_back(s.source + ": schedule '" + s.id + "': " + why + "; it waits for the next reload");
    }
  }
}

bool ready_config_schedules(Config& cfg, bool join, std::vector<std::string>& errors,
                            std::vector<std::string>& warnings) {
  if (!check_config_schedules(cfg, errors)) return false;
  find_schedule_devices(cfg, join, warnings);
  return true;
}

bool ScheduleCommand::ran() const {
  for (CLI::App* a : with_data_dir())
    if (*a) return true;
  return false;
}

std::vector<CLI::App*> ScheduleCommand::with_data_dir() const { return {add, ls, rm}; }

void add_schedule_commands(CLI::App& app, ScheduleCommand& cmd) {
  auto* schedule = app.add_subcommand("schedule", "block services, lists or names, or pause blocking, at set times each week");
  schedule->require_subcommand(1);
  cmd.add = schedule->add_subcommand("add", "add a schedule: one weekly window and what it does");
  cmd.add->add_option("--device", cmd.device, "for this device only: name, MAC or address");
  cmd.add->add_option("--group", cmd.group, "for every device of this group (default: everyone)");
  cmd.add->add_option("--days", cmd.days, "mon-fri, sat,sun, mon,wed-fri, daily, weekdays or weekends")->required();
  cmd.add->add_option("--from", cmd.from, "start, local wall-clock time: 21:00")->required();
  cmd.add->add_option("--to", cmd.to, "end: 07:00 (at or before --from: the next day)")->required();
  cmd.add->add_option("--zone", cmd.zone, "time zone, e.g. Europe/Berlin (default: the system's)");
  cmd.add->add_option("--block-service", cmd.services, "a service preset (hush services ls); repeatable");
  cmd.add->add_option("--block-list", cmd.lists, "a configured or subscribed list, by name; repeatable");
  cmd.add->add_option("--block-company", cmd.companies, "a company of the phone-home report; repeatable");
  cmd.add->add_option("--block", cmd.rules, "a rule: ||example.com^ or /regex/; repeatable");
  cmd.add->add_flag("--off", cmd.off, "turn blocking off during the window instead");
  cmd.ls = schedule->add_subcommand("ls", "list the schedules and whether each is on now");
  cmd.ls->add_flag("--json", cmd.json, "print JSON");
  cmd.rm = schedule->add_subcommand("rm", "remove a schedule");
  cmd.rm->add_option("id", cmd.id, "its id (hush schedule ls)")->required();
}

int run_schedule_command(const ScheduleCommand& c, const Config& cfg, std::ostream& out, std::ostream& err) {
  if (*c.add) return add(c, cfg, out, err);
  if (*c.ls) return list(c, cfg, out, err);
  std::string error = policy::refuse_removal(cfg.schedules, c.id);
  if (!error.empty()) return fail(err, error, kUsage);
  if (!policy::ScheduleStore(cfg.server.data_dir).remove(c.id, error)) return fail(err, error, kUsage);
  out << "removed schedule " << c.id << "\n";
  return kOk;
}

}  // namespace hush

#include "policy/schedules.hpp"

#include <absl/time/civil_time.h>
#include <absl/time/time.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "base/file.hpp"
#include "base/file_lock.hpp"
#include "base/random_hex.hpp"
#include "clients/groups.hpp"
#include "policy/controls.hpp"
#include "policy/services.hpp"

namespace hush::policy {

namespace {

using json = nlohmann::json;

bool load_zone(const std::string& zone, absl::TimeZone& tz) {
  if (zone.empty()) {
    tz = absl::LocalTimeZone();
    return true;
  }
  // Names only, never a path: the library reads the file below TZDIR.
  if (zone.size() > 64 || zone.find("..") != std::string::npos || zone.front() == '/') return false;
  for (char c : zone)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' && c != '+') return false;
  return absl::LoadTimeZone(zone, &tz);
}

// The instant a wall-clock minute of `day` stands for in `tz` (see the
// header for skipped and repeated times).
int64_t instant(absl::CivilDay day, int minutes, const absl::TimeZone& tz) {
  absl::TimeZone::TimeInfo ti = tz.At(absl::CivilSecond(absl::CivilMinute(day) + minutes));
  return absl::ToUnixSeconds(ti.kind == absl::TimeZone::TimeInfo::SKIPPED ? ti.trans : ti.pre);
}

int weekday_index(absl::CivilDay d) {
  switch (absl::GetWeekday(d)) {
    case absl::Weekday::monday: return 0;
    case absl::Weekday::tuesday: return 1;
    case absl::Weekday::wednesday: return 2;
    case absl::Weekday::thursday: return 3;
    case absl::Weekday::friday: return 4;
    case absl::Weekday::saturday: return 5;
    case absl::Weekday::sunday: return 6;
  }
  return 0;
}

json schedule_json(const Schedule& s) {
  json windows = json::array();
  for (const Window& w : s.windows)
    windows.push_back({{"days", days_text(w.days)}, {"from", clock_text(w.from)}, {"to", clock_text(w.to)}});
  return {{"id", s.id},           {"group", s.group},         {"label", s.label},
          {"zone", s.zone},       {"windows", windows},       {"off", s.off},
          {"lists", s.lists},     {"services", s.services},   {"companies", s.companies},
          {"company_rules", s.company_rules}, {"rules", s.rules}, {"added", s.added}};
}

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  for (const json& x : j.value(key, json::array()))
    if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}

std::vector<Schedule> read_schedules(const std::string& path, std::string* error) {
  std::vector<Schedule> out;
  std::ifstream in(path);
  if (!in) return out;
  try {
    json j = json::parse(in);
    for (const json& x : j.value("schedules", json::array())) {
      Schedule s;
      s.id = x.value("id", "");
      s.group = x.value("group", "");
      s.label = x.value("label", "");
      s.zone = x.value("zone", "");
      s.off = x.value("off", false);
      s.lists = strings(x, "lists");
      s.services = strings(x, "services");
      s.companies = strings(x, "companies");
      s.company_rules = strings(x, "company_rules");
      s.rules = strings(x, "rules");
      s.added = x.value("added", int64_t(0));
      std::string why;
      for (const json& w : x.value("windows", json::array())) {
        Window win{parse_days(w.value("days", ""), why), parse_clock(w.value("from", ""), false),
                   parse_clock(w.value("to", ""), true)};
        if (win.days && win.from >= 0 && win.to >= 0) s.windows.push_back(win);
      }
      if (!s.id.empty() && !s.group.empty()) out.push_back(std::move(s));
    }
  } catch (const std::exception& e) {
    if (error) *error = path + ": " + e.what();
  }
  return out;
}

std::string save_schedules(const std::string& path, const std::vector<Schedule>& all) {
  json j;
  j["schedules"] = json::array();
  for (const Schedule& s : all) j["schedules"].push_back(schedule_json(s));
  return write_file_atomic(path, {j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"});
}

// A deny rule as rules.json takes it; the policy builder checks regexes.
std::string check_rule(const std::string& rule) {
  if (rule.empty() || rule.size() > 1024) return "a rule has 1 to 1024 characters";
  for (char c : rule)
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f) return "a rule has no spaces or control characters";
  return "";
}

void dedupe(std::vector<std::string>& v) {
  std::vector<std::string> seen;
  for (std::string& x : v)
    if (std::find(seen.begin(), seen.end(), x) == seen.end()) seen.push_back(std::move(x));
  v = std::move(seen);
}

}  // namespace

bool known_zone(const std::string& zone) {
  absl::TimeZone tz;
  return load_zone(zone, tz);
}

WindowState window_state(const Schedule& s, int64_t now) {
  WindowState st;
  absl::TimeZone tz;
  if (!load_zone(s.zone, tz)) return st;  // checked when stored; a zone gone since never opens
  absl::CivilDay today = absl::ToCivilDay(absl::FromUnixSeconds(now), tz);
  // Every window met from yesterday (one may reach over midnight into
  // today) to a week ahead, merged, so that two windows that meet (21:00 to
  // 24:00, then 00:00 to 07:00) make one stretch without an edge between.
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (int k = -1; k <= 8; ++k) {
    absl::CivilDay d = today + k;
    for (const Window& w : s.windows) {
      if (!(w.days & (1u << weekday_index(d)))) continue;
      int64_t begin = instant(d, w.from, tz);
      int64_t end = instant(w.to > w.from ? d : d + 1, w.to, tz);
      if (begin < end) spans.emplace_back(begin, end);  // else swallowed whole by a skipped hour
    }
  }
  std::sort(spans.begin(), spans.end());
  std::vector<std::pair<int64_t, int64_t>> merged;
  for (const auto& sp : spans)
    if (!merged.empty() && sp.first <= merged.back().second) merged.back().second = std::max(merged.back().second, sp.second);
    else merged.push_back(sp);
  for (const auto& sp : merged) {
    if (sp.first <= now && now < sp.second) {
      st.in = true;
      st.next_change = sp.second;
      return st;
    }
    if (sp.first > now) {
      st.next_change = sp.first;
      return st;
    }
  }
  return st;
}

std::string check_schedule(Schedule& s) {
  if (s.group != blocklists::kEveryGroup && !clients::valid_group(s.group))
    return "group names are 1 to 32 of a-z, 0-9, _ and -";
  if (s.label.size() > 200) s.label.resize(200);
  if (!known_zone(s.zone)) return "no time zone '" + s.zone + "' (a name like Europe/Berlin)";
  if (s.windows.empty()) return "give at least one window (days, from and to)";
  if (s.windows.size() > kMaxWindows) return "at most " + std::to_string(kMaxWindows) + " windows in a schedule";
  for (const Window& w : s.windows) {
    if (!w.days || w.days > 0x7f) return "a window needs days";
    if (w.from < 0 || w.from > 1439 || w.to < 1 || w.to > 1440) return "from is 00:00 to 23:59 and to 00:01 to 24:00";
    if (w.from == w.to) return "a window's from and to differ (for a whole day, 00:00 to 24:00)";
  }
  if (s.off && (s.lists.size() + s.services.size() + s.companies.size() + s.rules.size()))
    return "a schedule either turns blocking off or turns things on, not both";
  dedupe(s.lists);
  dedupe(s.services);
  dedupe(s.companies);
  dedupe(s.rules);
  size_t items = s.lists.size() + s.services.size() + s.companies.size() + s.rules.size();
  if (!s.off && items == 0) return "say what the schedule does: lists, services, companies, rules, or blocking off";
  if (items > kMaxScheduleItems) return "at most " + std::to_string(kMaxScheduleItems) + " lists, services, companies and rules in a schedule";
  if (s.company_rules.size() > kMaxCompanyRules)
    return "the companies stand for more than " + std::to_string(kMaxCompanyRules) + " names";
  if (!s.companies.empty() && s.company_rules.empty()) return "the companies have no names to block";
  for (std::string& id : s.services) {
    const Service* svc = find_service(id);
    if (!svc) return "no service '" + id + "' (hush services ls)";
    id = svc->id;
  }
  for (const std::string& l : s.lists)
    if (l.empty() || l.size() > 128) return "a list name has 1 to 128 characters";
  for (const std::string& r : s.rules)
    if (std::string why = check_rule(r); !why.empty()) return why;
  for (const std::string& r : s.company_rules)
    if (std::string why = check_rule(r); !why.empty()) return why;
  return "";
}

bool check_config_schedules(std::vector<Schedule>& schedules, std::vector<std::string>& errors) {
  size_t before = errors.size();
  if (schedules.size() > kMaxSchedules)
    errors.push_back("schedule: at most " + std::to_string(kMaxSchedules) + " [[schedule]] tables");
  for (size_t i = 0; i < schedules.size(); ++i) {
    Schedule& s = schedules[i];
    std::string where = s.source + ": schedule '" + s.id + "': ";
    if (!clients::valid_group(s.id)) errors.push_back(where + "a name is 1 to 32 of a-z, 0-9, _ and -");
    for (size_t j = 0; j < i; ++j)
      if (schedules[j].id == s.id) errors.push_back(where + "the name is taken by the one at " + schedules[j].source);
    // A device's group is found when the server reads the file (none yet: "").
    std::string group = s.group;
    if (group.empty()) s.group = std::string(blocklists::kEveryGroup);
    std::string why = check_schedule(s);
    s.group = group;
    if (!why.empty()) errors.push_back(where + why);
  }
  return errors.size() == before;
}

std::string refuse_removal(const std::vector<Schedule>& from_file, const std::string& id) {
  for (const Schedule& s : from_file)
    if (s.id == id)
      return "schedule '" + id + "' is written in the configuration file (" + s.source +
             "); remove its [[schedule]] table there and reload (SIGHUP)";
  return "";
}

ScheduleStore::ScheduleStore(const std::string& data_dir) : path_(data_dir + "/schedules.json") {}

std::vector<Schedule> ScheduleStore::all(std::string* error) {
  std::lock_guard lock(mu_);
  return read_schedules(path_, error);
}

std::optional<Schedule> ScheduleStore::add(Schedule s, int64_t now, std::string& error) {
  if (error = check_schedule(s); !error.empty()) return std::nullopt;
  std::lock_guard lock(mu_);
  // The dashboard and the CLI (another process) both write here.
  FileLock file_lock(path_);
  std::string read_error;
  std::vector<Schedule> all = read_schedules(path_, &read_error);
  if (!read_error.empty()) {
    error = read_error;
    return std::nullopt;
  }
  if (all.size() >= kMaxSchedules) {
    error = "at most " + std::to_string(kMaxSchedules) + " schedules; remove some first";
    return std::nullopt;
  }
  s.id = random_hex(6);
  s.added = now;
  all.push_back(s);
  if (error = save_schedules(path_, all); !error.empty()) return std::nullopt;
  return s;
}

bool ScheduleStore::remove(const std::string& id, std::string& error) {
  std::lock_guard lock(mu_);
  FileLock file_lock(path_);
  error.clear();
  std::vector<Schedule> all = read_schedules(path_, &error);
  if (!error.empty()) return false;
  auto it = std::find_if(all.begin(), all.end(), [&](const Schedule& s) { return s.id == id; });
  if (it == all.end()) {
    error = "no schedule " + id;
    return false;
  }
  all.erase(it);
  error = save_schedules(path_, all);
  return error.empty();
}

int64_t apply_schedules(const std::vector<Schedule>& schedules, int64_t now, blocklists::PolicyConfig& pc,
                        std::vector<std::string>& errors) {
  int64_t next = 0;
  std::vector<Control> services;
  for (const Schedule& s : schedules) {
    WindowState st = window_state(s, now);
    if (st.next_change && (next == 0 || st.next_change < next)) next = st.next_change;
    if (!st.in) continue;
    if (s.off) pc.paused.push_back(s.group);
    for (const std::string& name : s.lists) {
      auto list = std::find_if(pc.lists.begin(), pc.lists.end(),
                               [&](const blocklists::ListSource& l) { return l.name == name; });
      if (list == pc.lists.end()) errors.push_back("schedule " + s.id + ": no list " + name);
      else list->groups.push_back(s.group);
    }
    for (const std::vector<std::string>* rules : {&s.rules, &s.company_rules})
      for (const std::string& r : *rules) pc.deny.push_back({r, {s.group}});
    for (const std::string& id : s.services) {
      Control c;
      c.kind = "service";
      c.target = id;
      c.group = s.group;
      services.push_back(std::move(c));
    }
  }
  // A preset means the same in a schedule as in `hush services block`.
  apply_controls(services, pc, errors);
  return next;
}

}  // namespace hush::policy

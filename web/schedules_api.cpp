#include "web/schedules_api.hpp"

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "base/log.hpp"
#include "policy/controls.hpp"
#include "policy/schedules.hpp"
#include "report/actions.hpp"
#include "web/controls_api.hpp"
#include "web/json_api.hpp"

namespace hush::web {

namespace {

using json = nlohmann::json;

json schedule_json(const policy::Schedule& s, int64_t now) {
  json windows = json::array();
  for (const policy::Window& w : s.windows)
    windows.push_back({{"days", policy::days_text(w.days)}, {"from", policy::clock_text(w.from)},
                       {"to", policy::clock_text(w.to)}});
  policy::WindowState st = policy::window_state(s, now);
  return {{"id", s.id},         {"group", s.group},       {"label", s.label},       {"zone", s.zone},
          {"windows", windows}, {"off", s.off},           {"services", s.services}, {"lists", s.lists},
          {"companies", s.companies}, {"rules", s.rules}, {"added", s.added},       {"active", st.in},
          {"next_change", st.next_change}, {"source", s.source.empty() ? "schedules.json" : s.source},
          {"read_only", !s.source.empty()}};
}

// Field `key`, an array of strings (absent: none).
std::vector<std::string> string_list(const json& body, const char* key) {
  std::vector<std::string> out;
  if (!body.contains(key) || body[key].is_null()) return out;
  const json& v = body[key];
  if (!v.is_array() || v.size() > policy::kMaxScheduleItems)
    throw HttpError{400, std::string(key) + ": expected an array of at most 64 strings"};
  for (const json& x : v) {
    if (!x.is_string()) throw HttpError{400, std::string(key) + ": expected strings"};
    out.push_back(x.get<std::string>());
  }
  return out;
}

policy::Window window(const json& w) {
  if (!w.is_object()) throw HttpError{400, "windows: expected objects {days, from, to}"};
  std::string days;
  if (w.contains("days") && w["days"].is_array()) {
    for (const json& d : w["days"]) {
      if (!d.is_string()) throw HttpError{400, "days: expected day names"};
      days += (days.empty() ? "" : ",") + d.get<std::string>();
    }
  } else {
    days = string_field(w, "days");
  }
  std::string why;
  policy::Window out{policy::parse_days(days, why), policy::parse_clock(string_field(w, "from"), false),
                     policy::parse_clock(string_field(w, "to"), true)};
  if (!out.days) throw HttpError{400, why};
  if (out.from < 0 || out.to < 0) throw HttpError{400, "from and to: a time like 21:00 (to may be 24:00)"};
  return out;
}

struct SchedulesApi {
  SchedulesApi(const Runtime& r, Config c) : rt(r), cfg(std::move(c)) {}
  const Runtime& rt;
  Config cfg;
  policy::ScheduleStore store{cfg.server.data_dir};

  bool apply() { return rt.request_policy_rebuild(std::chrono::seconds(30)); }

  Response list(const Request& r) {
    int64_t now = now_seconds();
    std::string error, group = r.param("group");
    json out = json::array();
    std::vector<policy::Schedule> all = rt.config_schedules();
    for (policy::Schedule& s : store.all(&error)) all.push_back(std::move(s));
    for (const policy::Schedule& s : all)
      if (group.empty() || s.group == group) out.push_back(schedule_json(s, now));
    if (!error.empty()) return error_response(500, error);
    return json_response(200, json{{"schedules", out}, {"now", now}});
  }

  Response add(const Request& r) {
    json body = parse_body(r);
    policy::Schedule s;
    s.zone = string_field(body, "zone");
    if (!body.contains("windows") || !body["windows"].is_array() || body["windows"].size() > policy::kMaxWindows)
      throw HttpError{400, "windows: expected an array of 1 to 28 windows"};
    for (const json& w : body["windows"]) s.windows.push_back(window(w));
    if (body.contains("off") && !body["off"].is_boolean()) throw HttpError{400, "off: expected true or false"};
    s.off = body.value("off", false);
    s.services = string_list(body, "services");
    s.lists = string_list(body, "lists");
    s.companies = string_list(body, "companies");
    s.rules = string_list(body, "rules");
    if (!s.companies.empty()) {
      std::vector<std::string> warnings;
      std::string overrides =
          cfg.report.overrides.empty() ? report::default_overrides_path(cfg.server.data_dir) : cfg.report.overrides;
      if (std::string why = report::schedule_companies(*report::CompanyMap::with_overrides(overrides, warnings), s);
          !why.empty())
        return error_response(400, why);
    }
    // Checked before the device is looked up, so a mistake does not put it in a group.
    s.group = std::string(blocklists::kEveryGroup);
    if (std::string why = policy::check_schedule(s); !why.empty()) return error_response(400, why);
    request_target(body, cfg.server.data_dir, s.group, s.label);
    for (const std::string& service : s.services)
      if (std::string why = policy::ensure_service_list(cfg.server.data_dir, cfg.subscription_settings(), service);
          !why.empty())
        return error_response(400, why);
    int64_t now = now_seconds();
    std::string error;
    auto added = store.add(s, now, error);
    if (!added) return error_response(400, error);
    log::info("dashboard: schedule ", added->id, " for ", added->label);
    json j = schedule_json(*added, now);
    j["applied"] = apply();
    return json_response(201, j);
  }

  Response remove(const Request& r) {
    std::string error = policy::refuse_removal(rt.config_schedules(), r.matches.at(1));
    if (!error.empty()) return error_response(409, error);
    if (!store.remove(r.matches.at(1), error)) return error_response(404, error);
    return json_response(200, json{{"ok", true}, {"applied", apply()}});
  }
};

}  // namespace

void install_schedules_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard) {
  auto api = std::make_shared<SchedulesApi>(rt, cfg);
  s.get("/api/schedules", guard(false, [api](const Request& r) { return api->list(r); }));
  s.post("/api/schedules", guard(true, [api](const Request& r) { return api->add(r); }));
  s.del("/api/schedules/([0-9a-z_-]{1,32})", guard(true, [api](const Request& r) { return api->remove(r); }));
}

}  // namespace hush::web

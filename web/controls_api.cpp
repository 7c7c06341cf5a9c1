#include "web/controls_api.hpp"

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "base/log.hpp"
#include "clients/groups.hpp"
#include "policy/controls.hpp"
#include "policy/services.hpp"
#include "querylog/reader.hpp"
#include "web/json_api.hpp"
#include "hush/blocklists/data_dir.h"

namespace hush::web {

namespace {

using json = nlohmann::json;

json control_json(const policy::Control& c, int64_t now) {
  return {{"id", c.id},       {"kind", c.kind},     {"target", c.target},
          {"group", c.group}, {"label", c.label},   {"until", c.until},
          {"added", c.added}, {"seconds_left", c.until ? c.until - now : 0}};
}

struct ControlsApi {
  ControlsApi(const Runtime& r, Config c) : rt(r), cfg(std::move(c)) {}
  const Runtime& rt;
  Config cfg;
  policy::ControlsStore store{cfg.server.data_dir};

  bool apply() { return rt.request_policy_rebuild(std::chrono::seconds(30)); }

  void target(const json& body, policy::Control& c) { request_target(body, cfg.server.data_dir, c.group, c.label); }

  Response list(const Request& r) {
    int64_t now = now_seconds();
    std::string error;
    std::string group = r.param("group");
    json out = json::array();
    for (const policy::Control& c : store.active(now, &error))
      if (group.empty() || c.group == group) out.push_back(control_json(c, now));
    if (!error.empty()) return error_response(500, error);
    return json_response(200, json{{"controls", out}, {"now", now}});
  }

  Response add(const Request& r) {
    json body = parse_body(r);
    policy::Control c;
    c.kind = string_field(body, "kind");
    c.target = string_field(body, "target");
    int64_t seconds = 0;
    if (body.contains("seconds") && !body["seconds"].is_null()) {
      if (!body["seconds"].is_number_integer() || body["seconds"].get<int64_t>() < 0 ||
          body["seconds"].get<int64_t>() > policy::kMaxControlSeconds)
        throw HttpError{400, "seconds: expected an integer from 1 to 604800"};
      seconds = body["seconds"].get<int64_t>();
    }
    int64_t now = now_seconds();
    c.until = seconds ? now + seconds : 0;
    if (c.kind == "service" && !policy::find_service(c.target))
      return error_response(400, "no service '" + c.target + "'");
    target(body, c);
    if (c.kind == "service") {
      if (std::string why = policy::ensure_service_list(cfg.server.data_dir, cfg.subscription_settings(), c.target);
          !why.empty())
        return error_response(400, why);
    }
    std::string error;
    auto added = store.add(c, now, error);
    if (!added) return error_response(400, error);
    log::info("dashboard: ", added->kind, " ", added->target, " for ", added->label,
              added->until ? " for " + std::to_string(seconds) + " s" : "");
    json j = control_json(*added, now);
    j["applied"] = apply();
    return json_response(201, j);
  }

  Response remove(const Request& r) {
    std::string error;
    if (!store.remove(r.matches.at(1), now_seconds(), error)) return error_response(404, error);
    return json_response(200, json{{"ok", true}, {"applied", apply()}});
  }

  Response services(const Request& r) {
    int64_t now = now_seconds();
    std::string error, group = r.param("group");
    auto active = store.active(now, &error);
    json out = json::array();
    for (const policy::Service& s : policy::services()) {
      json blocked = json::array();
      for (const policy::Control& c : active)
        if (c.kind == "service" && c.target == s.id && (group.empty() || c.group == group))
          blocked.push_back(control_json(c, now));
      out.push_back({{"id", s.id}, {"name", s.name}, {"rules", s.rules}, {"catalog", s.catalog}, {"blocked", blocked}});
    }
    if (!error.empty()) return error_response(500, error);
    return json_response(200, json{{"services", out}});
  }
};

}  // namespace

void request_target(const json& body, const std::string& data_dir, std::string& group, std::string& label) {
  bool device = body.contains("device") && !body["device"].is_null();
  std::string named = string_field(body, "group");
  if (device && !named.empty()) throw HttpError{400, "give device or group, not both"};
  if (!named.empty()) {
    if (!clients::valid_group(named)) throw HttpError{400, "group: 1 to 32 of a-z, 0-9, _ and -"};
    group = named;
    label = "group " + named;
    return;
  }
  if (!device) {
    group = std::string(blocklists::kEveryGroup);
    label = "everyone";
    return;
  }
  if (!body["device"].is_number_integer() || body["device"].get<int64_t>() < 1)
    throw HttpError{400, "device: expected a device id"};
  int64_t id = body["device"].get<int64_t>();
  sqlite::Error e;
  auto log = querylog::Reader::open(database_path(data_dir), false, e);
  if (!log) throw HttpError{503, "the query log is not available: " + e.message};
  auto d = log->device(id, 0, e);
  if (!d) throw HttpError{404, "no such device"};
  if (std::string why = policy::join_device_group(data_dir, id); !why.empty()) throw HttpError{500, why};
  group = policy::device_group(id);
  label = d->name;
}

void install_controls_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard) {
  auto api = std::make_shared<ControlsApi>(rt, cfg);
  s.get("/api/controls", guard(false, [api](const Request& r) { return api->list(r); }));
  s.post("/api/controls", guard(true, [api](const Request& r) { return api->add(r); }));
  s.del("/api/controls/([0-9a-f]{1,32})", guard(true, [api](const Request& r) { return api->remove(r); }));
  s.get("/api/services", guard(false, [api](const Request& r) { return api->services(r); }));
}

}  // namespace hush::web

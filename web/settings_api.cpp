#include "web/settings_api.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "base/file.hpp"
#include "base/log.hpp"
#include "config/edit.hpp"
#include "local/load.hpp"
#include "web/json_api.hpp"
#include "hush/blocklists/subscriptions/subscriptions.h"

namespace hush::web {

namespace {

using json = nlohmann::json;

// The keys the dashboard edits, and how each reads from a Config.
struct Setting {
  const char* key;
  std::function<json(const Config&)> get;
};

const std::vector<Setting>& editable() {
  using C = const Config&;
  static const std::vector<Setting> table = {
      {"upstream.servers", [](C c) { return json(c.upstream.servers); }},
      {"upstream.timeout_ms", [](C c) { return json(c.upstream.timeout_ms); }},
      {"blocking.mode", [](C c) { return json(c.blocking.mode); }},
      {"blocking.ipv4", [](C c) { return json(c.blocking.ipv4); }},
      {"blocking.ipv6", [](C c) { return json(c.blocking.ipv6); }},
      {"blocking.ttl", [](C c) { return json(c.blocking.ttl); }},
      {"blocking.special_names", [](C c) { return json(c.blocking.special_names); }},
      {"blocking.cname_inspection", [](C c) { return json(c.blocking.cname_inspection); }},
      {"cache.max_entries", [](C c) { return json(c.cache.max_entries); }},
      {"querylog.retention_days", [](C c) { return json(c.querylog.retention_days); }},
      {"querylog.anonymous", [](C c) { return json(c.querylog.anonymous); }},
      {"querylog.ignore_clients", [](C c) { return json(c.querylog.ignore_clients); }},
      {"querylog.ignore_domains", [](C c) { return json(c.querylog.ignore_domains); }},
      {"access.allow", [](C c) { return json(c.access.allow); }},
      {"access.rate_limit", [](C c) { return json(c.access.rate_limit); }},
      {"access.rate_window_s", [](C c) { return json(c.access.rate_window_s); }},
      {"local.domain", [](C c) { return json(c.local.domain); }},
  };
  return table;
}

const Setting* find_setting(const std::string& key) {
  for (const Setting& s : editable())
    if (key == s.key) return &s;
  return nullptr;
}

// A JSON value as TOML text; only what the keys above take.
std::string toml_value(const std::string& key, const json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_string()) return toml_string(v.get<std::string>());
  if (v.is_array()) {
    std::string out = "[";
    for (const json& e : v) {
      if (!e.is_string()) throw HttpError{400, key + ": expected an array of strings"};
      out += (out.size() > 1 ? ", " : "") + toml_string(e.get<std::string>());
    }
    return out + "]";
  }
  throw HttpError{400, key + ": expected true/false, an integer, a string or an array of strings"};
}

// The file's configuration, as `hush check` reads it: problems in `errors`.
Config check_text(const std::string& text, const std::string& file, std::vector<std::string>& errors) {
  Config c;
  if (load_config_text(text, file, c, errors) && resolve(c, errors)) check_upstream_loops(c, errors);
  c.file = file;
  return c;
}

struct SettingsApi {
  SettingsApi(const Runtime& r, Config c) : rt(r), cfg(std::move(c)) {
    if (!cfg.file.empty()) at_start = read_file(cfg.file).value_or("");
    records_at = cfg.local;
  }
  const Runtime& rt;
  Config cfg;                // as the server started (flags included)
  std::string at_start;      // the file's text when the server started
  local::Settings records_at;  // where the local records are (local.records_file)
  std::mutex mu;             // one edit at a time from this process (the lock covers others)

  void need_file() const {
    if (cfg.file.empty())
      throw HttpError{409, "hush was started without a configuration file (--config FILE): there is no file to "
                           "save settings in"};
  }

  // Keys whose value in the file differs from the file hush started with
  // and that SIGHUP cannot change: they wait for a restart.
  std::vector<std::string> pending_restart(const std::string& now) {
    std::vector<std::string> ignored, out;
    Config then = check_text(at_start, cfg.file, ignored), current = check_text(now, cfg.file, ignored);
    for (const KeyChange& k : differing_keys(then, current))
      if (!k.live) out.push_back(k.name);
    return out;
  }

  json restart_json() const {
    std::string why;
    bool possible = rt.can_restart(why);
    return json{{"possible", possible}, {"why", possible ? "" : why}};
  }

  Response get() {
    std::string text = cfg.file.empty() ? "" : read_file(cfg.file).value_or("");
    std::vector<std::string> errors;
    Config file_cfg = check_text(text, cfg.file.empty() ? "(none)" : cfg.file, errors);
    std::vector<std::string> ignored;
    Config start_file = check_text(at_start, cfg.file, ignored);
    std::set<std::string> from_flags;
    for (const KeyChange& k : differing_keys(start_file, cfg)) from_flags.insert(k.name);
    json settings = json::object();
    for (const Setting& s : editable())
      settings[s.key] = {{"value", s.get(cfg.file.empty() ? cfg : file_cfg)},
                         {"live", key_is_live(s.key).value_or(false)},
                         {"from_flags", !cfg.file.empty() && from_flags.count(s.key) > 0}};
    return json_response(200, json{{"file", cfg.file},
                                   {"writable", !cfg.file.empty() && ::access(cfg.file.c_str(), W_OK) == 0},
                                   {"settings", settings},
                                   {"problems", errors},
                                   {"pending_restart", cfg.file.empty() ? json::array() : json(pending_restart(text))},
                                   {"restart", restart_json()}});
  }

  // Edits, checks and writes the file (config/edit.hpp); the changed keys,
  // or throws with the check's messages.
  std::vector<KeyChange> write_with(const std::function<std::vector<ConfigEdit>(const std::string&)>& make) {
    need_file();
    std::lock_guard guard(mu);
    std::vector<KeyChange> changed;
    std::vector<std::string> errors;
    if (!edit_config_file(cfg.file, make, changed, errors)) {
      std::string all;
      for (const std::string& e : errors) all += (all.empty() ? "" : "\n") + e;
      throw HttpError{400, all};
    }
    return changed;
  }

  // After a write: live keys through a reload, the rest waits for a restart.
  Response applied(const std::vector<KeyChange>& changed) {
    json live = json::array(), restart = json::array();
    for (const KeyChange& k : changed) (k.live ? live : restart).push_back(k.name);
    bool reloaded = true;
    if (!live.empty()) reloaded = rt.request_reload(std::chrono::seconds(30));
    std::string now = read_file(cfg.file).value_or("");
    log::info("dashboard: configuration saved (", changed.size(), " keys changed)");
    return json_response(200, json{{"saved", true},
                                   {"applied_live", live},
                                   {"applied", reloaded},
                                   {"needs_restart", restart},
                                   {"pending_restart", pending_restart(now)},
                                   {"restart", restart_json()}});
  }

  Response put(const Request& r) {
    json body = parse_body(r);
    if (!body.contains("changes") || !body["changes"].is_object() || body["changes"].empty())
      throw HttpError{400, "changes: expected an object of key: value"};
    if (body["changes"].size() > editable().size()) throw HttpError{400, "changes: too many keys"};
    std::vector<ConfigEdit> edits;
    for (auto& [key, value] : body["changes"].items()) {
      if (!find_setting(key)) throw HttpError{400, key + ": not a setting the dashboard changes"};
      edits.emplace_back(key, value.is_null() ? std::nullopt : std::optional<std::string>(toml_value(key, value)));
    }
    return applied(write_with([&edits](const std::string&) { return edits; }));
  }

  Response test_upstream(const Request& r) {
    json body = parse_body(r);
    std::string server = string_field(body, "server");
    std::string name = string_field(body, "name", "example.com");
    if (server.empty() || server.size() > 300) throw HttpError{400, "server: an upstream as upstream.servers takes it"};
    if (name.empty() || name.size() > 253) throw HttpError{400, "name: a domain name"};
    Runtime::Probe p = rt.probe_upstream(server, name, std::chrono::milliseconds(cfg.upstream.timeout_ms + 1500));
    return json_response(200, json{{"ok", p.ok},
                                   {"server", server},
                                   {"name", name},
                                   {"rcode", p.rcode},
                                   {"answers", p.answers},
                                   {"latency_ms", p.latency_ms},
                                   {"error", p.error}});
  }

  // The lists that can be switched on and off: [[lists]] and --blocklist,
  // and the subscriptions.
  Response switches() {
    std::string text = cfg.file.empty() ? "" : read_file(cfg.file).value_or("");
    std::vector<std::string> off = config_strings(text, "blocking.disabled_lists");
    if (cfg.file.empty()) off = cfg.blocking.disabled_lists;
    std::vector<std::string> ignored;
    Config file_cfg = check_text(text, cfg.file, ignored);
    json out = json::array();
    std::set<std::string> seen;
    auto add = [&](const std::string& name, const char* source) {
      if (!seen.insert(name).second) return;
      bool disabled = std::find(off.begin(), off.end(), name) != off.end();
      out.push_back({{"name", name}, {"source", source}, {"enabled", !disabled}});
    };
    for (const auto& l : cfg.lists) add(l.name, "config");
    for (const auto& l : file_cfg.lists) add(l.name, "config");
    std::string error;
    for (const auto& l : blocklists::subs::subscribed_lists(cfg.server.data_dir, &error)) add(l.name, "subscription");
    return json_response(200, json{{"lists", out}, {"file", cfg.file}});
  }

  Response set_switch(const Request& r) {
    std::string name = r.matches.at(1);
    json body = parse_body(r);
    if (!body.contains("enabled") || !body["enabled"].is_boolean()) throw HttpError{400, "enabled: expected true or false"};
    bool enabled = body["enabled"].get<bool>();
    return applied(toggle(name, enabled));
  }

  // Read and written under the file's lock, so a toggle from the CLI is not lost.
  std::vector<KeyChange> toggle(const std::string& name, bool enabled) {
    return write_with([&](const std::string& text) { return std::vector<ConfigEdit>{list_switch_edit(text, name, enabled)}; });
  }

  // Local records: those of the records file can be edited; the others
  // (the configuration's, hosts and zone files) are shown as they are.
  Response records() {
    std::vector<std::string> mine = local::read_records_file(records_at.records_file);
    json editable_rows = json::array();
    std::set<std::string> texts;
    for (const std::string& line : mine) {
      local::Zone one(records_at.domain, records_at.ttl);
      if (!one.add(line).empty() || one.records().empty()) continue;
      const local::Record& rec = one.records().front();
      texts.insert(rec.text);
      editable_rows.push_back(record_json(line, rec, "dashboard"));
    }
    std::vector<local::LoadError> errors;
    auto data = local::load(records_at, errors);
    json others = json::array();
    for (const local::Record& rec : data->zone.records())
      if (!texts.count(rec.text) && rec.type != 12) others.push_back(record_json(rec.text, rec, "configuration"));
    json problems = json::array();
    for (const local::LoadError& e : errors) problems.push_back(e.describe());
    return json_response(200, json{{"records", editable_rows}, {"fixed", others}, {"domain", records_at.domain},
                                   {"own_names", data->own_names}, {"problems", problems}});
  }

  static json record_json(const std::string& line, const local::Record& rec, const char* source) {
    std::istringstream words(rec.text);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    // rec.text is the zone line as written ("nas.lan 300 IN A 1.2.3.4" or shorter).
    std::string type, data;
    for (size_t i = 1; i < w.size(); ++i) {
      bool digits = std::all_of(w[i].begin(), w[i].end(), [](char ch) { return ch >= '0' && ch <= '9'; });
      if (type.empty() && !digits && w[i] != "IN") {
        type = w[i];
        continue;
      }
      if (!type.empty()) data += (data.empty() ? "" : " ") + w[i];
    }
    return json{{"line", line}, {"name", rec.owner}, {"type", type}, {"data", data}, {"ttl", rec.ttl}, {"source", source}};
  }

  static std::string record_line(const json& body) {
    std::string name = string_field(body, "name"), type = string_field(body, "type"), data = string_field(body, "data");
    if (name.empty() || type.empty() || data.empty()) throw HttpError{400, "name, type and data are needed"};
    std::string line = name;
    if (body.contains("ttl") && !body["ttl"].is_null()) {
      if (!body["ttl"].is_number_integer() || body["ttl"].get<int64_t>() < 0 || body["ttl"].get<int64_t>() > 604800)
        throw HttpError{400, "ttl: expected an integer from 0 to 604800"};
      line += " " + std::to_string(body["ttl"].get<int64_t>());
    }
    line += " " + type + " " + data;
    if (line.size() > 1024 || line.find('\n') != std::string::npos) throw HttpError{400, "the record is too long"};
    return line;
  }

  Response add_record(const Request& r) {
    std::string line = record_line(parse_body(r));
    if (std::string why = local::add_record(records_at, line); !why.empty()) throw HttpError{400, line + ": " + why};
    return json_response(201, json{{"line", line}});
  }

  Response change_record(const Request& r, bool remove) {
    json body = parse_body(r);
    std::string old_line = string_field(body, "line");
    if (old_line.empty()) throw HttpError{400, "line: the record's line, as GET /api/local gives it"};
    std::string line = remove ? "" : record_line(body);
    std::string why = local::replace_record(records_at, old_line, line);
    if (why == "no such record") throw HttpError{404, why};
    if (!why.empty()) throw HttpError{400, (line.empty() ? old_line : line) + ": " + why};
    return json_response(200, json{{"line", line}});
  }
};

}  // namespace

void install_settings_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard) {
  auto api = std::make_shared<SettingsApi>(rt, cfg);
  s.get("/api/config", guard(false, [api](const Request&) { return api->get(); }));
  s.put("/api/config", guard(true, [api](const Request& r) { return api->put(r); }));
  s.post("/api/config/test-upstream", guard(true, [api](const Request& r) { return api->test_upstream(r); }));
  s.post("/api/restart", guard(true, [&rt](const Request&) {
           std::string why;
           if (!rt.can_restart(why)) return error_response(409, why);
           // The answer is written before the restart begins: the stream
           // runs after the headers, and asks for the restart last.
           Response resp;
           resp.content_type = "application/json";
           resp.stream = [&rt](const StreamWrite& write) {
             write("{\"restarting\":true}");
             rt.request_restart();
           };
           return resp;
         }));
  s.get("/api/lists/switches", guard(false, [api](const Request&) { return api->switches(); }));
  s.put("/api/lists/switches/([^/]+)", guard(true, [api](const Request& r) { return api->set_switch(r); }));
  s.get("/api/local", guard(false, [api](const Request&) { return api->records(); }));
  s.post("/api/local", guard(true, [api](const Request& r) { return api->add_record(r); }));
  s.put("/api/local", guard(true, [api](const Request& r) { return api->change_record(r, false); }));
  s.post("/api/local/delete", guard(true, [api](const Request& r) { return api->change_record(r, true); }));
}

}  // namespace hush::web

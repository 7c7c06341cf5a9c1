#include "web/groups_api.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "base/log.hpp"
#include "clients/groups.hpp"
#include "policy/rules.hpp"
#include "querylog/reader.hpp"
#include "web/json_api.hpp"
#include "hush/blocklists/data_dir.h"
#include "hush/blocklists/subscriptions/subscriptions.h"

namespace hush::web {

namespace {

using json = nlohmann::json;
namespace subs = blocklists::subs;

constexpr size_t kMaxMembers = 500;  // devices set in one call

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

struct GroupsApi {
  GroupsApi(const Runtime& r, Config c) : rt(r), cfg(std::move(c)) {}
  const Runtime& rt;
  Config cfg;
  std::mutex mu;  // one group change at a time

  static void check_name(const std::string& g) {
    if (!clients::valid_group(g)) throw HttpError{400, "group: names are 1 to 32 of a-z, 0-9, _ and -"};
    if (g.rfind("device-", 0) == 0) throw HttpError{400, "group: device-N is a device's own group"};
  }

  // Device id -> its groups, for every device in a group other than "default".
  std::map<int64_t, std::vector<std::string>> device_groups() {
    std::map<int64_t, std::vector<std::string>> out;
    sqlite::Error err;
    auto reader = querylog::Reader::open(database_path(cfg.server.data_dir), false, err);
    if (!reader) return out;
    reader->each_device_groups([&](int64_t id, const std::string&, const std::vector<std::string>& in) { out[id] = in; },
                               err);
    if (err) throw HttpError{503, "the query log cannot be read: " + err.message};
    return out;
  }

  std::unique_ptr<subs::Subscriptions> subscriptions() {
    std::string error;
    auto s = subs::Subscriptions::open(cfg.server.data_dir, cfg.subscription_settings(), error);
    if (!s) throw HttpError{503, "subscriptions are not available: " + error};
    return s;
  }

  std::unique_ptr<clients::DeviceGroups> writable_groups() {
    sqlite::Error err;
    auto g = clients::DeviceGroups::open(cfg.server.data_dir, true, err);
    if (!g) throw HttpError{503, "the query log is not available: " + err.message};
    return g;
  }

  void set_device(clients::DeviceGroups& g, int64_t id, std::vector<std::string> groups) {
    if (groups.empty()) groups = {"default"};  // a device is always in some group
    sqlite::Error err;
    if (!g.set(id, groups, err))
      throw HttpError{err.code == SQLITE_NOTFOUND ? 404 : 400, "device " + std::to_string(id) + ": " + err.message};
  }

  // Devices: exactly these are in the group. Lists: exactly these
  // subscriptions use it (a list always keeps at least one group).
  Response put(const Request& r) {
    std::string name = r.matches.at(1);
    check_name(name);
    json body = parse_body(r);
    std::lock_guard lock(mu);
    if (body.contains("devices")) {
      const json& d = body["devices"];
      if (!d.is_array() || d.size() > kMaxMembers) throw HttpError{400, "devices: expected an array of at most 500 device ids"};
      std::set<int64_t> want;
      for (const json& id : d) {
        if (!id.is_number_integer()) throw HttpError{400, "devices: expected device ids"};
        want.insert(id.get<int64_t>());
      }
      auto now = device_groups();
      auto g = writable_groups();
      for (const auto& [id, in] : now)
        if (has(in, name) && !want.count(id)) {
          std::vector<std::string> rest = in;
          std::erase(rest, name);
          set_device(*g, id, rest);
        }
      for (int64_t id : want) {
        auto it = now.find(id);
        std::vector<std::string> in = it == now.end() ? std::vector<std::string>{} : it->second;
        if (has(in, name)) continue;
        in.push_back(name);
        std::erase(in, std::string("default"));  // "default" is for devices in no other group
        set_device(*g, id, in);
      }
    }
    if (body.contains("lists")) {
      const json& l = body["lists"];
      if (!l.is_array()) throw HttpError{400, "lists: expected an array of subscribed list names"};
      std::set<std::string> want;
      for (const json& n : l) {
        if (!n.is_string()) throw HttpError{400, "lists: expected list names"};
        want.insert(n.get<std::string>());
      }
      auto s = subscriptions();
      std::vector<subs::Subscription> all = s->list();
      for (const std::string& w : want)
        if (std::none_of(all.begin(), all.end(), [&w](const subs::Subscription& x) { return x.name == w; }))
          throw HttpError{404, "no subscribed list " + w};
      for (const subs::Subscription& x : all) {
        bool in = has(x.groups, name), wanted = want.count(x.name) > 0;
        if (in == wanted) continue;
        std::vector<std::string> groups = x.groups;
        if (wanted) groups.push_back(name);
        else std::erase(groups, name);
        if (groups.empty())
          throw HttpError{400, "list " + x.name + " would apply to no group; give it another group first"};
        std::string error;
        if (!s->set_groups(x.name, groups, error)) throw HttpError{400, error};
      }
    }
    log::info("dashboard: group ", name, " changed");
    return json_response(200, json{{"ok", true}, {"applied", rt.request_policy_rebuild(std::chrono::seconds(30))}});
  }

  Response rename(const Request& r) {
    std::string from = r.matches.at(1);
    json body = parse_body(r);
    std::string to = string_field(body, "to");
    check_name(from);
    check_name(to);
    if (from == "default") throw HttpError{400, "the default group cannot be renamed"};
    std::lock_guard lock(mu);
    for (const auto& l : cfg.lists)
      if (has(l.groups, from)) throw HttpError{409, "group " + from + " is used by [[lists]] " + l.name + " in the configuration file; rename it there"};
    for (const auto& c : cfg.clients)
      if (has(c.groups, from)) throw HttpError{409, "group " + from + " is used by [[clients]] in the configuration file; rename it there"};
    auto now = device_groups();
    auto s = subscriptions();
    std::vector<subs::Subscription> all = s->list();
    bool exists = false, taken = false;
    for (const auto& [id, in] : now) {
      exists = exists || has(in, from);
      taken = taken || has(in, to);
    }
    for (const auto& x : all) {
      exists = exists || has(x.groups, from);
      taken = taken || has(x.groups, to);
    }
    if (taken) throw HttpError{409, "there is a group " + to + " already"};
    policy::RulesStore rules(cfg.server.data_dir);
    for (const policy::Rule& x : rules.list()) exists = exists || has(x.groups, from);
    if (!exists) throw HttpError{404, "no group " + from};
    auto g = writable_groups();
    size_t devices = 0, lists = 0;
    for (const auto& [id, in] : now)
      if (has(in, from)) {
        std::vector<std::string> next = in;
        std::replace(next.begin(), next.end(), from, to);
        set_device(*g, id, next);
        ++devices;
      }
    for (const auto& x : all)
      if (has(x.groups, from)) {
        std::vector<std::string> next = x.groups;
        std::replace(next.begin(), next.end(), from, to);
        std::string error;
        if (!s->set_groups(x.name, next, error)) throw HttpError{400, error};
        ++lists;
      }
    std::string error;
    size_t entries = rules.rename_group(from, to, error);
    if (!error.empty()) throw HttpError{500, error};
    log::info("dashboard: group ", from, " renamed ", to);
    return json_response(200, json{{"ok", true}, {"devices", devices}, {"lists", lists}, {"rules", entries},
                                   {"applied", rt.request_policy_rebuild(std::chrono::seconds(30))}});
  }
};

}  // namespace

void install_groups_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard) {
  auto api = std::make_shared<GroupsApi>(rt, cfg);
  s.put("/api/groups/([a-z0-9_-]{1,32})", guard(true, [api](const Request& r) { return api->put(r); }));
  s.post("/api/groups/([a-z0-9_-]{1,32})/rename", guard(true, [api](const Request& r) { return api->rename(r); }));
}

}  // namespace hush::web

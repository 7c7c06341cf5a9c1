#include "policy/controls.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "base/file_lock.hpp"
#include "base/random_hex.hpp"
#include "clients/groups.hpp"
#include "policy/services.hpp"

namespace hush::policy {

namespace {
using json = nlohmann::json;
namespace subs = blocklists::subs;

bool known_kind(const std::string& k) { return k == "allow" || k == "deny" || k == "pause" || k == "service"; }

std::vector<Control> read_controls(const std::string& path, std::string* error) {
  std::vector<Control> out;
  std::ifstream in(path);
  if (!in) return out;
  try {
    json j = json::parse(in);
    for (const json& c : j.value("controls", json::array())) {
      Control x;
      x.id = c.value("id", "");
      x.kind = c.value("kind", "");
      x.target = c.value("target", "");
      x.group = c.value("group", "");
      x.label = c.value("label", "");
      x.until = c.value("until", int64_t(0));
      x.added = c.value("added", int64_t(0));
      if (!x.id.empty() && known_kind(x.kind) && !x.group.empty()) out.push_back(std::move(x));
    }
  } catch (const std::exception& e) {
    if (error) *error = path + ": " + e.what();
  }
  return out;
}

std::string save_controls(const std::string& path, const std::vector<Control>& controls) {
  json j;
  j["controls"] = json::array();
  for (const Control& c : controls)
    j["controls"].push_back({{"id", c.id}, {"kind", c.kind}, {"target", c.target}, {"group", c.group},
                             {"label", c.label}, {"until", c.until}, {"added", c.added}});
  return write_file_atomic(path, {j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"});
}

bool in_force(const Control& c, int64_t now) { return c.until == 0 || c.until > now; }

// A name to allow or block for a while: a host name (lower-cased, without
// the forms "||a.com^" and "*.a.com", which it stands for anyway: the name
// and every name below it), or a /regex/ checked by the policy builder.
std::string check_name(std::string& name) {
  if (name.rfind("||", 0) == 0) name.erase(0, 2);
  if (name.rfind("*.", 0) == 0) name.erase(0, 2);
  if (!name.empty() && name.back() == '^') name.pop_back();
  while (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty() || name.size() > 1024) return "name must have 1 to 1024 characters";
  if (name.size() > 1 && name.front() == '/' && name.back() == '/') {
    blocklists::PolicyConfig pc;
    pc.special_names = false;
    pc.deny.push_back({name, {"default"}});
    blocklists::BuildReport report;
    if (!blocklists::Policy::build(pc, &report) || !report.errors.empty())
      return report.errors.empty() ? "cannot use this regex" : report.errors.front();
    return "";
  }
  if (name.size() > 253) return "a name has at most 253 characters";
  for (char& ch : name) {
    ch = char(std::tolower(static_cast<unsigned char>(ch)));
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-' && ch != '_')
      return "give a name (example.com) or a /regex/";
  }
  return "";
}

std::string check(Control& c, int64_t now) {
  if (!known_kind(c.kind)) return "kind must be allow, deny, pause or service";
  if (c.group != blocklists::kEveryGroup && !clients::valid_group(c.group))
    return "group names are 1 to 32 of a-z, 0-9, _ and -";
  if (c.until != 0 && (c.until <= now || c.until - now > kMaxControlSeconds))
    return "the end must be from 1 second to 7 days ahead";
  if (c.until == 0 && c.kind != "service") return "allow, block and pause need an end time";
  if (c.label.size() > 200) c.label.resize(200);
  if (c.kind == "pause") c.target.clear();
  if (c.kind == "allow" || c.kind == "deny") return check_name(c.target);
  if (c.kind == "service") {
    const Service* s = find_service(c.target);
    if (!s) return "no service '" + c.target + "' (hush services ls)";
    c.target = s->id;
  }
  return "";
}

bool same(const Control& a, const Control& b) { return a.kind == b.kind && a.target == b.target && a.group == b.group; }

}  // namespace

std::string device_group(int64_t device_id) {
  // The engine gives such groups bits of their own (blocklists::is_device_group).
  return std::string(blocklists::kDeviceGroupPrefix) + std::to_string(device_id);
}

std::string join_device_group(const std::string& data_dir, int64_t device_id) {
  sqlite::Error e;
  auto db = clients::DeviceGroups::open(data_dir, true, e);
  if (!db) return "the query log is not available: " + e.message;
  std::vector<std::string> groups = db->groups(device_id, e);
  if (e) return e.code == SQLITE_NOTFOUND ? "no such device" : e.message;
  std::string own = device_group(device_id);
  if (std::find(groups.begin(), groups.end(), own) != groups.end()) return "";
  groups.push_back(own);
  return db->set(device_id, groups, e) ? "" : e.message;
}

ControlsStore::ControlsStore(const std::string& data_dir) : path_(data_dir + "/controls.json") {}

std::vector<Control> ControlsStore::active(int64_t now, std::string* error) {
  std::lock_guard lock(mu_);
  std::vector<Control> all = read_controls(path_, error);
  std::erase_if(all, [&](const Control& c) { return !in_force(c, now); });
  return all;
}

std::optional<Control> ControlsStore::add(Control c, int64_t now, std::string& error) {
  if (error = check(c, now); !error.empty()) return std::nullopt;
  std::lock_guard lock(mu_);
  // The dashboard and the CLI (another process) both write here.
  FileLock file_lock(path_);
  std::string read_error;
  std::vector<Control> all = read_controls(path_, &read_error);
  if (!read_error.empty()) {
    error = read_error;
    return std::nullopt;
  }
  std::erase_if(all, [&](const Control& x) { return !in_force(x, now) || same(x, c); });
  size_t for_group = std::count_if(all.begin(), all.end(), [&](const Control& x) { return x.group == c.group; });
  if (all.size() >= kMaxControls || for_group >= kMaxControlsPerGroup) {
    error = "at most " + std::to_string(kMaxControlsPerGroup) + " controls per device or group and " +
            std::to_string(kMaxControls) + " in all; cancel some first";
    return std::nullopt;
  }
  c.id = random_hex(6);
  c.added = now;
  all.push_back(c);
  if (error = save_controls(path_, all); !error.empty()) return std::nullopt;
  return c;
}

bool ControlsStore::remove(const std::string& id, int64_t now, std::string& error) {
  std::lock_guard lock(mu_);
  FileLock file_lock(path_);
  error.clear();
  std::vector<Control> all = read_controls(path_, &error);
  if (!error.empty()) return false;
  std::erase_if(all, [&](const Control& x) { return !in_force(x, now); });
  auto it = std::find_if(all.begin(), all.end(), [&](const Control& x) { return x.id == id; });
  if (it == all.end()) {
    error = "no control " + id + " (it may have ended)";
    return false;
  }
  all.erase(it);
  error = save_controls(path_, all);
  return error.empty();
}

void apply_controls(const std::vector<Control>& controls, blocklists::PolicyConfig& pc,
                    std::vector<std::string>& errors) {
  for (const Control& c : controls) {
    if (c.kind == "allow" || c.kind == "deny") {
      std::string rule = c.target.front() == '/' ? c.target : "||" + c.target + "^$important";
      (c.kind == "allow" ? pc.allow : pc.deny).push_back({rule, {c.group}});
    } else if (c.kind == "pause") {
      pc.paused.push_back(c.group);
    } else if (const Service* s = find_service(c.target); s && s->catalog.empty()) {
      for (const std::string& r : s->rules) pc.deny.push_back({r, {c.group}});
    } else if (s) {
      auto list = std::find_if(pc.lists.begin(), pc.lists.end(),
                               [&](const blocklists::ListSource& l) { return l.name == s->catalog; });
      if (list == pc.lists.end()) errors.push_back("service " + s->id + ": list " + s->catalog + " is not subscribed");
      else list->groups.push_back(c.group);
    }
  }
}

int64_t next_end(const std::vector<Control>& controls, int64_t now) {
  int64_t next = 0;
  for (const Control& c : controls)
    if (c.until > now && (next == 0 || c.until < next)) next = c.until;
  return next;
}

std::string ensure_service_list(const std::string& data_dir, const subs::Settings& settings,
                                const std::string& service) {
  const Service* s = find_service(service);
  if (!s) return "no service '" + service + "' (hush services ls)";
  if (s->catalog.empty()) return "";
  std::string error;
  auto store = subs::Subscriptions::open(data_dir, settings, error);
  if (!store) return error;
  for (const subs::Subscription& sub : store->list())
    if (sub.name == s->catalog || sub.catalog_id == s->catalog) return "";
  subs::AddRequest req;
  req.url = "catalog:" + s->catalog;
  req.name = s->catalog;
  req.groups = {kServiceListsGroup};
  req.claim = false;  // the server's updater downloads it (or `hush lists update`)
  return store->add(req, error) ? "" : error;
}

}  // namespace hush::policy

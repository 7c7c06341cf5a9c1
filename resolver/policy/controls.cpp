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

// A name to allow or block: the forms of blocking.allow/deny, checked by
// the policy builder itself.
std::string check_name(std::string& name) {
  while (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty() || name.size() > 1024) return "name must have 1 to 1024 characters";
  for (unsigned char ch : name)
    if (ch < 0x21 || ch == 0x7f) return "name must not contain spaces or control characters";
  if (name.front() != '/')
    for (char& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  blocklists::PolicyConfig pc;
  pc.special_names = false;
  pc.deny.push_back({name, {"default"}});
  blocklists::BuildReport report;
  if (!blocklists::Policy::build(pc, &report) || !report.errors.empty())
    return report.errors.empty() ? "cannot use this name" : report.errors.front();
  return "";
}

std::string check(Control& c, int64_t now) {
  if (!known_kind(c.kind)) return "kind must be allow, deny, pause or service";
  if (c.group != blocklists::kEveryGroup && !clients::valid_group(c.group))
    return "group names are 1 to 32 of a-z, 0-9, _ and -";
  if (c.until != 0 && (c.until <= now || c.until - now > kMaxControlSeconds))
    return "the end must be from 1 second to 7 days ahead";
  if (c.until == 0 && c.kind != "service") return "allow, deny and pause need an end time";
  if (c.kind == "pause") c.target.clear();
  if (c.kind == "allow" || c.kind == "deny") return check_name(c.target);
  if (c.kind == "service") {
    const Service* s = find_service(c.target);
    if (!s) return "no service '" + c.target + "' (hush services ls)";
    c.target = s->id;
  }
  if (c.label.size() > 200) c.label.resize(200);
  return "";
}

bool same(const Control& a, const Control& b) { return a.kind == b.kind && a.target == b.target && a.group == b.group; }

}  // namespace

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
  if (all.size() >= kMaxControls) {
    error = "at most " + std::to_string(kMaxControls) + " controls at once";
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
  std::vector<Control> all = read_controls(path_, &error);
  if (!error.empty()) return false;
  std::erase_if(all, [&](const Control& x) { return !in_force(x, now); });
  auto it = std::find_if(all.begin(), all.end(), [&](const Control& x) { return x.id == id; });
  if (it == all.end()) {
    error = "no control " + id;
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
      // $important: a timed allow must beat the lists' and the denylist's
      // blocks, and a timed block the standing allowlist.
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

}  // namespace hush::policy

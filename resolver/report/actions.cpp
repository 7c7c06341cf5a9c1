#include "report/actions.hpp"

#include <algorithm>
#include <unordered_set>

#include "clients/groups.hpp"
#include "policy/controls.hpp"
#include "policy/rules.hpp"

namespace hush::report {

namespace subs = blocklists::subs;

namespace {

std::string tag(const Company& c) { return "company:" + c.id; }
std::string pattern(const std::string& domain) { return "||" + domain + "^"; }

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// Lower-case letters and digits only: "OPPO/Realme" -> "opporealme".
std::string squash(std::string_view s) {
  std::string out;
  for (char c : s)
    if (std::isalnum(static_cast<unsigned char>(c))) out += char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The words of a company name, squashed: "Xiaomi Inc." -> {"xiaomi", "inc"}.
std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) out.back() += char(std::tolower(static_cast<unsigned char>(c)));
    else if (!out.back().empty()) out.emplace_back();
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

// Companies whose products the catalog names after a brand rather than the
// company (companiesdb id -> catalog vendor).
constexpr std::pair<std::string_view, std::string_view> kVendorAliases[] = {{"bytedance_inc", "TikTok"}};

struct Opened {
  std::unique_ptr<clients::DeviceGroups> db;
  int64_t device_id = 0;
  std::vector<std::string> groups;
};

// The device's groups, opened for writing them.
std::string open_device(const std::string& data_dir, int64_t device_id, Opened& out) {
  sqlite::Error e;
  out.db = clients::DeviceGroups::open(data_dir, true, e);
  if (!out.db) return e.message;
  out.device_id = device_id;
  out.groups = out.db->groups(device_id, e);
  return e ? e.message : "";
}

// The group an action applies to; for a device, its own group, which the
// device joins when `join`.
std::string target_group(const std::string& data_dir, const Target& t, bool join, std::string& group, bool* added) {
  if (t.device_id.has_value() == !t.group.empty()) return "give either a device or a group";
  if (!t.device_id) {
    if (!clients::valid_group(t.group)) return "group '" + t.group + "': use 1 to 32 of a-z, 0-9, '_' and '-'";
    group = t.group;
    return "";
  }
  group = device_group(*t.device_id);
  Opened dev;
  if (std::string err = open_device(data_dir, *t.device_id, dev); !err.empty()) return err;
  if (!join || has(dev.groups, group)) return "";
  std::vector<std::string> groups = dev.groups;
  groups.push_back(group);
  sqlite::Error e;
  if (!dev.db->set(dev.device_id, groups, e)) return e.message;
  if (added) *added = true;
  return "";
}

// Whether anything still scopes rules or lists to `group`.
bool group_in_use(const std::string& data_dir, const std::string& group) {
  policy::RulesStore store(data_dir);
  for (const policy::Rule& r : store.list())
    if (has(r.groups, group)) return true;
  for (const auto& l : subs::subscribed_lists(data_dir))
    if (has(l.groups, group)) return true;
  return false;
}

}  // namespace

std::string device_group(int64_t device_id) { return policy::device_group(device_id); }

std::string schedule_companies(const CompanyMap& map, policy::Schedule& s) {
  s.company_rules.clear();
  for (std::string& company : s.companies) {
    const Company* c = map.find(company);
    if (!c) return "no company '" + company + "' in the map (hush report shows the ids)";
    if (c->domains.empty()) return c->name + " has no domains in the map";
    company = c->id;
    for (const std::string& d : c->domains) s.company_rules.push_back(pattern(d));
  }
  return "";
}

std::string block_company(const std::string& data_dir, const CompanyMap& map, const std::string& company,
                          const Target& target, BlockResult* out) {
  BlockResult local;
  BlockResult& r = out ? *out : local;
  const Company* c = map.find(company);
  if (!c) return "no company '" + company + "' in the map (hush report shows the ids)";
  if (c->domains.empty()) return c->name + " has no domains in the map";
  if (std::string err = target_group(data_dir, target, true, r.group, &r.group_added); !err.empty()) return err;
  policy::RulesStore store(data_dir);
  std::string error;
  std::vector<policy::Rule> existing = store.list(&error);
  if (!error.empty()) return error;
  std::unordered_set<std::string> there;
  for (const policy::Rule& x : existing)
    if (x.kind == "deny" && x.groups == std::vector<std::string>{r.group}) there.insert(x.pattern);
  std::vector<policy::Rule> rules;
  for (const std::string& d : c->domains) {
    std::string p = pattern(d);
    if (there.count(p)) continue;
    policy::Rule rule;
    rule.kind = "deny";
    rule.pattern = p;
    rule.groups = {r.group};
    rule.comment = tag(*c);
    rules.push_back(std::move(rule));
  }
  // One write of the store for all of them (Google has hundreds of domains).
  if (!store.add_all(rules, error)) return "blocking " + c->name + ": " + error;
  for (const policy::Rule& rule : rules) r.patterns.push_back(rule.pattern);
  return "";
}

std::string unblock_company(const std::string& data_dir, const CompanyMap& map, const std::string& company,
                            const Target& target, BlockResult* out) {
  BlockResult local;
  BlockResult& r = out ? *out : local;
  const Company* c = map.find(company);
  if (!c) return "no company '" + company + "' in the map (hush report shows the ids)";
  if (std::string err = target_group(data_dir, target, false, r.group, nullptr); !err.empty()) return err;
  policy::RulesStore store(data_dir);
  std::string error;
  std::vector<policy::Rule> existing = store.list(&error);
  if (!error.empty()) return error;
  std::vector<std::string> ids;
  for (const policy::Rule& x : existing) {
    if (x.kind != "deny" || x.comment != tag(*c) || x.groups != std::vector<std::string>{r.group}) continue;
    ids.push_back(x.id);
    r.patterns.push_back(x.pattern);
  }
  if (r.patterns.empty()) return c->name + " is not blocked for group " + r.group;
  if (!store.remove_all(ids, error)) {
    r.patterns.clear();
    return "unblocking " + c->name + ": " + error;
  }
  // A device's own group goes when nothing uses it, so it does not take one
  // of the policy's 64 places for devices' own groups for nothing.
  if (target.device_id && !group_in_use(data_dir, r.group)) {
    Opened dev;
    if (std::string err = open_device(data_dir, *target.device_id, dev); !err.empty()) return err;
    std::vector<std::string> groups = dev.groups;
    std::erase(groups, r.group);
    if (groups.empty()) groups = {"default"};
    sqlite::Error e;
    if (!dev.db->set(dev.device_id, groups, e)) return e.message;
    r.group_removed = true;
  }
  return "";
}

std::vector<BlockedCompany> blocked_companies(const std::string& data_dir, std::string& error) {
  std::vector<BlockedCompany> out;
  policy::RulesStore store(data_dir);
  for (const policy::Rule& x : store.list(&error)) {
    if (x.kind != "deny" || x.comment.rfind("company:", 0) != 0 || x.groups.size() != 1) continue;
    std::string id = x.comment.substr(8);
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const BlockedCompany& b) { return b.company == id && b.group == x.groups[0]; });
    if (it == out.end()) it = out.insert(out.end(), {id, x.groups[0], 0});
    ++it->entries;
  }
  return out;
}

std::vector<const subs::CatalogEntry*> vendor_lists(const Company& company) {
  std::vector<std::string> names{squash(company.id)};
  if (auto w = words(company.name); !w.empty()) names.push_back(w.front());
  for (const auto& [id, vendor] : kVendorAliases)
    if (company.id == id) names.push_back(squash(vendor));
  std::vector<const subs::CatalogEntry*> out;
  for (const subs::CatalogEntry& e : subs::catalog()) {
    if (e.vendor.empty()) continue;
    // "OPPO/Realme" is a list for either brand.
    std::vector<std::string> brands{squash(e.vendor)};
    for (std::string_view v = e.vendor; !v.empty();) {
      size_t slash = v.find('/');
      brands.push_back(squash(v.substr(0, slash)));
      v = slash == std::string_view::npos ? std::string_view() : v.substr(slash + 1);
    }
    bool match = std::any_of(brands.begin(), brands.end(), [&](const std::string& b) { return !b.empty() && has(names, b); });
    if (match) out.push_back(&e);
  }
  return out;
}

std::string subscribe_vendor(const std::string& data_dir, const subs::Settings& settings, const CompanyMap& map,
                             const std::string& company, const Target& target, const std::string& catalog_id,
                             const std::string& url, SubscribeResult* out) {
  SubscribeResult local;
  SubscribeResult& r = out ? *out : local;
  const Company* c = map.find(company);
  if (!c) return "no company '" + company + "' in the map (hush report shows the ids)";
  auto lists = vendor_lists(*c);
  if (lists.empty()) return "the catalog has no list for " + c->name + " (see hush lists catalog)";
  const subs::CatalogEntry* entry = lists.front();
  if (!catalog_id.empty()) {
    auto it = std::find_if(lists.begin(), lists.end(), [&](const subs::CatalogEntry* e) { return e->id == catalog_id; });
    if (it == lists.end()) {
      std::string ids;
      for (const auto* e : lists) ids += (ids.empty() ? "" : ", ") + std::string(e->id);
      return "'" + catalog_id + "' is not a catalog list for " + c->name + " (those are: " + ids + ")";
    }
    entry = *it;
  }
  if (std::string err = target_group(data_dir, target, true, r.group, nullptr); !err.empty()) return err;
  std::string error;
  auto subscriptions = subs::Subscriptions::open(data_dir, settings, error);
  if (!subscriptions) return error;
  r.list = std::string(entry->id);
  for (const subs::Subscription& s : subscriptions->list()) {
    if (s.name != r.list && s.catalog_id != entry->id) continue;
    r.list = s.name;
    if (has(s.groups, r.group)) return "";
    std::vector<std::string> groups = s.groups;
    groups.push_back(r.group);
    return subscriptions->set_groups(s.name, groups, error) ? "" : error;
  }
  subs::AddRequest req;
  req.url = url.empty() ? "catalog:" + r.list : url;
  req.name = r.list;
  req.groups = {r.group};
  req.claim = false;  // the server's updater downloads it (or `hush lists update`)
  if (!subscriptions->add(req, error)) return error;
  r.created = true;
  return "";
}

}  // namespace hush::report

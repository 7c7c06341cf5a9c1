#include "report/json.hpp"

namespace hush::report {

using json = nlohmann::json;

namespace {
json ms(int64_t us) { return us ? json(us / 1000) : json(nullptr); }

json names_of(const std::vector<NameUsage>& names) {
  json a = json::array();
  for (const NameUsage& n : names) a.push_back(to_json(n));
  return a;
}
}  // namespace

json to_json(const NameUsage& n) {
  return {{"name", n.name},           {"category", n.category},          {"queries", n.queries},
          {"blocked", n.blocked},     {"first_seen_ms", ms(n.first_seen_us)}, {"last_seen_ms", ms(n.last_seen_us)}};
}

json to_json(const CompanyUsage& c) {
  return {{"key", c.key},
          {"company", c.name},
          {"known", c.known},
          {"categories", c.categories},
          {"queries", c.queries},
          {"blocked", c.blocked},
          {"blocked_share", c.blocked_share()},
          {"devices", c.devices},
          {"first_seen_ms", ms(c.first_seen_us)},
          {"last_seen_ms", ms(c.last_seen_us)},
          {"names", names_of(c.names)}};
}

json to_json(const DeviceReport& r) {
  json companies = json::array();
  for (const CompanyUsage& c : r.companies) companies.push_back(to_json(c));
  json bypass = json::array();
  for (const BypassEvidence& b : r.bypass)
    bypass.push_back({{"name", b.name},
                      {"resolver", b.resolver},
                      {"queries", b.queries},
                      {"blocked", b.blocked},
                      {"last_seen_ms", ms(b.last_seen_us)}});
  return {{"device", {{"id", r.device_id}, {"name", r.device}}},
          {"queries", r.queries},
          {"blocked", r.blocked},
          {"bypass", std::move(bypass)},
          {"companies", std::move(companies)}};
}

json to_json(const CompanyDevices& c) {
  json devices = json::array();
  for (const DeviceContact& d : c.devices)
    devices.push_back({{"id", d.device_id},
                       {"name", d.device},
                       {"queries", d.queries},
                       {"blocked", d.blocked},
                       {"first_seen_ms", ms(d.first_seen_us)},
                       {"last_seen_ms", ms(d.last_seen_us)},
                       {"names", names_of(d.names)}});
  return {{"key", c.key}, {"company", c.name}, {"known", c.known}, {"devices", std::move(devices)}};
}

json to_json(const SeriesPoint& p) {
  return {{"start_ms", p.start_us / 1000}, {"queries", p.queries}, {"blocked", p.blocked}};
}

json to_json(const NewContact& n) {
  return {{"kind", n.kind == NewContact::Kind::Company ? "company" : "name"},
          {"time_ms", ms(n.time_us)},
          {"device", {{"id", n.device_id}, {"name", n.device}}},
          {"key", n.company_key},
          {"company", n.company},
          {"known", n.known},
          {"name", n.name},
          {"category", n.category}};
}

json to_json(const Attribution& a) {
  json j = {{"key", a.key()}, {"company", a.display()}, {"known", a.company != nullptr},
            {"category", a.category}, {"tracker", a.tracker}, {"matched", a.matched}, {"site", a.site}};
  if (a.company) j["website"] = a.company->website;
  return j;
}

json to_json(const BlockResult& r) {
  return {{"group", r.group}, {"patterns", r.patterns}, {"group_added", r.group_added}, {"group_removed", r.group_removed}};
}

json to_json(const SubscribeResult& r) { return {{"list", r.list}, {"group", r.group}, {"created", r.created}}; }

json to_json(const QuietEvidence& q) {
  return {{"address", q.address}, {"mac", q.mac}, {"last_query_ms", q.last_query_us / 1000}};
}

}  // namespace hush::report

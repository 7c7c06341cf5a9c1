#include "report/report.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "querylog/schema.hpp"

namespace hush::report {

namespace {

constexpr int64_t kMinuteUs = 60LL * 1000000;
constexpr int64_t kHourUs = 60 * kMinuteUs;
constexpr int64_t kDayUs = 24 * kHourUs;
constexpr int64_t kHourlySpan = 2 * kDayUs;

int64_t day_floor(int64_t us) { return us / kDayUs; }
int64_t day_end(int64_t us) {
  if (us == querylog::kForever) return querylog::kForever / kDayUs;
  return us / kDayUs + (us % kDayUs != 0 ? 1 : 0);
}

struct Counts {
  int64_t queries = 0, blocked = 0;
};
struct Seen {
  int64_t first = 0, last = 0;
};

void sort_names(std::vector<NameUsage>& names) {
  std::sort(names.begin(), names.end(), [](const NameUsage& a, const NameUsage& b) {
    return a.queries != b.queries ? a.queries > b.queries : a.name < b.name;
  });
}

void add_category(std::vector<std::string>& cats, const std::string& c) {
  if (!c.empty() && std::find(cats.begin(), cats.end(), c) == cats.end()) cats.insert(std::upper_bound(cats.begin(), cats.end(), c), c);
}

}  // namespace

struct ReportReader::Impl {
  sqlite::Db db;
  const CompanyMap* map = nullptr;
  struct Known {
    std::string name;
    Attribution who;
    std::string key;
  };
  // Attribution per domain id: the map walk and the name's look-up happen
  // once per reader, however many reports read the id.
  std::unordered_map<int64_t, Known> domains;
  sqlite::Stmt name_stmt;

  const Known* domain(int64_t id, std::string& error) {
    auto it = domains.find(id);
    if (it != domains.end()) return &it->second;
    sqlite::Error e;
    if (!name_stmt) name_stmt = db.prepare("SELECT name FROM domains WHERE id = ?", e);
    if (!name_stmt) {
      error = e.message;
      return nullptr;
    }
    name_stmt.bind(1, id);
    std::string name = name_stmt.step() == SQLITE_ROW ? name_stmt.text(0) : std::string();
    name_stmt.reset();
    Known k{name, map->attribute(name), ""};
    k.key = k.who.key();
    return &domains.emplace(id, std::move(k)).first->second;
  }

  // Runs `sql` with int64 parameters, calling `row` for each result row.
  template <class F>
  bool each(const std::string& sql, std::initializer_list<int64_t> params, std::string& error, F row) {
    sqlite::Error e;
    sqlite::Stmt s = db.prepare(sql, e);
    if (!s) {
      error = e.message;
      return false;
    }
    int i = 1;
    for (int64_t p : params) s.bind(i++, p);
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) row(s);
    if (rc != SQLITE_DONE) {
      error = db.last_error().message;
      return false;
    }
    return true;
  }

  // First and last time per domain for one device (all time).
  bool seen_by(int64_t device_id, std::unordered_map<int64_t, Seen>& out, std::string& error) {
    return each("SELECT domain_id, first_seen, last_seen FROM device_domains WHERE device_id = ?1", {device_id},
                error, [&](const sqlite::Stmt& s) { out[s.int64(0)] = {s.int64(1), s.int64(2)}; });
  }

  // The rowid range holding every raw row of [since, until), from the
  // per-minute first ids (as querylog::Reader does for its raw reads).
  void id_range(int64_t since_us, int64_t until_us, int64_t& lo, int64_t& hi, std::string& error) {
    lo = 0;
    hi = querylog::kForever;
    each("SELECT first_id FROM minute_ids WHERE minute <= ?1 ORDER BY minute DESC LIMIT 1",
         {since_us / kMinuteUs - 1}, error, [&](const sqlite::Stmt& s) { lo = s.int64(0); });
    if (until_us != querylog::kForever)
      each("SELECT first_id FROM minute_ids WHERE minute >= ?1 ORDER BY minute LIMIT 1", {until_us / kMinuteUs + 2},
           error, [&](const sqlite::Stmt& s) { hi = s.int64(0); });
  }
};

std::unique_ptr<ReportReader> ReportReader::open(const std::string& db_path, std::shared_ptr<const CompanyMap> map,
                                                 std::string& error) {
  sqlite::Error e;
  auto log = querylog::Reader::open(db_path, false, e);
  if (!log) {
    error = e.message;
    return nullptr;
  }
  sqlite::Db db = querylog::open_for_reading(db_path, false, e);
  if (!db) {
    error = e.message;
    return nullptr;
  }
  return std::unique_ptr<ReportReader>(new ReportReader(std::move(log), std::move(db), std::move(map)));
}

ReportReader::ReportReader(std::unique_ptr<querylog::Reader> log, sqlite::Db db, std::shared_ptr<const CompanyMap> map)
    : log_(std::move(log)), map_(std::move(map)), d_(std::make_unique<Impl>()) {
  d_->db = std::move(db);
  d_->map = map_.get();
}

ReportReader::~ReportReader() = default;

namespace {

// Device id -> display name.
std::unordered_map<int64_t, std::string> device_names(querylog::Reader& log, std::string& error) {
  std::unordered_map<int64_t, std::string> out;
  sqlite::Error e;
  // No hour is at or after kForever: the device rows without counting.
  for (const querylog::Device& d : log.devices(querylog::kForever, e)) out[d.id] = d.name;
  if (e) error = e.message;
  return out;
}

}  // namespace

DeviceReport ReportReader::device(int64_t device_id, int64_t since_us, int64_t until_us, std::string& error) {
  DeviceReport r;
  r.device_id = device_id;
  auto names = device_names(*log_, error);
  if (!error.empty()) return r;
  auto found = names.find(device_id);
  if (found == names.end()) {
    error = "no device " + std::to_string(device_id);
    return r;
  }
  r.device = found->second;
  std::unordered_map<int64_t, Counts> counts;
  if (!d_->each("SELECT domain_id, sum(total), sum(blocked) FROM domain_days WHERE device_id = ?1 AND day >= ?2 "
                "AND day < ?3 GROUP BY domain_id",
                {device_id, day_floor(since_us), day_end(until_us)}, error,
                [&](const sqlite::Stmt& s) { counts[s.int64(0)] = {s.int64(1), s.int64(2)}; }))
    return r;
  std::unordered_map<int64_t, Seen> seen;
  if (!d_->seen_by(device_id, seen, error)) return r;
  std::map<std::string, CompanyUsage> by_key;
  for (const auto& [id, c] : counts) {
    const Impl::Known* k = d_->domain(id, error);
    if (!k) return {};
    CompanyUsage& u = by_key[k->key];
    if (u.key.empty()) {
      u.key = k->key;
      u.name = k->who.display();
      u.known = k->who.company != nullptr;
      u.devices = 1;
    }
    u.queries += c.queries;
    u.blocked += c.blocked;
    add_category(u.categories, k->who.category);
    Seen s = seen.count(id) ? seen[id] : Seen{};
    u.names.push_back({k->name, k->who.category, c.queries, c.blocked, s.first, s.last});
    r.queries += c.queries;
    r.blocked += c.blocked;
  }
  // First and last seen of a company: over every name of it the device ever
  // asked, not only those in the range.
  for (const auto& [id, s] : seen) {
    const Impl::Known* k = d_->domain(id, error);
    if (!k) return {};
    auto it = by_key.find(k->key);
    if (it == by_key.end()) continue;
    CompanyUsage& u = it->second;
    if (u.first_seen_us == 0 || s.first < u.first_seen_us) u.first_seen_us = s.first;
    u.last_seen_us = std::max(u.last_seen_us, s.last);
  }
  for (auto& [key, u] : by_key) {
    sort_names(u.names);
    r.companies.push_back(std::move(u));
  }
  std::sort(r.companies.begin(), r.companies.end(), [](const CompanyUsage& a, const CompanyUsage& b) {
    return a.queries != b.queries ? a.queries > b.queries : a.name < b.name;
  });
  return r;
}

std::vector<CompanyUsage> ReportReader::overview(int64_t since_us, int64_t until_us, std::string& error) {
  // Rows are summed here rather than with GROUP BY: SQLite would sort every
  // row of the range first, which took twice as long as this on a 2M-query log.
  struct Slot {
    size_t company = 0, name = 0;
  };
  std::vector<CompanyUsage> out;
  std::vector<std::unordered_set<int64_t>> devices;  // per company
  std::unordered_map<std::string, size_t> company_of_key;
  std::unordered_map<int64_t, Slot> slots;  // domain id -> its company and its place in the names
  if (!d_->each("SELECT device_id, domain_id, total, blocked FROM domain_days WHERE day >= ?1 AND day < ?2 "
                "AND device_id != 0",
                {day_floor(since_us), day_end(until_us)}, error, [&](const sqlite::Stmt& s) {
                  auto it = slots.find(s.int64(1));
                  if (it == slots.end()) {
                    const Impl::Known* k = d_->domain(s.int64(1), error);
                    if (!k) return;
                    auto [c, fresh] = company_of_key.try_emplace(k->key, out.size());
                    if (fresh) {
                      out.emplace_back();
                      out.back().key = k->key;
                      out.back().name = k->who.display();
                      out.back().known = k->who.company != nullptr;
                      devices.emplace_back();
                    }
                    CompanyUsage& u = out[c->second];
                    add_category(u.categories, k->who.category);
                    u.names.push_back({k->name, k->who.category, 0, 0, 0, 0});
                    it = slots.emplace(s.int64(1), Slot{c->second, u.names.size() - 1}).first;
                  }
                  CompanyUsage& u = out[it->second.company];
                  NameUsage& n = u.names[it->second.name];
                  u.queries += s.int64(2);
                  u.blocked += s.int64(3);
                  n.queries += s.int64(2);
                  n.blocked += s.int64(3);
                  devices[it->second.company].insert(s.int64(0));
                }))
    return {};
  if (!error.empty()) return {};
  // First and last seen across devices, for the names in the range.
  if (!d_->each("SELECT domain_id, min(first_seen), max(last_seen) FROM device_domains WHERE last_seen >= ?1 "
                "GROUP BY domain_id",
                {since_us}, error, [&](const sqlite::Stmt& s) {
                  auto it = slots.find(s.int64(0));
                  if (it == slots.end()) return;
                  CompanyUsage& u = out[it->second.company];
                  NameUsage& n = u.names[it->second.name];
                  n.first_seen_us = s.int64(1);
                  n.last_seen_us = s.int64(2);
                  if (u.first_seen_us == 0 || n.first_seen_us < u.first_seen_us) u.first_seen_us = n.first_seen_us;
                  u.last_seen_us = std::max(u.last_seen_us, n.last_seen_us);
                }))
    return {};
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].devices = int64_t(devices[i].size());
    sort_names(out[i].names);
  }
  std::sort(out.begin(), out.end(), [](const CompanyUsage& a, const CompanyUsage& b) {
    if (a.devices != b.devices) return a.devices > b.devices;
    return a.queries != b.queries ? a.queries > b.queries : a.name < b.name;
  });
  return out;
}

namespace {

// The report key a user's words name: a company of the map, else the site
// of a domain ("site:example.com" or "www.example.com").
std::string key_for(const CompanyMap& map, const std::string& company, std::string& name, bool& known,
                    std::string& error) {
  if (const Company* c = map.find(company)) {
    name = c->name;
    known = true;
    return c->id;
  }
  std::string domain = company.rfind("site:", 0) == 0 ? company.substr(5) : company;
  if (normalize_name(domain).empty() || domain.find('.') == std::string::npos) {
    error = "no company '" + company + "' in the map (give its id or name, or a domain)";
    return "";
  }
  Attribution a = map.attribute(domain);
  name = a.display();
  known = a.company != nullptr;
  return a.key();
}

}  // namespace

CompanyDevices ReportReader::company(const std::string& company, int64_t since_us, int64_t until_us,
                                     std::string& error) {
  CompanyDevices out;
  out.key = key_for(*map_, company, out.name, out.known, error);
  if (out.key.empty()) return out;
  auto names = device_names(*log_, error);
  if (!error.empty()) return {};
  std::map<int64_t, DeviceContact> by_device;
  std::map<std::pair<int64_t, int64_t>, size_t> name_slot;  // (device, domain) -> index in its names
  if (!d_->each("SELECT device_id, domain_id, total, blocked FROM domain_days WHERE day >= ?1 AND day < ?2 "
                "AND device_id != 0",
                {day_floor(since_us), day_end(until_us)}, error, [&](const sqlite::Stmt& s) {
                  const Impl::Known* k = d_->domain(s.int64(1), error);
                  if (!k || k->key != out.key) return;
                  DeviceContact& c = by_device[s.int64(0)];
                  c.device_id = s.int64(0);
                  c.queries += s.int64(2);
                  c.blocked += s.int64(3);
                  auto [slot, fresh] = name_slot.try_emplace({s.int64(0), s.int64(1)}, c.names.size());
                  if (fresh) c.names.push_back({k->name, k->who.category, 0, 0, 0, 0});
                  c.names[slot->second].queries += s.int64(2);
                  c.names[slot->second].blocked += s.int64(3);
                }))
    return {};
  if (!error.empty()) return {};
  for (auto& [id, c] : by_device) {
    c.device = names.count(id) ? names[id] : std::to_string(id);
    std::unordered_map<int64_t, Seen> seen;
    if (!d_->seen_by(id, seen, error)) return {};
    std::unordered_map<std::string, Seen> by_name;
    for (const auto& [domain_id, s] : seen) {
      const Impl::Known* k = d_->domain(domain_id, error);
      if (!k) return {};
      if (k->key != out.key) continue;
      by_name[k->name] = s;
      if (c.first_seen_us == 0 || s.first < c.first_seen_us) c.first_seen_us = s.first;
      c.last_seen_us = std::max(c.last_seen_us, s.last);
    }
    for (NameUsage& n : c.names) {
      n.first_seen_us = by_name[n.name].first;
      n.last_seen_us = by_name[n.name].last;
    }
    sort_names(c.names);
    out.devices.push_back(std::move(c));
  }
  std::sort(out.devices.begin(), out.devices.end(), [](const DeviceContact& a, const DeviceContact& b) {
    return a.queries != b.queries ? a.queries > b.queries : a.device < b.device;
  });
  return out;
}

std::vector<SeriesPoint> ReportReader::series(const std::string& company, std::optional<int64_t> device_id,
                                              int64_t since_us, int64_t until_us, Step step, std::string& error) {
  std::string name;
  bool known = false;
  std::string key = key_for(*map_, company, name, known, error);
  if (key.empty()) return {};
  int64_t end = until_us == querylog::kForever ? querylog::now_us() : until_us;
  if (step == Step::Auto) step = end - since_us <= kHourlySpan ? Step::Hour : Step::Day;
  std::map<int64_t, SeriesPoint> points;
  auto add = [&](const sqlite::Stmt& s, int64_t unit) {
    const Impl::Known* k = d_->domain(s.int64(1), error);
    if (!k || k->key != key) return;
    SeriesPoint& p = points[s.int64(0)];
    p.start_us = s.int64(0) * unit;
    p.queries += s.int64(2);
    p.blocked += s.int64(3);
  };
  bool ok;
  if (step == Step::Day) {
    ok = d_->each("SELECT day, domain_id, sum(total), sum(blocked) FROM domain_days WHERE device_id = ?1 AND day >= ?2 "
                  "AND day < ?3 GROUP BY day, domain_id",
                  {device_id.value_or(0), day_floor(since_us), day_end(until_us)}, error,
                  [&](const sqlite::Stmt& s) { add(s, kDayUs); });
  } else {
    // Hours come from the raw rows, which the log keeps for its retention
    // period; the id range keeps the read to the rows of the range.
    int64_t lo, hi;
    d_->id_range(since_us, until_us, lo, hi, error);
    if (!error.empty()) return {};
    std::string sql = "SELECT t / " + std::to_string(kHourUs) + ", domain_id, count(*), sum(status = " +
                      std::to_string(int(querylog::Status::Blocked)) +
                      ") FROM queries WHERE id >= ?1 AND id < ?2 AND t >= ?3 AND t < ?4" +
                      (device_id ? " AND device_id = ?5" : "") + " GROUP BY 1, domain_id";
    ok = d_->each(sql, {lo, hi, since_us, until_us, device_id.value_or(0)}, error,
                  [&](const sqlite::Stmt& s) { add(s, kHourUs); });
  }
  if (!ok || !error.empty()) return {};
  std::vector<SeriesPoint> out;
  for (auto& [unit, p] : points) out.push_back(p);
  return out;
}

std::vector<NewContact> ReportReader::new_contacts(std::optional<int64_t> device_id, int64_t since_us, size_t limit,
                                                   std::string& error) {
  std::vector<int64_t> ids;
  if (device_id) {
    ids.push_back(*device_id);
  } else if (!d_->each("SELECT DISTINCT device_id FROM device_domains WHERE last_seen >= ?1 AND first_seen >= ?1",
                       {since_us}, error, [&](const sqlite::Stmt& s) { ids.push_back(s.int64(0)); })) {
    return {};
  }
  auto names = device_names(*log_, error);
  if (!error.empty()) return {};
  std::vector<NewContact> companies, fresh_names;
  for (int64_t id : ids) {
    std::unordered_map<int64_t, Seen> seen;
    if (!d_->seen_by(id, seen, error)) return {};
    // The first name of each company this device asked.
    std::unordered_map<std::string, std::pair<Seen, const Impl::Known*>> first;
    for (const auto& [domain_id, s] : seen) {
      const Impl::Known* k = d_->domain(domain_id, error);
      if (!k) return {};
      auto [it, added] = first.try_emplace(k->key, s, k);
      if (!added && s.first < it->second.first.first) it->second = {s, k};
      if (s.first >= since_us) {
        NewContact n;
        n.kind = NewContact::Kind::Name;
        n.time_us = s.first;
        n.name = k->name;
        n.category = k->who.category;
        n.company_key = k->key;
        n.company = k->who.display();
        n.known = k->who.company != nullptr;
        fresh_names.push_back(std::move(n));
        fresh_names.back().device_id = id;
      }
    }
    for (const auto& [key, f] : first) {
      if (f.first.first < since_us) continue;
      NewContact n;
      n.kind = NewContact::Kind::Company;
      n.time_us = f.first.first;
      n.device_id = id;
      n.company_key = key;
      n.company = f.second->who.display();
      n.known = f.second->who.company != nullptr;
      n.name = f.second->name;
      n.category = f.second->who.category;
      companies.push_back(std::move(n));
    }
  }
  auto newest = [](const NewContact& a, const NewContact& b) {
    if (a.time_us != b.time_us) return a.time_us > b.time_us;
    return a.name < b.name;
  };
  for (auto* list : {&companies, &fresh_names}) {
    std::sort(list->begin(), list->end(), newest);
    if (list->size() > limit) list->resize(limit);
  }
  std::vector<NewContact> out = std::move(companies);
  out.insert(out.end(), fresh_names.begin(), fresh_names.end());
  for (NewContact& n : out) n.device = names.count(n.device_id) ? names[n.device_id] : std::to_string(n.device_id);
  return out;
}

}  // namespace hush::report

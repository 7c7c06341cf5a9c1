#include "report/report.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <type_traits>
#include <unordered_map>

#include "base/clock.hpp"
#include "querylog/schema.hpp"

namespace hush::report {

namespace {

constexpr int64_t kHourlySpan = 2 * kDayUs;
// Domain ids index a vector; SQLite hands them out from 1 upwards.
constexpr int64_t kMaxDomainId = int64_t(1) << 31;
constexpr size_t kMaxName = 65535;  // what a Domain records of a name
// Reading a row by primary key costs about as much as reading 30 rows of a
// range (3 us against 0.1 us, hush_report_bench). A company's rows of one
// device are looked up when they are at most kMaxLookups, or when the
// company has under 1/kLookupCost of the log's names (so about that share
// of the device's rows); else the device's rows of the range are read.
constexpr size_t kLookupCost = 30;
constexpr size_t kMaxLookups = 256;
// A company's (device, name) pairs are read through the domain_id index of
// device_domains while it has at most this share of the names (1/4); a
// bigger one reads the whole table faster.
constexpr size_t kIndexShare = 4;
// First contacts: a device's new companies with at most this many names are
// checked for an older name by look-ups, kMaxLookups in all; the rest by
// reading the device's older names.
constexpr size_t kMaxLookupNames = 16;
// First contacts since a day at most this many days before a device's newest
// day count read the names that day counts hold; longer periods read all
// the device's names once.
constexpr int64_t kNarrowDays = 2;

int64_t day_floor(int64_t us) { return us / kDayUs; }
int64_t day_end(int64_t us) {
  if (us == querylog::kForever) return querylog::kForever / kDayUs;
  return us / kDayUs + (us % kDayUs != 0 ? 1 : 0);
}

void sort_names(std::vector<NameUsage>& names) {
  std::sort(names.begin(), names.end(), [](const NameUsage& a, const NameUsage& b) {
    return a.queries != b.queries ? a.queries > b.queries : a.name < b.name;
  });
}

void add_category(std::vector<std::string>& cats, std::string_view c) {
  if (c.empty()) return;
  auto at = std::lower_bound(cats.begin(), cats.end(), c);
  if (at == cats.end() || *at != c) cats.emplace(at, c);
}

void widen(int64_t& first, int64_t& last, int64_t f, int64_t l) {
  if (first == 0 || f < first) first = f;
  last = std::max(last, l);
}

// A report's sums, by domain id and by group (see Impl), in arrays indexed
// by id: a device's rows come in id order within each day, so the sums are
// walked front to back rather than jumped around (a slot per name, in the
// order the names came, made the overview 40% slower).
struct Tally {
  struct Counts {
    int64_t queries = 0, blocked = 0;
  };
  struct Seen {
    int64_t first = 0, last = 0;
  };
  struct Group {
    int64_t devices = 0, last_device = 0;
    int64_t first = 0, last = 0;
    bool in_range = false;
  };
  std::vector<Counts> counts;
  std::vector<uint8_t> in_range;  // 1: the name has rows in the range
  std::vector<Seen> seen;
  std::vector<Group> groups;

  Tally(size_t domain_count, size_t group_count)
      : counts(domain_count), in_range(domain_count), seen(domain_count), groups(group_count) {}
};

}  // namespace

// The attribution of every name of the `domains` table, by domain id: the
// map walk and the registrable domain happen once per name, however many
// reports and readers read the id. Made by one reader and never changed
// after: readers over one map share it by pointer (AttributionCache), and
// new names make a new one (the old one copied, then extended).
struct NameIndex {
  struct Domain {
    uint32_t name_offset = 0;
    uint16_t name_size = 0;
    uint16_t category = 0;  // index into categories
  };
  // A company, or the registrable domain of names without one: what a
  // report groups by.
  struct Group {
    std::string key, name;
    bool known = false;
    std::vector<int64_t> ids;  // its domain ids
  };
  std::string names;  // the names, back to back
  std::vector<Domain> domains;  // by id
  // By id: index into groups; -1: no name with this id. Apart from `domains`
  // because the scans read only this, and it is half the size.
  std::vector<int32_t> group_of_id;
  std::vector<Group> groups;
  std::vector<std::string_view> categories{""};  // views into the map
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<const Company*, int32_t> group_of_company;
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> group_of_company_id;  // company id -> group
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> group_of_site;    // registrable domain -> group
  int64_t loaded_max = 0;  // highest id read
  size_t loaded = 0;       // names read

  std::string_view name_of(int64_t id) const {
    const Domain& d = domains[size_t(id)];
    return {names.data() + d.name_offset, d.name_size};
  }
  int32_t group_id(int64_t id) const {
    return id > 0 && id < int64_t(group_of_id.size()) ? group_of_id[size_t(id)] : -1;
  }

  int32_t group_for(const Company* company, std::string_view name) {
    if (company) {
      auto [it, added] = group_of_company.try_emplace(company, int32_t(groups.size()));
      if (added) {
        groups.push_back({company->id, company->name, true, {}});
        group_of_company_id.emplace(company->id, it->second);
      }
      return it->second;
    }
    std::string site = registrable_domain(name);
    if (auto it = group_of_site.find(site); it != group_of_site.end()) return it->second;
    int32_t g = int32_t(groups.size());
    groups.push_back({"site:" + site, site, false, {}});
    group_of_site.emplace(std::move(site), g);
    return g;
  }

  uint16_t category_of(std::string_view c) {
    for (size_t i = 0; i < categories.size(); ++i)
      if (categories[i].data() == c.data() || categories[i] == c) return uint16_t(i);
    categories.push_back(c);
    return uint16_t(categories.size() - 1);
  }

  bool add(const CompanyMap& map, int64_t id, std::string_view name, std::string& error) {
    if (id <= 0 || id >= kMaxDomainId) {
      error = "domain id " + std::to_string(id) + " in the query log is out of range";
      return false;
    }
    name = name.substr(0, kMaxName);
    if (size_t(id) >= domains.size()) {
      domains.resize(size_t(id) + 1);
      group_of_id.resize(size_t(id) + 1, -1);
    }
    Match m = map.match(name);
    Domain& d = domains[size_t(id)];
    d.name_offset = uint32_t(names.size());
    d.name_size = uint16_t(name.size());
    d.category = category_of(m.category);
    int32_t g = group_of_id[size_t(id)] = group_for(m.company, name);
    names.append(name);
    groups[size_t(g)].ids.push_back(id);
    loaded_max = std::max(loaded_max, id);
    ++loaded;
    return true;
  }

  // The group a user's words name, after key_for(); -1 when no name of the
  // log belongs to it.
  int32_t group_of(const std::string& key) const {
    bool site = key.rfind("site:", 0) == 0;
    const auto& table = site ? group_of_site : group_of_company_id;
    auto it = table.find(std::string_view(key).substr(site ? 5 : 0));
    return it == table.end() ? -1 : it->second;
  }
};

AttributionCache::AttributionCache(std::shared_ptr<const CompanyMap> map) : map_(std::move(map)) {}
AttributionCache::~AttributionCache() = default;

struct ReportReader::Impl {
  sqlite::Db db;
  const CompanyMap* map = nullptr;
  std::unordered_map<std::string, sqlite::Stmt> stmts;
  std::shared_ptr<AttributionCache> cache;
  // The attribution the current report reads: set by refresh(), unchanged
  // until the report ends (ReadTransaction lets go of it).
  std::shared_ptr<const NameIndex> a;

  // Adds a row's counts to its name; its group, or -1 for an id without a name.
  int32_t count(Tally& t, int64_t id, int64_t queries, int64_t blocked) const {
    int32_t g = a->group_id(id);
    if (g < 0) return -1;
    Tally::Counts& c = t.counts[size_t(id)];
    c.queries += queries;
    c.blocked += blocked;
    t.in_range[size_t(id)] = 1;
    t.groups[size_t(g)].in_range = true;
    return g;
  }

  sqlite::Stmt* prepared(const std::string& sql, std::string& error) {
    auto it = stmts.find(sql);
    if (it != stmts.end()) return &it->second;
    sqlite::Error e;
    sqlite::Stmt s = db.prepare(sql, e);
    if (!s) {
      error = e.message;
      return nullptr;
    }
    return &stmts.emplace(sql, std::move(s)).first->second;
  }

  // Steps a bound statement, calling `row` for each result row; a `row`
  // returning bool stops the query by returning false.
  template <class F>
  bool run(sqlite::Stmt& s, std::string& error, F row) {
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      if constexpr (std::is_same_v<decltype(row(s)), bool>) {
        if (!row(s)) {
          s.reset();
          return true;
        }
      } else {
        row(s);
      }
    }
    if (rc != SQLITE_DONE) {
      error = db.last_error().message;
      return false;
    }
    return true;
  }

  // Runs `sql` with int64 parameters.
  template <class F>
  bool each(const std::string& sql, std::initializer_list<int64_t> params, std::string& error, F row) {
    sqlite::Stmt* s = prepared(sql, error);
    if (!s) return false;
    int i = 1;
    for (int64_t p : params) s->bind(i++, p);
    return run(*s, error, row);
  }

  // Whether `s` holds every name this read transaction sees, whose highest
  // id is `max_id`: it must have read that far, and its name of the highest
  // id both know must still be the log's. A new name gets an id above every
  // kept one (SQLite gives max(id) + 1), so an id comes back with another
  // name only when the highest row itself was removed, which that check
  // sees. `extend`: it is right but short of names, which can be added.
  bool covers(const NameIndex& s, int64_t max_id, bool& extend, std::string& error) {
    extend = false;
    const int64_t check = std::min(s.loaded_max, max_id);
    if (check > 0) {
      bool same = false;
      if (!each("SELECT name FROM domains WHERE id = ?1", {check}, error, [&](const sqlite::Stmt& row) {
            same = s.group_id(check) >= 0 && row.text(0).substr(0, kMaxName) == s.name_of(check);
          }))
        return false;
      if (!same) return false;
    }
    if (s.loaded_max >= max_id) return true;
    extend = true;
    return false;
  }

  // Adds the names of this transaction above the highest id `into` holds.
  bool read_names(NameIndex& into, std::string& error) {
    bool ok = true;
    return each("SELECT id, name FROM domains WHERE id > ?1", {into.loaded_max}, error,
                [&](const sqlite::Stmt& s) {
                  const unsigned char* p = sqlite3_column_text(s.get(), 1);
                  size_t size = p ? size_t(sqlite3_column_bytes(s.get(), 1)) : 0;
                  std::string_view name(reinterpret_cast<const char*>(p), size);
                  ok = into.add(*map, s.int64(0), name, error);
                  return ok;
                }) &&
           ok;
  }

  // Points `a` at an attribution of every name this read transaction sees:
  // the shared one when it has them all; else one reader at a time makes
  // the next and shares it, while the others wait for it rather than read
  // every name again. New names extend the shared one in place when no
  // report holds it (readers let go of it at the end of each report), and
  // a copy of it otherwise: one being read never changes.
  bool refresh(std::string& error) {
    int64_t max_id = 0;
    if (!each("SELECT max(id) FROM domain_names", {}, error, [&](const sqlite::Stmt& s) { max_id = s.int64(0); }))
      return false;
    auto current = [&] {
      std::lock_guard lock(cache->mu_);
      return cache->current_;
    };
    bool extend = false;
    std::shared_ptr<NameIndex> s = current();
    if (s && covers(*s, max_id, extend, error)) {
      a = std::move(s);
      return true;
    }
    if (!error.empty()) return false;
    std::lock_guard build(cache->build_mu_);
    s = current();
    if (s && covers(*s, max_id, extend, error)) {
      a = std::move(s);
      return true;
    }
    if (!error.empty()) return false;
    std::shared_ptr<NameIndex> next;
    if (s && extend) {
      std::lock_guard lock(cache->mu_);
      // Held by the cache and `s` only: no report reads it, and none can
      // take it while the cache is without it.
      if (s.use_count() == 2) {
        // The last report to let go of it did so with a release: see its
        // reads done before the names are added.
        std::atomic_thread_fence(std::memory_order_acquire);
        next = std::move(s);
        cache->current_.reset();
      }
    }
    if (!next) next = s && extend ? std::make_shared<NameIndex>(*s) : std::make_shared<NameIndex>();
    s.reset();
    if (!read_names(*next, error)) return false;
    {
      std::lock_guard lock(cache->mu_);
      cache->current_ = next;
    }
    a = std::move(next);
    return true;
  }

  // The next device id above `after` with rows in `table` (a walk over the
  // primary key, one seek per device).
  bool next_device(const char* table, int64_t after, int64_t& out, std::string& error) {
    out = 0;
    return each(std::string("SELECT device_id FROM ") + table + " WHERE device_id > ?1 ORDER BY device_id LIMIT 1",
                {after}, error, [&](const sqlite::Stmt& s) { out = s.int64(0); });
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

  NameUsage name_usage(int64_t id, int64_t queries, int64_t blocked, int64_t first, int64_t last) const {
    return {std::string(a->name_of(id)), std::string(a->categories[a->domains[size_t(id)].category]), queries, blocked, first,
            last};
  }

  // A report's companies from its tallies: every name with rows in the
  // range, with the devices and first/last seen of its group.
  std::vector<CompanyUsage> usages(const Tally& t) const {
    std::vector<CompanyUsage> out;
    std::vector<int32_t> slot(a->groups.size(), -1);
    for (size_t id = 1; id < t.counts.size(); ++id) {
      if (!t.in_range[id]) continue;
      const Tally::Counts& c = t.counts[id];
      const int32_t g = a->group_of_id[id];
      int32_t& s = slot[size_t(g)];
      if (s < 0) {
        s = int32_t(out.size());
        const NameIndex::Group& group = a->groups[size_t(g)];
        const Tally::Group& tg = t.groups[size_t(g)];
        CompanyUsage& u = out.emplace_back();
        u.key = group.key;
        u.name = group.name;
        u.known = group.known;
        u.devices = tg.devices;
        u.first_seen_us = tg.first;
        u.last_seen_us = tg.last;
      }
      CompanyUsage& u = out[size_t(s)];
      u.queries += c.queries;
      u.blocked += c.blocked;
      u.names.push_back(name_usage(int64_t(id), c.queries, c.blocked, t.seen[id].first, t.seen[id].last));
      add_category(u.categories, a->categories[a->domains[id].category]);
    }
    for (CompanyUsage& u : out) sort_names(u.names);
    return out;
  }
};

namespace {

// One read transaction per report, so every table is read as of one moment
// while hush keeps writing.
// At its end the report lets go of the attribution, so that new names can
// extend it in place rather than in a copy.
class ReadTransaction {
 public:
  explicit ReadTransaction(ReportReader::Impl& d) : d_(d), open_(!d.db.exec("BEGIN")) {}
  ~ReadTransaction() {
    d_.a.reset();
    if (open_) d_.db.exec("COMMIT");
  }

 private:
  ReportReader::Impl& d_;
  bool open_;
};


}  // namespace

std::unique_ptr<ReportReader> ReportReader::open(const std::string& db_path, std::shared_ptr<const CompanyMap> map,
                                                 std::string& error, std::shared_ptr<AttributionCache> shared) {
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
  return std::unique_ptr<ReportReader>(
      new ReportReader(std::move(log), std::move(db), std::move(map), std::move(shared)));
}

ReportReader::ReportReader(std::unique_ptr<querylog::Reader> log, sqlite::Db db, std::shared_ptr<const CompanyMap> map,
                           std::shared_ptr<AttributionCache> shared)
    : log_(std::move(log)), map_(std::move(map)), d_(std::make_unique<Impl>()) {
  d_->db = std::move(db);
  d_->map = map_.get();
  // Shared only by readers over the same map: it attributes by it.
  d_->cache = shared && shared->map_ == map_ ? std::move(shared) : std::make_shared<AttributionCache>(map_);
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

bool ReportReader::prepare(std::string& error) {
  ReadTransaction tx(*d_);
  return d_->refresh(error);
}

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
  ReadTransaction tx(*d_);
  if (!d_->refresh(error)) return {};
  Tally t(d_->a->domains.size(), d_->a->groups.size());
  if (!d_->each("SELECT domain_id, total, blocked FROM domain_days WHERE device_id = ?1 AND day >= ?2 AND day < ?3",
                {device_id, day_floor(since_us), day_end(until_us)}, error,
                [&](const sqlite::Stmt& s) { d_->count(t, s.int64(0), s.int64(1), s.int64(2)); }))
    return {};
  // First and last seen of a company: over every name of it the device ever
  // asked, not only those in the range.
  if (!d_->each("SELECT domain_id, first_seen, last_seen FROM device_domains WHERE device_id = ?1", {device_id}, error,
                [&](const sqlite::Stmt& s) {
                  int32_t g = d_->a->group_id(s.int64(0));
                  if (g < 0) return;
                  t.seen[size_t(s.int64(0))] = {s.int64(1), s.int64(2)};
                  Tally::Group& tg = t.groups[size_t(g)];
                  if (tg.in_range) widen(tg.first, tg.last, s.int64(1), s.int64(2));
                }))
    return {};
  for (Tally::Group& g : t.groups) g.devices = 1;
  r.companies = d_->usages(t);
  for (const CompanyUsage& u : r.companies) {
    r.queries += u.queries;
    r.blocked += u.blocked;
  }
  std::sort(r.companies.begin(), r.companies.end(), [](const CompanyUsage& a, const CompanyUsage& b) {
    return a.queries != b.queries ? a.queries > b.queries : a.name < b.name;
  });
  r.bypass = bypass_evidence(r.companies);
  return r;
}

Matrix ReportReader::matrix(int64_t since_us, int64_t until_us, size_t max_devices, size_t max_companies,
                            size_t company_offset, std::string& error) {
  Matrix m;
  auto names = device_names(*log_, error);
  if (!error.empty()) return m;
  ReadTransaction tx(*d_);
  if (!d_->refresh(error)) return m;
  const int64_t end = until_us == querylog::kForever ? hush::now_us() : until_us;
  const int64_t day0 = day_floor(since_us), day1 = day_end(end);
  // The strips: hours over a short range, else the range's days (read with
  // the cells below, from the daily counts).
  const bool hourly = end - since_us <= kHourlySpan;
  const int64_t hour0 = since_us / kHourUs, hour1 = (end + kHourUs - 1) / kHourUs;
  const size_t strip_cells = size_t(hourly ? hour1 - hour0 : day1 - day0);
  m.strip_step_us = hourly ? kHourUs : kDayUs;
  m.strip_start_us = hourly ? hour0 * kHourUs : day0 * kDayUs;
  // Per device, its groups' counts: a range read per device in primary-key
  // order, as overview() does for ranges before the newest day.
  std::vector<std::pair<int64_t, std::unordered_map<int32_t, Matrix::Cell>>> per_device;
  std::vector<Matrix::Column> totals(d_->a->groups.size());
  std::unordered_map<int32_t, std::vector<Matrix::Cell>> strips;
  for (int64_t device = 0;;) {
    if (!d_->next_device("domain_days", device, device, error)) return {};
    if (device == 0) break;
    std::unordered_map<int32_t, Matrix::Cell> cells;
    if (!d_->each("SELECT domain_id, total, blocked, day FROM domain_days WHERE device_id = ?1 AND day >= ?2 AND day < ?3",
                  {device, day0, day1}, error, [&](const sqlite::Stmt& s) {
                    int32_t g = d_->a->group_id(s.int64(0));
                    if (g < 0) return;
                    if (!hourly) {
                      auto& strip = strips[g];
                      strip.resize(strip_cells);
                      strip[size_t(s.int64(3) - day0)].queries += s.int64(1);
                      strip[size_t(s.int64(3) - day0)].blocked += s.int64(2);
                    }
                    Matrix::Cell& c = cells[g];
                    c.queries += s.int64(1);
                    c.blocked += s.int64(2);
                  }))
      return {};
    std::erase_if(cells, [](const auto& e) { return e.second.queries == 0; });
    for (const auto& [g, c] : cells) {
      Matrix::Column& t = totals[size_t(g)];
      ++t.devices;
      t.queries += c.queries;
      t.blocked += c.blocked;
    }
    if (!cells.empty()) per_device.emplace_back(device, std::move(cells));
  }
  std::vector<int32_t> order;
  for (size_t g = 0; g < totals.size(); ++g)
    if (totals[g].queries) order.push_back(int32_t(g));
  m.companies_total = order.size();
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const auto &x = totals[size_t(a)], &y = totals[size_t(b)];
    bool kx = d_->a->groups[size_t(a)].known, ky = d_->a->groups[size_t(b)].known;
    if (kx != ky) return kx;
    return x.devices != y.devices ? x.devices > y.devices : x.queries > y.queries;
  });
  order.erase(order.begin(), order.begin() + std::ptrdiff_t(std::min(company_offset, order.size())));
  if (order.size() > max_companies) order.resize(max_companies);
  if (hourly && !order.empty() && !hourly_strips(order, since_us, end, hour0, strip_cells, strips, error)) return {};
  for (int32_t g : order) {
    Matrix::Column c = totals[size_t(g)];
    c.key = d_->a->groups[size_t(g)].key;
    c.name = d_->a->groups[size_t(g)].name;
    c.known = d_->a->groups[size_t(g)].known;
    c.strip = strips.count(g) ? strips[g] : std::vector<Matrix::Cell>(strip_cells);
    m.companies.push_back(std::move(c));
  }
  std::vector<std::pair<Matrix::Row, std::vector<Matrix::Cell>>> rows;
  for (const auto& [device, cells] : per_device) {
    Matrix::Row r;
    r.device_id = device;
    auto n = names.find(device);
    r.device = n == names.end() ? "device " + std::to_string(device) : n->second;
    std::vector<Matrix::Cell> line(order.size());
    for (size_t i = 0; i < order.size(); ++i)
      if (auto it = cells.find(order[i]); it != cells.end()) {
        line[i] = it->second;
        r.queries += it->second.queries;
        r.blocked += it->second.blocked;
      }
    if (r.queries) rows.emplace_back(std::move(r), std::move(line));
  }
  m.devices_total = rows.size();
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.first.queries != b.first.queries ? a.first.queries > b.first.queries : a.first.device < b.first.device;
  });
  if (rows.size() > max_devices) rows.resize(max_devices);
  for (auto& [r, line] : rows) {
    m.devices.push_back(std::move(r));
    m.cells.push_back(std::move(line));
  }
  return m;
}

// The hourly strips of the companies in `groups`: one pass over the raw
// rows of [since, until) (a day's rows), grouped by hour and name.
bool ReportReader::hourly_strips(const std::vector<int32_t>& groups, int64_t since_us, int64_t until_us,
                                 int64_t hour0, size_t cells,
                                 std::unordered_map<int32_t, std::vector<Matrix::Cell>>& strips, std::string& error) {
  std::unordered_map<int32_t, std::vector<Matrix::Cell>> out;
  for (int32_t g : groups) out[g].resize(cells);
  int64_t lo, hi;
  d_->id_range(since_us, until_us, lo, hi, error);
  if (!error.empty()) return false;
  std::string sql = "SELECT t / " + std::to_string(kHourUs) + ", domain_id, count(*), sum(status = " +
                    std::to_string(int(querylog::Status::Blocked)) +
                    ") FROM queries WHERE id >= ?1 AND id < ?2 AND t >= ?3 AND t < ?4 GROUP BY 1, domain_id";
  bool ok = d_->each(sql, {lo, hi, since_us, until_us}, error, [&](const sqlite::Stmt& s) {
    auto it = out.find(d_->a->group_id(s.int64(1)));
    size_t i = size_t(s.int64(0) - hour0);
    if (it == out.end() || i >= cells) return;
    it->second[i].queries += s.int64(2);
    it->second[i].blocked += s.int64(3);
  });
  if (!ok || !error.empty()) return false;
  strips = std::move(out);
  return true;
}

std::vector<CompanyUsage> ReportReader::overview(int64_t since_us, int64_t until_us, std::string& error) {
  ReadTransaction tx(*d_);
  if (!d_->refresh(error)) return {};
  const int64_t day0 = day_floor(since_us), day1 = day_end(until_us);
  int64_t first_day = 0, last_day = -1;  // of the log: device 0 has a row for every day of any device
  if (!d_->each("SELECT min(day) FROM domain_days WHERE device_id = 0", {}, error,
                [&](const sqlite::Stmt& s) { first_day = s.int64(0); }) ||
      !d_->each("SELECT max(day) FROM domain_days WHERE device_id = 0", {}, error,
                [&](const sqlite::Stmt& s) { last_day = s.is_null(0) ? -1 : s.int64(0); }))
    return {};
  Tally t(d_->a->domains.size(), d_->a->groups.size());
  auto count_device = [&](int64_t device, int32_t g) {
    Tally::Group& tg = t.groups[size_t(g)];
    if (tg.last_device == device) return false;
    tg.last_device = device;
    ++tg.devices;
    return true;
  };
  // A range that runs to the log's newest day takes the counts from device
  // 0 (the sum of every device, half the rows) and the devices from the
  // first/last-seen rows read below anyway: a device asked a name in such a
  // range exactly when it last asked it on or after the range's first day.
  // The log's first day is the exception: when old days expire, their
  // first/last-seen rows go before the day's counts (Store::prune_step), so
  // its rows are read per device. Other ranges read every device's rows.
  const bool to_newest = day1 > last_day;
  const int64_t pairs_from = std::max(day0, first_day + 1) * kDayUs;
  if (to_newest) {
    if (!d_->each("SELECT domain_id, total, blocked FROM domain_days WHERE device_id = 0 AND day >= ?1 AND day < ?2",
                  {day0, day1}, error,
                  [&](const sqlite::Stmt& s) { d_->count(t, s.int64(0), s.int64(1), s.int64(2)); }))
      return {};
  } else {
    // Each device's rows of the range in primary-key order: a range read per
    // device, summed here (SQLite's GROUP BY would sort every row first).
    for (int64_t device = 0;;) {
      if (!d_->next_device("domain_days", device, device, error)) return {};
      if (device == 0) break;
      if (!d_->each("SELECT domain_id, total, blocked FROM domain_days WHERE device_id = ?1 AND day >= ?2 AND day < ?3",
                    {device, day0, day1}, error, [&](const sqlite::Stmt& s) {
                      int32_t g = d_->count(t, s.int64(0), s.int64(1), s.int64(2));
                      if (g >= 0) count_device(device, g);
                    }))
        return {};
    }
  }
  // First and last seen across devices, for the names in the range (and the
  // devices, see above). The '+' keeps SQLite off the last_seen index: for
  // most ranges most rows qualify, and each would cost a look-up in the table.
  std::vector<std::pair<int64_t, int32_t>> counted;  // (device, group) counted from the pairs, in device order
  if (!d_->each("SELECT device_id, domain_id, first_seen, last_seen FROM device_domains WHERE +last_seen >= ?1",
                {to_newest ? std::min(since_us, pairs_from) : since_us}, error, [&](const sqlite::Stmt& s) {
                  int64_t id = s.int64(1), last = s.int64(3);
                  if (id <= 0 || size_t(id) >= t.counts.size() || !t.in_range[size_t(id)]) return;
                  if (last >= since_us) {
                    Tally::Seen& seen = t.seen[size_t(id)];
                    if (seen.first == 0 || s.int64(2) < seen.first) seen.first = s.int64(2);
                    seen.last = std::max(seen.last, last);
                  }
                  if (to_newest && last >= pairs_from) {
                    int32_t g = d_->a->group_of_id[size_t(id)];
                    if (count_device(s.int64(0), g)) counted.emplace_back(s.int64(0), g);
                  }
                }))
    return {};
  if (to_newest && day0 <= first_day) {
    std::vector<int64_t> seen_by(d_->a->groups.size(), 0);  // group -> last device that counted it
    size_t at = 0;
    for (int64_t device = 0;;) {
      if (!d_->next_device("domain_days", device, device, error)) return {};
      if (device == 0) break;
      for (; at < counted.size() && counted[at].first <= device; ++at)
        if (counted[at].first == device) seen_by[size_t(counted[at].second)] = device;
      if (!d_->each("SELECT domain_id FROM domain_days WHERE device_id = ?1 AND day = ?2", {device, first_day}, error,
                    [&](const sqlite::Stmt& s) {
                      int32_t g = d_->a->group_id(s.int64(0));
                      if (g < 0 || seen_by[size_t(g)] == device) return;
                      seen_by[size_t(g)] = device;
                      ++t.groups[size_t(g)].devices;
                    }))
        return {};
    }
  }
  for (size_t id = 1; id < t.counts.size(); ++id)
    if (t.in_range[id] && t.seen[id].first != 0) {
      Tally::Group& tg = t.groups[size_t(d_->a->group_of_id[id])];
      widen(tg.first, tg.last, t.seen[id].first, t.seen[id].last);
    }
  std::vector<CompanyUsage> out = d_->usages(t);
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
  ReadTransaction tx(*d_);
  if (!d_->refresh(error)) return {};
  const int32_t group = d_->a->group_of(out.key);
  if (group < 0) return out;
  const std::vector<int64_t>& ids = d_->a->groups[size_t(group)].ids;
  const int64_t day0 = day_floor(since_us), day1 = day_end(until_us);

  // Every (device, name) of the company with its first and last time: by
  // the domain_id index for the company's names, unless it has so many that
  // reading the whole table is faster.
  struct Pair {
    int64_t device, domain, first, last;
    int64_t queries = 0, blocked = 0;
    bool in_range = false;  // has rows in the range
  };
  std::vector<Pair> pairs;
  auto add_pair = [&](const sqlite::Stmt& s) { pairs.push_back({s.int64(0), s.int64(1), s.int64(2), s.int64(3)}); };
  if (ids.size() * kIndexShare <= d_->a->loaded) {
    std::string list = "[";
    for (int64_t id : ids) list += std::to_string(id) + ",";
    list.back() = ']';
    sqlite::Stmt* st = d_->prepared(
        "SELECT device_id, domain_id, first_seen, last_seen FROM device_domains "
        "WHERE domain_id IN (SELECT value FROM json_each(?1))",
        error);
    if (!st || !d_->run(st->bind(1, list), error, add_pair)) return {};
  } else if (!d_->each("SELECT device_id, domain_id, first_seen, last_seen FROM device_domains WHERE device_id > ?1",
                       {0}, error, [&](const sqlite::Stmt& s) {
                         if (d_->a->group_id(s.int64(1)) == group) add_pair(s);
                       })) {
    return {};
  }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
    return a.device != b.device ? a.device < b.device : a.domain < b.domain;
  });
  // A pair's rows lie between the days of its first and last time.
  auto days = [&](const Pair& p) {
    return std::pair{std::max(day0, day_floor(p.first)), std::min(day1, day_floor(p.last) + 1)};
  };
  auto add_row = [](Pair& p, int64_t queries, int64_t blocked) {
    p.queries += queries;
    p.blocked += blocked;
    p.in_range = true;
  };
  // Per device: its pairs' rows by look-up when there are few, else its rows
  // of the range, matched to its pairs.
  std::vector<int32_t> slot(d_->a->domains.size(), -1);
  for (size_t i = 0; i < pairs.size();) {
    size_t j = i, lookups = 0;
    for (; j < pairs.size() && pairs[j].device == pairs[i].device; ++j) {
      auto [from, to] = days(pairs[j]);
      if (from < to) lookups += size_t(to - from);
    }
    if (lookups > 0 && (lookups <= kMaxLookups || ids.size() * kLookupCost <= d_->a->loaded)) {
      for (size_t k = i; k < j; ++k) {
        Pair& p = pairs[k];
        auto [from, to] = days(p);
        for (int64_t day = from; day < to; ++day)
          if (!d_->each("SELECT total, blocked FROM domain_days WHERE device_id = ?1 AND day = ?2 AND domain_id = ?3",
                        {p.device, day, p.domain}, error,
                        [&](const sqlite::Stmt& s) { add_row(p, s.int64(0), s.int64(1)); }))
            return {};
      }
    } else if (lookups > 0) {
      for (size_t k = i; k < j; ++k) slot[size_t(pairs[k].domain)] = int32_t(k);
      if (!d_->each("SELECT domain_id, total, blocked FROM domain_days WHERE device_id = ?1 AND day >= ?2 AND day < ?3",
                    {pairs[i].device, day0, day1}, error, [&](const sqlite::Stmt& s) {
                      int64_t id = s.int64(0);
                      if (id > 0 && size_t(id) < slot.size() && slot[size_t(id)] >= 0)
                        add_row(pairs[size_t(slot[size_t(id)])], s.int64(1), s.int64(2));
                    }))
        return {};
      for (size_t k = i; k < j; ++k) slot[size_t(pairs[k].domain)] = -1;
    }
    i = j;
  }
  // A device talked to the company when it has rows in the range; its first
  // and last seen are over every name of the company it ever asked.
  for (size_t i = 0; i < pairs.size();) {
    DeviceContact c;
    c.device_id = pairs[i].device;
    size_t j = i;
    for (; j < pairs.size() && pairs[j].device == c.device_id; ++j) {
      const Pair& p = pairs[j];
      widen(c.first_seen_us, c.last_seen_us, p.first, p.last);
      if (!p.in_range) continue;
      c.queries += p.queries;
      c.blocked += p.blocked;
      c.names.push_back(d_->name_usage(p.domain, p.queries, p.blocked, p.first, p.last));
    }
    i = j;
    if (c.names.empty()) continue;
    c.device = names.count(c.device_id) ? names[c.device_id] : std::to_string(c.device_id);
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
  int64_t end = until_us == querylog::kForever ? hush::now_us() : until_us;
  if (step == Step::Auto) step = end - since_us <= kHourlySpan ? Step::Hour : Step::Day;
  ReadTransaction tx(*d_);
  if (!d_->refresh(error)) return {};
  const int32_t group = d_->a->group_of(key);
  if (group < 0) return {};
  std::map<int64_t, SeriesPoint> points;
  auto add = [&](int64_t unit_index, int64_t unit, int64_t queries, int64_t blocked) {
    SeriesPoint& p = points[unit_index];
    p.start_us = unit_index * unit;
    p.queries += queries;
    p.blocked += blocked;
  };
  bool ok;
  if (step == Step::Day) {
    const int64_t day0 = day_floor(since_us), day1 = day_end(until_us);
    const std::vector<int64_t>& ids = d_->a->groups[size_t(group)].ids;
    // For every device together, a small company's rows (see kLookupCost)
    // are looked up, over the days the log has (an open range ends at
    // kForever); otherwise the range's rows are read (one device has few).
    int64_t first_day = day0, last_day = day0;
    if (!device_id &&
        (!d_->each("SELECT min(day) FROM domain_days WHERE device_id = 0", {}, error,
                   [&](const sqlite::Stmt& s) { first_day = std::max(day0, s.int64(0)); }) ||
         !d_->each("SELECT max(day) FROM domain_days WHERE device_id = 0", {}, error,
                   [&](const sqlite::Stmt& s) { last_day = s.is_null(0) ? day0 : std::min(day1, s.int64(0) + 1); })))
      return {};
    if (!device_id && last_day > first_day && ids.size() * kLookupCost <= d_->a->loaded) {
      ok = true;
      for (int64_t id : ids)
        for (int64_t day = first_day; ok && day < last_day; ++day)
          ok = d_->each("SELECT total, blocked FROM domain_days WHERE device_id = 0 AND day = ?1 AND domain_id = ?2",
                        {day, id}, error, [&](const sqlite::Stmt& s) { add(day, kDayUs, s.int64(0), s.int64(1)); });
    } else {
      ok = d_->each("SELECT day, domain_id, total, blocked FROM domain_days WHERE device_id = ?1 AND day >= ?2 AND "
                    "day < ?3",
                    {device_id.value_or(0), day0, day1}, error, [&](const sqlite::Stmt& s) {
                      if (d_->a->group_id(s.int64(1)) == group) add(s.int64(0), kDayUs, s.int64(2), s.int64(3));
                    });
    }
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
    ok = d_->each(sql, {lo, hi, since_us, until_us, device_id.value_or(0)}, error, [&](const sqlite::Stmt& s) {
      if (d_->a->group_id(s.int64(1)) == group) add(s.int64(0), kHourUs, s.int64(2), s.int64(3));
    });
  }
  if (!ok || !error.empty()) return {};
  std::vector<SeriesPoint> out;
  for (auto& [unit, p] : points) out.push_back(p);
  return out;
}

std::vector<NewContact> ReportReader::new_contacts(std::optional<int64_t> device_id, int64_t since_us, size_t limit,
                                                   std::string& error, NewContactTotals* totals) {
  auto names = device_names(*log_, error);
  if (!error.empty()) return {};
  ReadTransaction tx(*d_);
  if (!d_->refresh(error)) return {};
  // Contacts stay ids and times until the newest `limit` of each kind are known.
  struct Fresh {
    int64_t device, domain, time;
  };
  std::vector<Fresh> companies, fresh_names;
  // Per group, for the device at hand: whether it asked an older name of it.
  constexpr int8_t kUnknown = 0, kOlder = 1, kPending = 2;  // kPending: to be found by the scan
  std::vector<int8_t> older(d_->a->groups.size(), kUnknown);
  std::vector<Fresh> first_of(d_->a->groups.size(), {0, 0, 0});  // per group: the device's first new name of it
  for (int64_t device = device_id.value_or(0);;) {
    if (!device_id && !d_->next_device("device_domains", device, device, error)) return {};
    if (device == 0) break;
    std::vector<int32_t> fresh_groups, touched;
    auto take = [&](int64_t domain, int64_t time) {
      Fresh f{device, domain, time};
      int32_t g = d_->a->group_id(f.domain);
      if (g < 0) return;
      fresh_names.push_back(f);
      Fresh& first = first_of[size_t(g)];
      if (first.domain == 0) fresh_groups.push_back(g);
      if (first.domain == 0 || f.time < first.time ||
          (f.time == first.time && d_->a->name_of(f.domain) < d_->a->name_of(first.domain)))
        first = f;
    };
    int64_t newest_day = 0;
    if (!d_->each("SELECT day FROM domain_days WHERE device_id = ?1 ORDER BY day DESC LIMIT 1", {device}, error,
                  [&](const sqlite::Stmt& s) { newest_day = s.int64(0); }))
      return {};
    if (day_floor(since_us) + kNarrowDays <= newest_day) {
      // A period of more than a few days: the candidates of the day counts
      // were many times the device's names (a name counts once a day), and
      // finding older names read the device's names again; one read of
      // them gives both (docs/BENCHMARKS.md: the phone-home page).
      if (!d_->each("SELECT domain_id, first_seen FROM device_domains WHERE device_id = ?1", {device}, error,
                    [&](const sqlite::Stmt& s) {
                      if (s.int64(1) >= since_us) return take(s.int64(0), s.int64(1));
                      int32_t g = d_->a->group_id(s.int64(0));
                      if (g < 0 || older[size_t(g)] == kOlder) return;
                      older[size_t(g)] = kOlder;
                      touched.push_back(g);
                    }))
        return {};
    } else {
      // The device's new names, among those it asked for since that day.
      if (!d_->each("SELECT domain_id, first_seen FROM device_domains WHERE device_id = ?1 AND domain_id IN (" +
                        std::string(querylog::kSeenSinceCandidates) + ") AND first_seen >= ?2",
                    {device, since_us}, error, [&](const sqlite::Stmt& s) { take(s.int64(0), s.int64(1)); }))
        return {};
      // A company is new to the device when it asked none of its names
      // before: small ones are checked name by name (up to a budget), the
      // others by reading the device's older names (by id, which grows with
      // time: about oldest first, so common companies turn up soon and the
      // read can stop).
      size_t budget = kMaxLookups, pending = 0;
      for (int32_t g : fresh_groups) {
        const std::vector<int64_t>& ids = d_->a->groups[size_t(g)].ids;
        if (ids.size() > kMaxLookupNames || ids.size() > budget) {
          older[size_t(g)] = kPending;
          ++pending;
          continue;
        }
        budget -= ids.size();
        for (size_t i = 0; i < ids.size() && older[size_t(g)] != kOlder; ++i)
          if (!d_->each("SELECT first_seen FROM device_domains WHERE device_id = ?1 AND domain_id = ?2",
                        {device, ids[i]}, error, [&](const sqlite::Stmt& s) {
                          if (s.int64(0) < since_us) older[size_t(g)] = kOlder;
                        }))
            return {};
      }
      if (pending > 0 &&
          !d_->each("SELECT domain_id FROM device_domains WHERE device_id = ?1 AND first_seen < ?2", {device, since_us},
                    error, [&](const sqlite::Stmt& s) {
                      int32_t g = d_->a->group_id(s.int64(0));
                      if (g < 0 || older[size_t(g)] != kPending) return true;
                      older[size_t(g)] = kOlder;
                      return --pending > 0;
                    }))
        return {};
    }
    for (int32_t g : fresh_groups) {
      if (older[size_t(g)] != kOlder) companies.push_back(first_of[size_t(g)]);
      older[size_t(g)] = kUnknown;
      first_of[size_t(g)] = {0, 0, 0};
    }
    for (int32_t g : touched) older[size_t(g)] = kUnknown;
    if (device_id) break;
  }
  auto newest = [&](const Fresh& a, const Fresh& b) {
    if (a.time != b.time) return a.time > b.time;
    return d_->a->name_of(a.domain) < d_->a->name_of(b.domain);
  };
  if (totals) *totals = {companies.size(), fresh_names.size()};
  std::vector<NewContact> out;
  for (auto [list, kind] :
       {std::pair{&companies, NewContact::Kind::Company}, std::pair{&fresh_names, NewContact::Kind::Name}}) {
    size_t keep = std::min(limit, list->size());
    std::partial_sort(list->begin(), list->begin() + ptrdiff_t(keep), list->end(), newest);
    for (size_t i = 0; i < keep; ++i) {
      const Fresh& f = (*list)[i];
      const NameIndex::Domain& d = d_->a->domains[size_t(f.domain)];
      const NameIndex::Group& g = d_->a->groups[size_t(d_->a->group_of_id[size_t(f.domain)])];
      NewContact n;
      n.kind = kind;
      n.time_us = f.time;
      n.device_id = f.device;
      n.device = names.count(f.device) ? names[f.device] : std::to_string(f.device);
      n.company_key = g.key;
      n.company = g.name;
      n.known = g.known;
      n.name = d_->a->name_of(f.domain);
      n.category = d_->a->categories[d.category];
      out.push_back(std::move(n));
    }
  }
  return out;
}

}  // namespace hush::report

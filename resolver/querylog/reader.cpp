#include "querylog/reader.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <unordered_map>

#include "base/clock.hpp"
#include "clients/groups.hpp"
#include "querylog/schema.hpp"

namespace hush::querylog {

namespace {
constexpr int64_t kExactTopSpan = 2 * kDayUs;
const char* const kSumColumns =
    "sum(forwarded), sum(cached), sum(blocked), sum(local), sum(refused), sum(error)";

// Device ids are integers hush produced, so they go into the SQL text as
// literals; that keeps one statement whatever the number of devices.
std::string device_clause(const char* column, const std::vector<int64_t>& devices) {
  if (devices.empty()) return "";
  std::string s = std::string(" AND ") + column + " IN (";
  for (size_t i = 0; i < devices.size(); ++i) s += (i ? "," : "") + std::to_string(devices[i]);
  return s + ")";
}

int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0 && a > 0 ? 1 : 0); }
int64_t units_until(int64_t until_us, int64_t unit) {
  return until_us == kForever ? kForever / unit : ceil_div(until_us, unit);
}

StatusCounts counts_at(const sqlite::Stmt& s, int first_col) {
  StatusCounts c{};
  for (size_t i = 0; i < kStatusCount; ++i) c[i] = s.int64(int(first_col + i));
  return c;
}

// id, key, mac, name, custom_name, groups, first_seen, last_seen from `first`.
Device device_at(const sqlite::Stmt& s, int first) {
  Device d;
  d.id = s.int64(first);
  d.key = s.text(first + 1);
  d.mac = s.text(first + 2);
  d.discovered_name = s.text(first + 3);
  d.custom_name = s.text(first + 4);
  d.groups = clients::split_groups(s.text(first + 5));
  d.first_seen_us = s.int64(first + 6);
  d.last_seen_us = s.int64(first + 7);
  return d;
}

// Fills in each device's addresses, newest first, and the name to show.
bool add_addresses(sqlite::Db& db, std::vector<Device>& devices, sqlite::Error& err) {
  sqlite::Stmt a = db.prepare("SELECT ip FROM addresses WHERE device_id = ? ORDER BY last_seen DESC", err);
  if (!a) return false;
  for (Device& d : devices) {
    a.bind(1, d.id);
    while (a.step() == SQLITE_ROW) d.addresses.push_back(a.text(0));
    d.name = !d.custom_name.empty()       ? d.custom_name
             : !d.discovered_name.empty() ? d.discovered_name
             : !d.addresses.empty()       ? d.addresses.front()
                                          : d.key;
  }
  return true;
}
}  // namespace

double Summary::blocked_percent() const {
  int64_t t = total();
  return t ? 100.0 * double(counts[size_t(Status::Blocked)]) / double(t) : 0.0;
}

std::optional<int64_t> parse_duration(const std::string& text) {
  if (text.size() < 2) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1000000; break;
    case 'm': unit = kMinuteUs; break;
    case 'h': unit = kHourUs; break;
    case 'd': unit = kDayUs; break;
    default: return std::nullopt;
  }
  int64_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i])) || n > 100000000) return std::nullopt;
    n = n * 10 + (text[i] - '0');
  }
  return n * unit;
}

std::unique_ptr<Reader> Reader::open(const std::string& path, bool writable, sqlite::Error& err) {
  sqlite::Db db = open_for_reading(path, writable, err);
  if (!db) return nullptr;
  return std::unique_ptr<Reader>(new Reader(std::move(db)));
}

std::vector<int64_t> Reader::find_devices(const std::string& who, sqlite::Error& err) {
  std::vector<int64_t> out;
  sqlite::Stmt s = db_.prepare(
      "SELECT id FROM devices WHERE lower(custom_name)=lower(?1) OR lower(name)=lower(?1) "
      "OR mac=lower(?1) OR key=?1 OR id IN (SELECT device_id FROM addresses WHERE ip=?1) ORDER BY id",
      err);
  if (!s) return out;
  s.bind(1, who);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(s.int64(0));
  if (rc != SQLITE_DONE) err = db_.last_error();
  return out;
}

void Reader::id_range(int64_t since_us, int64_t until_us, int64_t& lo, int64_t& hi, sqlite::Error& err) {
  // Rows are inserted in time order per batch, and batches overlap by far
  // less than a minute, so one minute of margin on each side is enough.
  lo = 0;
  hi = kForever;
  if (since_us > 0) {
    sqlite::Stmt s = db_.prepare(
        "SELECT first_id FROM minute_ids WHERE minute <= ? ORDER BY minute DESC LIMIT 1", err);
    if (!s) return;
    s.bind(1, since_us / kMinuteUs - 1);
    if (s.step() == SQLITE_ROW) lo = s.int64(0);
    s.reset();
  }
  if (until_us != kForever) {
    sqlite::Stmt s = db_.prepare(
        "SELECT first_id FROM minute_ids WHERE minute >= ? ORDER BY minute LIMIT 1", err);
    if (!s) return;
    s.bind(1, until_us / kMinuteUs + 2);
    if (s.step() == SQLITE_ROW) hi = s.int64(0);
    s.reset();
  }
}

QueryPage Reader::queries(const QueryFilter& f, sqlite::Error& err) {
  QueryPage page;
  int64_t lo, hi;
  id_range(f.since_us, f.until_us, lo, hi, err);
  if (err) return page;
  bool ascending = f.after_id > 0;
  std::string sql =
      "SELECT q.id, q.t, q.device_id, coalesce(dv.custom_name, dv.name, a.ip), a.ip, dm.name, "
      "q.qtype, q.proto, q.status, q.rcode, r.text, u.text, q.answer, q.latency_us "
      "FROM queries q JOIN addresses a ON a.id = q.address_id JOIN devices dv ON dv.id = q.device_id "
      "JOIN domains dm ON dm.id = q.domain_id LEFT JOIN strings r ON r.id = q.reason_id "
      "LEFT JOIN strings u ON u.id = q.upstream_id "
      "WHERE q.id >= ?1 AND q.id < ?2 AND q.t >= ?3 AND q.t < ?4";
  sql += device_clause("q.device_id", f.devices);
  if (f.status) sql += " AND q.status = " + std::to_string(int(*f.status));
  if (f.qtype) sql += " AND q.qtype = " + std::to_string(*f.qtype);
  if (!f.domain_contains.empty())
    sql += " AND q.domain_id IN (SELECT id FROM domains WHERE instr(name, lower(?5)) > 0)";
  if (!f.text_contains.empty())
    sql += " AND (instr(dm.name, lower(?7)) > 0 OR instr(lower(coalesce(dv.custom_name, dv.name, '')), lower(?7)) > 0"
           " OR instr(a.ip, lower(?7)) > 0 OR instr(lower(q.answer), lower(?7)) > 0)";
  sql += ascending ? " ORDER BY q.id ASC LIMIT ?6" : " ORDER BY q.id DESC LIMIT ?6";
  sqlite::Stmt s = db_.prepare(sql, err);
  if (!s) return page;
  int64_t first = std::max(lo, ascending ? f.after_id + 1 : int64_t(0));
  int64_t last = f.before_id > 0 ? std::min(hi, f.before_id) : hi;
  s.bind(1, first).bind(2, last).bind(3, f.since_us).bind(4, f.until_us);
  if (!f.domain_contains.empty()) s.bind(5, f.domain_contains);
  s.bind(6, int64_t(f.limit));
  if (!f.text_contains.empty()) s.bind(7, f.text_contains);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    LogEntry e;
    e.id = s.int64(0);
    e.time_us = s.int64(1);
    e.device_id = s.int64(2);
    e.device = s.text(3);
    e.client_ip = s.text(4);
    e.domain = s.text(5);
    e.qtype = uint16_t(s.int64(6));
    e.transport = Transport(s.int64(7));
    e.status = Status(s.int64(8));
    e.rcode = uint16_t(s.int64(9));
    e.reason = s.text(10);
    e.upstream = s.text(11);
    e.answer = s.text(12);
    e.latency_us = uint32_t(s.int64(13));
    page.rows.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) {
    err = db_.last_error();
    page.rows.clear();
    return page;
  }
  if (!ascending && page.rows.size() == f.limit && !page.rows.empty()) page.next_before_id = page.rows.back().id;
  return page;
}

bool Reader::use_minutes(int64_t since_us, int64_t until_us, sqlite::Error& err) {
  // Past two days per-minute rows cost 60 times the reading for a precision
  // nobody sees on such a range.
  int64_t end = until_us == kForever ? now_us() : until_us;
  if (end - since_us > kExactTopSpan) return false;
  sqlite::Stmt s = db_.prepare("SELECT min(minute) FROM minute_stats", err);
  if (!s || s.step() != SQLITE_ROW) return true;
  bool cover = s.is_null(0) || s.int64(0) <= since_us / kMinuteUs;
  s.reset();
  return cover;
}

StatusCounts Reader::sum_counts(const char* table, int64_t unit_us, const std::vector<int64_t>& devices,
                                int64_t since_us, int64_t until_us, sqlite::Error& err) {
  const char* col = unit_us == kMinuteUs ? "minute" : "hour";
  std::string sql = std::string("SELECT ") + kSumColumns + " FROM " + table + " WHERE " + col +
                    " >= ?1 AND " + col + " < ?2" + device_clause("device_id", devices);
  StatusCounts c{};
  sqlite::Stmt s = db_.prepare(sql, err);
  if (!s) return c;
  s.bind(1, since_us / unit_us).bind(2, units_until(until_us, unit_us));
  if (s.step() == SQLITE_ROW) c = counts_at(s, 0);
  s.reset();
  return c;
}

Summary Reader::summary(const std::vector<int64_t>& devices, int64_t since_us, int64_t until_us,
                        sqlite::Error& err) {
  Summary sum;
  bool minutes = use_minutes(since_us, until_us, err);
  const char* table = minutes ? "minute_stats" : "hour_stats";
  int64_t unit = minutes ? kMinuteUs : kHourUs;
  sum.counts = sum_counts(table, unit, devices, since_us, until_us, err);
  if (err) return sum;
  const char* col = minutes ? "minute" : "hour";
  // Device 0 is no device: queries the log had no room for, or anonymous ones.
  std::string sql = std::string("SELECT count(DISTINCT device_id) FROM ") + table + " WHERE " + col +
                    " >= ?1 AND " + col + " < ?2 AND device_id > 0" + device_clause("device_id", devices);
  sqlite::Stmt s = db_.prepare(sql, err);
  if (!s) return sum;
  s.bind(1, since_us / unit).bind(2, units_until(until_us, unit));
  if (s.step() == SQLITE_ROW) sum.devices = s.int64(0);
  s.reset();
  sum.dropped = db_.scalar("SELECT coalesce((SELECT value FROM meta WHERE key='dropped'), 0)").value_or(0);
  return sum;
}

std::vector<Point> Reader::history(const std::vector<int64_t>& devices, int64_t since_us, int64_t until_us,
                                   Bucket bucket, sqlite::Error& err) {
  std::vector<Point> out;
  const char* table = bucket == Bucket::Minute ? "minute_stats" : "hour_stats";
  const char* col = bucket == Bucket::Minute ? "minute" : "hour";
  int64_t unit = bucket == Bucket::Minute ? kMinuteUs : kHourUs;
  std::string sql = std::string("SELECT ") + col + ", " + kSumColumns + " FROM " + table + " WHERE " +
                    col + " >= ?1 AND " + col + " < ?2" + device_clause("device_id", devices) +
                    " GROUP BY " + col + " ORDER BY " + col;
  sqlite::Stmt s = db_.prepare(sql, err);
  if (!s) return out;
  s.bind(1, since_us / unit).bind(2, units_until(until_us, unit));
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back({s.int64(0) * unit, counts_at(s, 1)});
  if (rc != SQLITE_DONE) err = db_.last_error();
  return out;
}

namespace {

// Per-name counts over all devices of the days that are over, summed once
// and shared by the Readers of a process: a top list over a week or a month
// reads those days' rows once a day, and on each call only the rows of the
// days still being written. An entry is used only while a fingerprint of
// its days (their per-hour totals and the log's oldest day) is unchanged, so
// a late write, a pruned day or a restored log makes it again. Bounds: at
// most kEntries ranges of at most kMaxNames names, 24 bytes a name.
class DaySums {
 public:
  static constexpr size_t kEntries = 2;
  static constexpr size_t kMaxNames = 1'000'000;
  struct Sum {
    int64_t id, total, blocked;
  };
  struct Entry {
    std::string log;             // the file's path
    int64_t day0 = 0, day1 = 0;  // [day0, day1), UTC days
    std::array<int64_t, 3> fingerprint{};
    std::vector<Sum> sums;  // by id
  };
  static DaySums& shared() {
    static DaySums sums;
    return sums;
  }
  // Held while an entry is made: the overview asks its two top lists at
  // once, and the second then takes the first one's sums.
  std::mutex making;
  std::shared_ptr<const Entry> find(const Entry& key) const {
    std::lock_guard lock(mu_);
    for (const auto& e : entries_)
      if (same(*e, key) && e->fingerprint == key.fingerprint) return e;
    return nullptr;
  }
  void put(std::shared_ptr<const Entry> e) {
    std::lock_guard lock(mu_);
    std::erase_if(entries_, [&](const auto& x) { return same(*x, *e); });
    if (entries_.size() >= kEntries) entries_.erase(entries_.begin());
    entries_.push_back(std::move(e));
  }

 private:
  static bool same(const Entry& a, const Entry& b) { return a.log == b.log && a.day0 == b.day0 && a.day1 == b.day1; }
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const Entry>> entries_;  // most recently made last
};

// A day is over for the cache an hour after it ended: the writer commits a
// batch within seconds, so no row of it comes later (and the fingerprint
// catches one that does).
constexpr int64_t kLateWritesUs = kHourUs;

using NameSums = std::unordered_map<int64_t, std::pair<int64_t, int64_t>>;  // id -> total, blocked

// Adds the rows (domain id, total, blocked) `s` steps through to `sums`.
void add_rows(sqlite::Db& db, sqlite::Stmt& s, NameSums& sums, sqlite::Error& err) {
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    auto& c = sums[s.int64(0)];
    c.first += s.int64(1);
    c.second += s.int64(2);
  }
  if (rc != SQLITE_DONE) err = db.last_error();
  s.reset();
}

// The counts over all devices of whole days [day0, day1), from the shared
// sums when their fingerprint still holds. Null on failure (`err`).
std::shared_ptr<const DaySums::Entry> closed_days(sqlite::Db& db, int64_t day0, int64_t day1, sqlite::Error& err) {
  auto made = std::make_shared<DaySums::Entry>();
  const char* file = sqlite3_db_filename(db.get(), "main");
  made->log = file ? file : "";
  made->day0 = day0;
  made->day1 = day1;
  sqlite::Stmt f = db.prepare(
      "SELECT count(*), coalesce(sum(forwarded + cached + blocked + local + refused + error), 0), "
      "(SELECT coalesce(min(day), -1) FROM domain_days WHERE device_id = 0) FROM hour_stats "
      "WHERE hour >= ?1 AND hour < ?2",
      err);
  if (!f) return nullptr;
  f.bind(1, day0 * 24).bind(2, day1 * 24);
  if (f.step() != SQLITE_ROW) {
    err = db.last_error();
    return nullptr;
  }
  made->fingerprint = {f.int64(0), f.int64(1), f.int64(2)};
  f.reset();
  if (auto e = DaySums::shared().find(*made)) return e;
  std::lock_guard making(DaySums::shared().making);
  if (auto e = DaySums::shared().find(*made)) return e;
  sqlite::Stmt s = db.prepare(
      "SELECT domain_id, total, blocked FROM domain_days WHERE device_id = 0 AND day >= ?1 AND day < ?2", err);
  if (!s) return nullptr;
  NameSums sums;
  add_rows(db, s.bind(1, day0).bind(2, day1), sums, err);
  if (err) return nullptr;
  made->sums.reserve(sums.size());
  for (const auto& [id, c] : sums) made->sums.push_back({id, c.first, c.second});
  std::sort(made->sums.begin(), made->sums.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  if (made->sums.size() <= DaySums::kMaxNames) DaySums::shared().put(made);
  return made;
}

}  // namespace

std::vector<Ranked> Reader::top_domains(const std::vector<int64_t>& devices, int64_t since_us,
                                        int64_t until_us, size_t n, bool blocked_only,
                                        sqlite::Error& err) {
  std::vector<Ranked> out;
  const int64_t now = now_us();
  const int64_t span = (until_us == kForever ? now : until_us) - since_us;
  NameSums sums;  // of the rows read now
  std::shared_ptr<const DaySums::Entry> closed;  // with the days that are over
  // One snapshot: the cache's fingerprint and the rows read match.
  if (auto e = db_.exec("BEGIN")) {
    err = e;
    return out;
  }
  struct End {
    sqlite::Db& db;
    ~End() { db.exec("COMMIT"); }
  } end{db_};
  if (span <= kExactTopSpan) {
    int64_t lo = 0, hi = kForever;
    id_range(since_us, until_us, lo, hi, err);
    if (err) return out;
    sqlite::Stmt s = db_.prepare(
        "SELECT q.domain_id, count(*), sum(q.status = " + std::to_string(int(Status::Blocked)) +
            ") FROM queries q WHERE q.id >= ?1 AND q.id < ?2 AND q.t >= ?3 AND q.t < ?4" +
            device_clause("q.device_id", devices) + " GROUP BY q.domain_id",
        err);
    if (!s) return out;
    add_rows(db_, s.bind(1, lo).bind(2, hi).bind(3, since_us).bind(4, until_us), sums, err);
  } else {
    // Longer ranges count whole UTC days, read one device at a time in the
    // table's key order and summed here: SQLite's GROUP BY sorted every row
    // of the range and its ORDER BY read every name's text (0.3-0.7 s for
    // 30 days of 2M queries, tests/bench/dashload.sh).
    int64_t day0 = since_us / kDayUs, day1 = units_until(until_us, kDayUs);
    if (devices.empty()) {
      int64_t over = std::min(day1, (now - kLateWritesUs) / kDayUs);
      if (over - day0 >= 2) {
        closed = closed_days(db_, day0, over, err);
        if (err) return out;
        day0 = over;
      }
    }
    sqlite::Stmt s = db_.prepare(
        "SELECT domain_id, total, blocked FROM domain_days WHERE device_id = ?1 AND day >= ?2 AND day < ?3", err);
    if (!s) return out;
    for (int64_t device : devices.empty() ? std::vector<int64_t>{0} : devices) {
      if (day0 < day1) add_rows(db_, s.bind(1, device).bind(2, day0).bind(3, day1), sums, err);
      if (err) return out;
    }
  }
  // Every name with its counts; the leaders by count get their names read
  // (those tied with the last one too: ties go by name).
  struct Counted {
    int64_t id, total, blocked;
  };
  std::vector<Counted> all;
  if (closed) {
    all.reserve(closed->sums.size() + sums.size());
    for (const DaySums::Sum& c : closed->sums) {
      Counted x{c.id, c.total, c.blocked};
      if (auto it = sums.find(c.id); it != sums.end()) {
        x.total += it->second.first;
        x.blocked += it->second.second;
        sums.erase(it);
      }
      all.push_back(x);
    }
  }
  for (const auto& [id, c] : sums) all.push_back({id, c.first, c.second});
  auto key = [&](const Counted& c) { return blocked_only ? c.blocked : c.total; };
  std::erase_if(all, [&](const Counted& c) { return key(c) <= 0; });
  if (n == 0 || all.empty()) return out;
  if (all.size() > n) {
    std::nth_element(all.begin(), all.begin() + ptrdiff_t(n - 1), all.end(),
                     [&](const Counted& a, const Counted& b) { return key(a) > key(b); });
    int64_t last = key(all[n - 1]);
    std::erase_if(all, [&](const Counted& c) { return key(c) < last; });
  }
  sqlite::Stmt name = db_.prepare("SELECT name FROM domains WHERE id = ?1", err);
  if (!name) return out;
  for (const Counted& c : all) {
    name.bind(1, c.id);
    if (name.step() == SQLITE_ROW) out.push_back({name.text(0), c.id, c.total, c.blocked});
    name.reset();
  }
  std::sort(out.begin(), out.end(), [&](const Ranked& a, const Ranked& b) {
    int64_t ka = blocked_only ? a.blocked : a.total, kb = blocked_only ? b.blocked : b.total;
    return ka != kb ? ka > kb : a.name < b.name;
  });
  if (out.size() > n) out.resize(n);
  return out;
}

std::vector<Ranked> Reader::top_clients(int64_t since_us, int64_t until_us, size_t n, sqlite::Error& err) {
  std::vector<Ranked> out;
  bool minutes = use_minutes(since_us, until_us, err);
  const char* table = minutes ? "minute_stats" : "hour_stats";
  const char* col = minutes ? "minute" : "hour";
  int64_t unit = minutes ? kMinuteUs : kHourUs;
  std::string sql =
      std::string("SELECT s.device_id, coalesce(dv.custom_name, dv.name, "
                  "(SELECT ip FROM addresses WHERE device_id = dv.id ORDER BY last_seen DESC LIMIT 1), "
                  "dv.key), s.total, s.blocked FROM (SELECT device_id, sum(forwarded + cached + blocked + "
                  "local + refused + error) AS total, sum(blocked) AS blocked FROM ") +
      table + " WHERE " + col + " >= ?1 AND " + col + " < ?2 AND device_id > 0 GROUP BY device_id) s " +
      "LEFT JOIN devices dv ON dv.id = s.device_id ORDER BY s.total DESC LIMIT ?3";
  sqlite::Stmt s = db_.prepare(sql, err);
  if (!s) return out;
  s.bind(1, since_us / unit).bind(2, units_until(until_us, unit)).bind(3, int64_t(n));
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back({s.text(1), s.int64(0), s.int64(2), s.int64(3)});
  if (rc != SQLITE_DONE) err = db_.last_error();
  return out;
}

std::vector<Device> Reader::devices(int64_t since_us, sqlite::Error& err) {
  std::vector<Device> out;
  sqlite::Stmt s = db_.prepare(
      "SELECT dv.id, dv.key, dv.mac, dv.name, dv.custom_name, dv.groups, dv.first_seen, dv.last_seen, "
      "coalesce(h.total, 0), coalesce(h.blocked, 0) FROM devices dv LEFT JOIN "
      "(SELECT device_id, sum(forwarded + cached + blocked + local + refused + error) AS total, "
      "sum(blocked) AS blocked FROM hour_stats WHERE hour >= ?1 GROUP BY device_id) h "
      "ON h.device_id = dv.id ORDER BY dv.last_seen DESC, dv.id DESC",
      err);
  if (!s) return out;
  s.bind(1, since_us / kHourUs);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    Device d = device_at(s, 0);
    d.queries = s.int64(8);
    d.blocked = s.int64(9);
    out.push_back(std::move(d));
  }
  if (rc != SQLITE_DONE) {
    err = db_.last_error();
    return {};
  }
  if (!add_addresses(db_, out, err)) return {};
  return out;
}

std::vector<Device> Reader::select_devices(const std::string& where, const std::vector<int64_t>& binds,
                                           int64_t since_us, size_t limit, sqlite::Error& err) {
  std::vector<Device> out;
  sqlite::Stmt s = db_.prepare(
      "SELECT id, key, mac, name, custom_name, groups, first_seen, last_seen FROM devices WHERE " + where +
          " ORDER BY last_seen DESC, id DESC LIMIT ?" + std::to_string(binds.size() + 1),
      err);
  if (!s) return out;
  for (size_t i = 0; i < binds.size(); ++i) s.bind(int(i + 1), binds[i]);
  s.bind(int(binds.size() + 1), int64_t(limit));
  int rc;
  std::vector<int64_t> ids;
  std::unordered_map<int64_t, size_t> at;  // device id -> index in `out`
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(device_at(s, 0));
    ids.push_back(out.back().id);
    at[ids.back()] = out.size() - 1;
  }
  if (rc != SQLITE_DONE) {
    err = db_.last_error();
    return {};
  }
  if (out.empty()) return out;
  // One pass over the range's hourly rows for the whole page, rather than
  // one per device: hour_stats is keyed by hour first.
  sqlite::Stmt c = db_.prepare(
      "SELECT device_id, sum(forwarded + cached + blocked + local + refused + error), sum(blocked) "
      "FROM hour_stats WHERE hour >= ?1" + device_clause("device_id", ids) + " GROUP BY device_id",
      err);
  if (!c) return {};
  c.bind(1, since_us / kHourUs);
  while ((rc = c.step()) == SQLITE_ROW) {
    Device& d = out[at.at(c.int64(0))];
    d.queries = c.int64(1);
    d.blocked = c.int64(2);
  }
  if (rc != SQLITE_DONE) {
    err = db_.last_error();
    return {};
  }
  if (!add_addresses(db_, out, err)) return {};
  return out;
}

DevicePage Reader::device_page(int64_t since_us, size_t limit, std::optional<DeviceCursor> after, sqlite::Error& err) {
  DevicePage page;
  // One more than asked says whether another page follows.
  page.devices = after ? select_devices("(last_seen, id) < (?1, ?2)", {after->last_seen_us, after->id}, since_us,
                                        limit + 1, err)
                       : select_devices("1", {}, since_us, limit + 1, err);
  if (err) return {};
  if (page.devices.size() > limit) {
    page.devices.resize(limit);
    page.next = DeviceCursor{page.devices.back().last_seen_us, page.devices.back().id};
  }
  page.total = db_.scalar("SELECT count(*) FROM devices").value_or(0);
  return page;
}

void Reader::each_device_groups(
    const std::function<void(int64_t, const std::string&, const std::vector<std::string>&)>& fn,
    sqlite::Error& err) {
  sqlite::Stmt s = db_.prepare(
      "SELECT dv.id, coalesce(dv.custom_name, dv.name, "
      "(SELECT ip FROM addresses WHERE device_id = dv.id ORDER BY last_seen DESC LIMIT 1), dv.key), dv.groups "
      "FROM devices dv ORDER BY dv.last_seen DESC, dv.id DESC",
      err);
  if (!s) return;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) fn(s.int64(0), s.text(1), clients::split_groups(s.text(2)));
  if (rc != SQLITE_DONE) err = db_.last_error();
}

std::optional<Device> Reader::device(int64_t id, int64_t since_us, sqlite::Error& err) {
  std::vector<Device> found = select_devices("id = ?1", {id}, since_us, 1, err);
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

std::vector<SeenDomain> Reader::new_domains(int64_t device_id, int64_t since_us, size_t n,
                                            sqlite::Error& err) {
  std::vector<SeenDomain> out;
  sqlite::Stmt s = db_.prepare(
      "SELECT d.name, dd.first_seen, dd.last_seen FROM device_domains dd JOIN domains d ON d.id = dd.domain_id "
      "WHERE dd.device_id = ?1 AND dd.domain_id IN (" + std::string(kSeenSinceCandidates) +
      ") AND dd.first_seen >= ?2 ORDER BY dd.first_seen DESC LIMIT ?3",
      err);
  if (!s) return out;
  s.bind(1, device_id).bind(2, since_us).bind(3, int64_t(n));
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back({s.text(0), s.int64(1), s.int64(2)});
  if (rc != SQLITE_DONE) err = db_.last_error();
  return out;
}

int64_t Reader::count_new_domains(int64_t device_id, int64_t since_us, int64_t cap, sqlite::Error& err) {
  sqlite::Stmt s = db_.prepare(
      "SELECT count(*) FROM (SELECT 1 FROM device_domains WHERE device_id = ?1 AND domain_id IN (" +
          std::string(kSeenSinceCandidates) + ") AND first_seen >= ?2 LIMIT ?3)",
      err);
  if (!s) return 0;
  s.bind(1, device_id).bind(2, since_us).bind(3, cap);
  if (s.step() != SQLITE_ROW) {
    err = db_.last_error();
    return 0;
  }
  return s.int64(0);
}

bool Reader::rename_device(int64_t device_id, const std::string& name, sqlite::Error& err) {
  sqlite::Stmt s = db_.prepare("UPDATE devices SET custom_name = nullif(?2, '') WHERE id = ?1", err);
  if (!s) return false;
  s.bind(1, device_id).bind(2, name);
  return db_.change_one(s, "no device " + std::to_string(device_id), err);
}

}  // namespace hush::querylog

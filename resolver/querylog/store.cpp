#include "querylog/store.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <numeric>

namespace hush::querylog {

namespace {
constexpr int64_t kMinuteUs = 60LL * 1000000;
constexpr int64_t kHourUs = 60 * kMinuteUs;
constexpr int64_t kDayUs = 24 * kHourUs;
// Bounds on the writer's name caches; past them a cache starts over rather
// than grow with a flood of random names.
constexpr size_t kMaxCachedNames = 200000;
constexpr size_t kMaxCachedClients = 20000;

using Counts = std::array<int64_t, kStatusCount>;
}  // namespace

struct Store::Statements {
  sqlite::Stmt insert_query, first_id, minute_stats, hour_stats, domain_day, device_domain,
      device_seen, address_seen, find_domain, insert_domain, find_string, insert_string,
      upsert_device, upsert_address, add_dropped;
};

Store::Store(Options opt)
    : opt_(std::move(opt)), privacy_(opt_.ignore_clients, opt_.ignore_domains) {
  // Raw rows must not outlive the aggregates that name their domains.
  opt_.aggregate_retention_s = std::max(opt_.aggregate_retention_s, opt_.raw_retention_s);
}

Store::~Store() = default;

void Store::close() {
  st_.reset();
  db_.close();
  clients_.clear();
  domains_.clear();
  strings_.clear();
}

OpenResult Store::open(int64_t now_us) {
  close();
  OpenResult r = open_for_writing(opt_.path, now_us);
  if (!r.db) return r;
  db_ = std::move(r.db);
  // The aggregate upserts land on random pages of tables that outgrow
  // SQLite's default 2 MiB cache within days; 32 MiB keeps their hot part in
  // memory instead of re-reading it from the OS on every batch.
  sqlite::Error e = db_.exec("PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY;");
  if (!e) e = prepare();
  if (e) {
    r.error = e;
    close();
  }
  return r;
}

sqlite::Error Store::prepare() {
  auto st = std::make_unique<Statements>();
  sqlite::Error err;
  auto p = [&](sqlite::Stmt& s, const char* sql) {
    if (!err) s = db_.prepare(sql, err);
  };
  p(st->insert_query,
    "INSERT INTO queries(t, device_id, address_id, domain_id, qtype, proto, status, rcode, "
    "reason_id, upstream_id, answer, latency_us) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
  // The first batch to reach a minute holds its smallest id: ids only grow.
  p(st->first_id, "INSERT INTO minute_ids(minute, first_id) VALUES(?,?) ON CONFLICT DO NOTHING");
  const char* add_counts =
      " VALUES(?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET forwarded=forwarded+excluded.forwarded,"
      " cached=cached+excluded.cached, blocked=blocked+excluded.blocked, local=local+excluded.local,"
      " refused=refused+excluded.refused, error=error+excluded.error";
  std::string ms = std::string("INSERT INTO minute_stats") + add_counts;
  std::string hs = std::string("INSERT INTO hour_stats") + add_counts;
  p(st->minute_stats, ms.c_str());
  p(st->hour_stats, hs.c_str());
  p(st->domain_day,
    "INSERT INTO domain_days VALUES(?,?,?,?,?) ON CONFLICT DO UPDATE SET "
    "total=total+excluded.total, blocked=blocked+excluded.blocked");
  p(st->device_domain,
    "INSERT INTO device_domains VALUES(?,?,?,?) ON CONFLICT DO UPDATE SET "
    "first_seen=min(first_seen, excluded.first_seen), last_seen=max(last_seen, excluded.last_seen)");
  p(st->device_seen, "UPDATE devices SET last_seen=max(last_seen, ?2) WHERE id=?1");
  p(st->address_seen, "UPDATE addresses SET last_seen=max(last_seen, ?2) WHERE id=?1");
  p(st->find_domain, "SELECT id FROM domains WHERE name=?");
  p(st->insert_domain, "INSERT INTO domains(name) VALUES(?)");
  p(st->find_string, "SELECT id FROM strings WHERE text=?");
  p(st->insert_string, "INSERT INTO strings(text) VALUES(?)");
  p(st->upsert_device,
    "INSERT INTO devices(key, mac, name, first_seen, last_seen) VALUES(?1,?2,?3,?4,?4) "
    "ON CONFLICT(key) DO UPDATE SET mac=coalesce(excluded.mac, mac), name=coalesce(excluded.name, name) "
    "RETURNING id, custom_name");
  p(st->upsert_address,
    "INSERT INTO addresses(ip, device_id, first_seen, last_seen) VALUES(?1,?2,?3,?3) "
    "ON CONFLICT(ip) DO UPDATE SET device_id=excluded.device_id RETURNING id");
  p(st->add_dropped,
    "INSERT INTO meta VALUES('dropped', ?1) ON CONFLICT DO UPDATE SET value=value+excluded.value");
  if (!err) st_ = std::move(st);
  return err;
}

sqlite::Error Store::fail(sqlite::Error e) {
  // A failed statement may leave cached ids that the rolled-back
  // transaction never stored; forget them all.
  clients_.clear();
  domains_.clear();
  strings_.clear();
  if (e.corrupt()) close();
  return e;
}

namespace {
// Looks `text` up with `find`, inserting with `insert` when absent.
sqlite::Error intern(sqlite::Db& db, sqlite::Stmt& find, sqlite::Stmt& insert, std::string_view text,
                     int64_t& id) {
  find.bind(1, text);
  int rc = find.step();
  if (rc == SQLITE_ROW) {
    id = find.int64(0);
    find.reset();
    return {};
  }
  if (rc != SQLITE_DONE) return db.last_error();
  insert.bind(1, text);
  if (insert.step() != SQLITE_DONE) return db.last_error();
  id = sqlite3_last_insert_rowid(db.get());
  return {};
}
}  // namespace

sqlite::Error Store::domain_id(std::string_view name, int64_t& id) {
  std::string key(name);
  if (auto it = domains_.find(key); it != domains_.end()) {
    id = it->second;
    return {};
  }
  if (privacy_.hides_domain(name)) {
    id = -1;
  } else if (auto e = intern(db_, st_->find_domain, st_->insert_domain, name, id)) {
    return e;
  }
  if (domains_.size() >= kMaxCachedNames) domains_.clear();
  domains_.emplace(std::move(key), id);
  return {};
}

sqlite::Error Store::string_id(std::string_view text, int64_t& id) {
  std::string key(text);
  if (auto it = strings_.find(key); it != strings_.end()) {
    id = it->second;
    return {};
  }
  if (auto e = intern(db_, st_->find_string, st_->insert_string, text, id)) return e;
  if (strings_.size() >= kMaxCachedNames) strings_.clear();
  strings_.emplace(std::move(key), id);
  return {};
}

sqlite::Error Store::client_ids(const Record& r, const clients::Directory& dir, ClientIds& out) {
  std::string ip = r.client_text();
  if (auto it = clients_.find(ip); it != clients_.end()) {
    out = it->second;
    return {};
  }
  clients::Identity who = dir.lookup(ip);
  out = {};
  if (privacy_.hides_client(ip, who.mac, who.name)) {
    out.hidden = true;
  } else {
    sqlite::Stmt& d = st_->upsert_device;
    d.bind(1, who.key).bind(4, r.time_us);
    who.mac.empty() ? d.bind_null(2) : d.bind(2, who.mac);
    who.name.empty() ? d.bind_null(3) : d.bind(3, who.name);
    if (d.step() != SQLITE_ROW) return db_.last_error();
    out.device_id = d.int64(0);
    std::string custom = d.text(1);
    d.reset();
    if (!custom.empty() && privacy_.hides_client("", "", custom)) out.hidden = true;
    sqlite::Stmt& a = st_->upsert_address;
    a.bind(1, ip).bind(2, out.device_id).bind(3, r.time_us);
    if (a.step() != SQLITE_ROW) return db_.last_error();
    out.address_id = a.int64(0);
    a.reset();
  }
  if (clients_.size() >= kMaxCachedClients) clients_.clear();
  clients_.emplace(std::move(ip), out);
  return {};
}

sqlite::Error Store::write(const std::vector<Record>& batch, const clients::Directory& dir,
                           uint64_t dropped) {
  if (!db_) return {SQLITE_MISUSE, "the query log is not open"};
  if (dir.generation() != clients_generation_) {
    clients_.clear();
    clients_generation_ = dir.generation();
  }
  // Rows go in time order so that ids grow with time, which is what lets
  // minute_ids turn a time range into an id range.
  std::vector<uint32_t> order(batch.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return batch[a].time_us < batch[b].time_us; });

  std::map<std::pair<int64_t, int64_t>, Counts> minutes, hours;
  struct DayCount { int64_t total = 0, blocked = 0; };
  std::map<std::array<int64_t, 3>, DayCount> days;
  struct Seen { int64_t first, last; };
  std::map<std::pair<int64_t, int64_t>, Seen> pairs;
  std::map<int64_t, int64_t> device_last, address_last;

  sqlite::Transaction tx(db_);
  if (auto e = tx.begin()) return fail(e);
  sqlite::Stmt& q = st_->insert_query;
  uint64_t stored = 0, hidden = 0;
  int64_t last_minute = INT64_MIN;
  for (uint32_t i : order) {
    const Record& r = batch[i];
    ClientIds c;
    int64_t dom = 0;
    if (!opt_.anonymous) {
      if (auto e = client_ids(r, dir, c)) return fail(e);
      if (!c.hidden)
        if (auto e = domain_id(r.name.view(), dom)) return fail(e);
      if (c.hidden || dom < 0) {
        ++hidden;
        continue;
      }
    } else if (privacy_.hides_domain(r.name.view()) ||
               privacy_.hides_client(r.client_text(), "", "")) {
      ++hidden;
      continue;
    }
    size_t s = size_t(r.status) < kStatusCount ? size_t(r.status) : size_t(Status::Error);
    int64_t minute = r.time_us / kMinuteUs;
    minutes[{minute, c.device_id}][s]++;
    hours[{r.time_us / kHourUs, c.device_id}][s]++;
    ++stored;
    if (opt_.anonymous) continue;

    int64_t reason = 0, upstream = 0;
    if (r.reason.len)
      if (auto e = string_id(r.reason.view(), reason)) return fail(e);
    if (r.upstream.len)
      if (auto e = string_id(r.upstream.view(), upstream)) return fail(e);
    q.bind(1, r.time_us).bind(2, c.device_id).bind(3, c.address_id).bind(4, dom);
    q.bind(5, r.qtype).bind(6, int64_t(r.transport)).bind(7, int64_t(s)).bind(8, r.rcode);
    reason ? q.bind(9, reason) : q.bind_null(9);
    upstream ? q.bind(10, upstream) : q.bind_null(10);
    r.answer.len ? q.bind(11, r.answer.view()) : q.bind_null(11);
    q.bind(12, int64_t(r.latency_us));
    if (q.step() != SQLITE_DONE) return fail(db_.last_error());
    if (minute != last_minute) {
      last_minute = minute;
      st_->first_id.bind(1, minute).bind(2, sqlite3_last_insert_rowid(db_.get()));
      if (st_->first_id.step() != SQLITE_DONE) return fail(db_.last_error());
    }
    for (int64_t dev : {c.device_id, int64_t(0)}) {
      DayCount& dc = days[{dev, r.time_us / kDayUs, dom}];
      ++dc.total;
      if (r.status == Status::Blocked) ++dc.blocked;
    }
    auto [it, fresh] = pairs.try_emplace({c.device_id, dom}, Seen{r.time_us, r.time_us});
    if (!fresh) {
      it->second.first = std::min(it->second.first, r.time_us);
      it->second.last = std::max(it->second.last, r.time_us);
    }
    int64_t& dl = device_last[c.device_id];
    dl = std::max(dl, r.time_us);
    int64_t& al = address_last[c.address_id];
    al = std::max(al, r.time_us);
  }

  auto put_counts = [&](sqlite::Stmt& s, const auto& table) -> sqlite::Error {
    for (const auto& [k, n] : table) {
      s.bind(1, k.first).bind(2, k.second);
      for (size_t i = 0; i < kStatusCount; ++i) s.bind(int(3 + i), n[i]);
      if (s.step() != SQLITE_DONE) return db_.last_error();
    }
    return {};
  };
  if (auto e = put_counts(st_->minute_stats, minutes)) return fail(e);
  if (auto e = put_counts(st_->hour_stats, hours)) return fail(e);
  for (const auto& [k, n] : days) {
    st_->domain_day.bind(1, k[0]).bind(2, k[1]).bind(3, k[2]).bind(4, n.total).bind(5, n.blocked);
    if (st_->domain_day.step() != SQLITE_DONE) return fail(db_.last_error());
  }
  for (const auto& [k, seen] : pairs) {
    st_->device_domain.bind(1, k.first).bind(2, k.second).bind(3, seen.first).bind(4, seen.last);
    if (st_->device_domain.step() != SQLITE_DONE) return fail(db_.last_error());
  }
  for (auto [stmt, table] : {std::pair{&st_->device_seen, &device_last},
                             std::pair{&st_->address_seen, &address_last}})
    for (const auto& [id, t] : *table) {
      stmt->bind(1, id).bind(2, t);
      if (stmt->step() != SQLITE_DONE) return fail(db_.last_error());
    }
  if (dropped) {
    st_->add_dropped.bind(1, int64_t(dropped));
    if (st_->add_dropped.step() != SQLITE_DONE) return fail(db_.last_error());
  }
  if (auto e = tx.commit()) return fail(e);
  written_ += stored;
  hidden_ += hidden;
  return {};
}

size_t Store::prune_step(int64_t now_us, size_t max_rows, sqlite::Error& err) {
  err = {};
  if (!db_) {
    err = {SQLITE_MISUSE, "the query log is not open"};
    return 0;
  }
  const int64_t raw_cut = now_us - opt_.raw_retention_s * 1000000;
  // Aggregates go by whole days, and first/last-seen rows with them, so a
  // domain is never forgotten while a kept domain_days row still names it.
  const int64_t agg_day = (now_us - opt_.aggregate_retention_s * 1000000) / kDayUs;
  const int64_t agg_cut = agg_day * kDayUs;
  const int64_t n = int64_t(max_rows);
  size_t deleted = 0;
  std::vector<std::string> gone;

  sqlite::Transaction tx(db_);
  if ((err = tx.begin())) return 0;
  auto run = [&](const char* sql, std::initializer_list<int64_t> args) -> bool {
    sqlite::Stmt s = db_.prepare(sql, err);
    if (!s) return false;
    int i = 1;
    for (int64_t a : args) s.bind(i++, a);
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) gone.push_back(s.text(0));
    if (rc != SQLITE_DONE) {
      err = db_.last_error();
      return false;
    }
    deleted += size_t(sqlite3_changes(db_.get()));
    return true;
  };
  bool ok =
      run("DELETE FROM queries WHERE id < min("
          " coalesce((SELECT first_id FROM minute_ids WHERE minute >= ?1 ORDER BY minute LIMIT 1),"
          "          (SELECT max(id) + 1 FROM queries)),"
          " (SELECT min(id) FROM queries) + ?2)",
          {raw_cut / kMinuteUs, n}) &&
      run("DELETE FROM minute_ids WHERE minute < ?1 AND minute < (SELECT min(minute) FROM minute_ids) + ?2",
          {raw_cut / kMinuteUs, n}) &&
      run("DELETE FROM minute_stats WHERE minute < min(?1, (SELECT min(minute) FROM minute_stats) + 60)",
          {raw_cut / kMinuteUs}) &&
      run("DELETE FROM hour_stats WHERE hour < min(?1, (SELECT min(hour) FROM hour_stats) + 24)",
          {agg_cut / kHourUs}) &&
      run("DELETE FROM domain_days WHERE day < ?1 AND day = (SELECT min(day) FROM domain_days)", {agg_day}) &&
      run("DELETE FROM device_domains WHERE (device_id, domain_id) IN (SELECT device_id, domain_id "
          "FROM device_domains WHERE last_seen < ?1 LIMIT ?2)",
          {agg_cut, n});
  // Names no device asked for within the aggregate retention, a window of
  // ids per step, so a large table is swept over many steps.
  ok = ok && run("DELETE FROM domains WHERE id > ?1 AND id <= ?1 + ?2 AND NOT EXISTS "
                 "(SELECT 1 FROM device_domains WHERE domain_id = domains.id) RETURNING name",
                 {gc_cursor_, n});
  if (!ok) return 0;
  if ((err = tx.commit())) return 0;
  for (const std::string& name : gone) domains_.erase(name);
  gc_cursor_ += n;
  auto max_id = db_.scalar("SELECT coalesce(max(id), 0) FROM domains");
  if (max_id && gc_cursor_ >= *max_id) gc_cursor_ = 0;
  return deleted;
}

}  // namespace hush::querylog

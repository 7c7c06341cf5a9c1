#include "querylog/schema.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "querylog/queries_table.hpp"

namespace hush::querylog {

namespace {

// Migration i takes the schema from version i to i + 1. Append only: a
// released step is never edited, since databases in the field ran it.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE devices(
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,          -- 'mac:..' or 'ip:..'
  mac TEXT,
  name TEXT,                         -- discovered: hosts, DHCP, PTR
  custom_name TEXT,                  -- set by the user, wins over name
  groups TEXT NOT NULL DEFAULT 'default',
  first_seen INTEGER NOT NULL,       -- microseconds since the epoch
  last_seen INTEGER NOT NULL);
CREATE TABLE addresses(
  id INTEGER PRIMARY KEY,
  ip TEXT NOT NULL UNIQUE,
  device_id INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL);
CREATE INDEX addresses_device ON addresses(device_id);
CREATE TABLE domains(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE strings(id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
CREATE TABLE queries(
  id INTEGER PRIMARY KEY,
  t INTEGER NOT NULL,
  device_id INTEGER NOT NULL,
  address_id INTEGER NOT NULL,
  domain_id INTEGER NOT NULL,
  qtype INTEGER NOT NULL,
  proto INTEGER NOT NULL,
  status INTEGER NOT NULL,
  rcode INTEGER NOT NULL,
  reason_id INTEGER,
  upstream_id INTEGER,
  answer TEXT,
  latency_us INTEGER NOT NULL);
CREATE INDEX queries_device ON queries(device_id, id);
CREATE TABLE minute_ids(minute INTEGER PRIMARY KEY, first_id INTEGER NOT NULL);
CREATE TABLE minute_stats(
  minute INTEGER NOT NULL, device_id INTEGER NOT NULL,
  forwarded INTEGER NOT NULL, cached INTEGER NOT NULL, blocked INTEGER NOT NULL,
  local INTEGER NOT NULL, refused INTEGER NOT NULL, error INTEGER NOT NULL,
  PRIMARY KEY(minute, device_id)) WITHOUT ROWID;
CREATE TABLE hour_stats(
  hour INTEGER NOT NULL, device_id INTEGER NOT NULL,
  forwarded INTEGER NOT NULL, cached INTEGER NOT NULL, blocked INTEGER NOT NULL,
  local INTEGER NOT NULL, refused INTEGER NOT NULL, error INTEGER NOT NULL,
  PRIMARY KEY(hour, device_id)) WITHOUT ROWID;
CREATE TABLE domain_days(
  device_id INTEGER NOT NULL,        -- 0: all devices together
  day INTEGER NOT NULL, domain_id INTEGER NOT NULL,
  total INTEGER NOT NULL, blocked INTEGER NOT NULL,
  PRIMARY KEY(device_id, day, domain_id)) WITHOUT ROWID;
CREATE INDEX domain_days_day ON domain_days(day);
CREATE TABLE device_domains(
  device_id INTEGER NOT NULL, domain_id INTEGER NOT NULL,
  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
  PRIMARY KEY(device_id, domain_id)) WITHOUT ROWID;
CREATE INDEX device_domains_first ON device_domains(device_id, first_seen);
CREATE INDEX device_domains_domain ON device_domains(domain_id);
CREATE INDEX device_domains_last ON device_domains(last_seen);
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql",
    // Raw rows are packed into blocks (block.hpp); `queries` becomes a
    // virtual table over them (queries_table.hpp). The rows of schema 1 wait
    // in queries_v1 until the writer has packed them (Store::open).
    R"sql(
ALTER TABLE queries RENAME TO queries_v1;
DROP INDEX queries_device;
CREATE TABLE query_blocks(
  first_id INTEGER PRIMARY KEY,      -- id of its first query; the others follow without gaps
  n INTEGER NOT NULL,                -- queries in the block
  data BLOB NOT NULL);
CREATE TABLE block_devices(          -- the blocks holding queries of each device
  device_id INTEGER NOT NULL, first_id INTEGER NOT NULL,
  PRIMARY KEY(device_id, first_id)) WITHOUT ROWID;
)sql",
    // Under a flood of new names most of the file was each name twice (the
    // table and its UNIQUE index) and indexes kept only for pruning. Names
    // are now found by a 32-bit hash (h = hush_name_hash(name), see
    // name_hash()) and carry the last day domain_days counts them
    // (last_day), so removing a day of counts removes its names directly;
    // first/last seen go with the day of their last_seen, found through that
    // day's rows. Strings carry the last raw row that names them (last_id),
    // so they go with the raw rows. Names that nothing counts any more and
    // first/last seen older than every count (what the old sweep had yet to
    // remove) are dropped here. Comments stay out of the SQL: SQLite keeps
    // its text, and the schema fits in page 1.
    R"sql(
DELETE FROM device_domains WHERE last_seen < coalesce((SELECT min(day) FROM domain_days), 0) * 86400000000;
CREATE TABLE domains_v3(id INTEGER PRIMARY KEY, name TEXT NOT NULL, h INTEGER NOT NULL, last_day INTEGER NOT NULL);
INSERT INTO domains_v3(id, name, h, last_day)
  SELECT d.id, d.name, hush_name_hash(d.name), coalesce(m.day, CAST(strftime('%s', 'now') AS INTEGER) / 86400)
  FROM domains d LEFT JOIN (SELECT domain_id, max(day) AS day FROM domain_days WHERE device_id = 0 GROUP BY domain_id) m
    ON m.domain_id = d.id
  WHERE m.day IS NOT NULL OR EXISTS (SELECT 1 FROM device_domains WHERE domain_id = d.id)
     OR NOT EXISTS (SELECT 1 FROM domain_days)
  ORDER BY d.id;
DROP INDEX domain_days_day;
DROP INDEX device_domains_domain;
DROP INDEX device_domains_last;
DROP TABLE domains;
ALTER TABLE domains_v3 RENAME TO domains;
CREATE INDEX domains_h ON domains(h);
ALTER TABLE strings ADD COLUMN last_id INTEGER NOT NULL DEFAULT 0;
UPDATE strings SET last_id = max(coalesce((SELECT max(first_id + n) FROM query_blocks), 0),
                                 coalesce((SELECT value FROM meta WHERE key = 'next_id'), 0));
CREATE INDEX strings_last ON strings(last_id);
)sql",
    // Under a flood of new names the (device, first seen) index was an
    // eighth of the file (21 of 163 bytes a query) and a B-tree more to
    // update per new name. "New since T" reads the device's per-day counts
    // from T's day on instead: every first/last-seen row has a count on the
    // day of its last_seen (written together, pruned together), which is
    // on or after its first_seen (reader.cpp, report.cpp).
    R"sql(
DROP INDEX device_domains_first;
)sql",
    // Under a flood of new names a first/last-seen row was 31 bytes, 16 of
    // them its two times (8 bytes each as microseconds), which are most
    // often equal or close: the table keeps the first time and the gap to
    // the last (no bytes for 0, SQLite's constant type). Names keep their
    // registrable domain apart (domain_parents, shared by its names) and
    // their left part with the dot as the label: "r1234.flood.example" is
    // "r1234." and a parent id. A label with no parent is the whole name
    // (names from before, names that are a registrable domain). Both keep
    // their old names as views, which every reader reads.
    R"sql(
CREATE TABLE device_seen(device_id INTEGER NOT NULL, domain_id INTEGER NOT NULL, first_seen INTEGER NOT NULL,
  last_gap INTEGER NOT NULL, PRIMARY KEY(device_id, domain_id)) WITHOUT ROWID;
INSERT INTO device_seen SELECT device_id, domain_id, first_seen, last_seen - first_seen FROM device_domains;
DROP TABLE device_domains;
CREATE VIEW device_domains(device_id, domain_id, first_seen, last_seen) AS
  SELECT device_id, domain_id, first_seen, first_seen + last_gap FROM device_seen;
CREATE TABLE domain_parents(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE domain_names(id INTEGER PRIMARY KEY, label TEXT NOT NULL, parent INTEGER, h INTEGER NOT NULL,
  last_day INTEGER NOT NULL);
INSERT INTO domain_names SELECT id, name, NULL, h, last_day FROM domains ORDER BY id;
DROP TABLE domains;
CREATE INDEX domain_names_h ON domain_names(h);
CREATE VIEW domains(id, name, h, last_day) AS SELECT n.id, n.label || coalesce(p.name, ''), n.h, n.last_day
  FROM domain_names n LEFT JOIN domain_parents p ON p.id = n.parent;
)sql",
    // Pruning cuts below the lowest first id of the minutes it keeps
    // (Store::prune_step). By minute that read every minute kept, 5.3M rows
    // at ten years' retention, on every step; by first id it starts from the
    // lowest ids and passes only the minutes about to go.
    R"sql(
CREATE INDEX minute_ids_first ON minute_ids(first_id);
)sql",
};
constexpr int kMigrationCount = sizeof kMigrations / sizeof kMigrations[0];
static_assert(kMigrationCount == kSchemaVersion);

sqlite::Error configure(sqlite::Db& db) {
  // WAL: readers (CLI, dashboard) never block the writer, and a killed
  // process loses at most its open transaction. NORMAL sync is safe in WAL
  // against process crashes; only a power cut can lose the last commits.
  if (auto e = db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")) return e;
  return {};
}

// Reads the header pragmas; any SQLite error here means the file is unusable.
sqlite::Error inspect(sqlite::Db& db, int64_t& app_id, int64_t& version, int64_t& tables) {
  sqlite::Error err;
  for (auto [sql, out] : {std::pair{"PRAGMA application_id", &app_id}, std::pair{"PRAGMA user_version", &version},
                          std::pair{
                              // subscription* tables are hush's own (list subscriptions share the file)
                              "SELECT count(*) FROM sqlite_schema WHERE tbl_name NOT LIKE 'subscription%'", &tables}}) {
    sqlite::Stmt s = db.prepare(sql, err);
    if (!s) return err;
    if (s.step() != SQLITE_ROW) return db.last_error();
    *out = s.int64(0);
    s.reset();
  }
  return {};
}

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

void name_hash_sql(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const char* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  sqlite3_result_int64(ctx, name_hash(std::string_view(text ? text : "", size_t(sqlite3_value_bytes(argv[0])))));
}

}  // namespace

int64_t name_hash(std::string_view name) {
  uint32_t h = 2166136261u;
  for (unsigned char c : name) h = (h ^ c) * 16777619u;
  return int32_t(h);
}

sqlite::Error migrate(sqlite::Db& db, int64_t from, int64_t to) {
  if (sqlite3_create_function(db.get(), "hush_name_hash", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                              name_hash_sql, nullptr, nullptr) != SQLITE_OK)
    return db.last_error();
  for (int64_t v = from; v < to && v < kSchemaVersion; ++v) {
    sqlite::Transaction tx(db);
    if (auto e = tx.begin()) return e;
    // A new file's queries_v1 is empty: dropped before schema 3 grows the
    // schema, which then still fits in page 1 (a lookup less per open).
    if (v == 2 && db.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'queries_v1'").value_or(0) > 0 &&
        !db.scalar("SELECT EXISTS(SELECT 1 FROM queries_v1)").value_or(1))
      if (auto e = db.exec("DROP TABLE queries_v1")) return e;
    if (auto e = db.exec(kMigrations[v])) return e;
    char pragmas[96];
    std::snprintf(pragmas, sizeof pragmas, "PRAGMA application_id=%d; PRAGMA user_version=%lld;",
                  kApplicationId, static_cast<long long>(v + 1));
    if (auto e = db.exec(pragmas)) return e;
    if (auto e = tx.commit()) return e;
  }
  return {};
}

std::string move_aside(const std::string& path, int64_t now_us, std::string& why) {
  time_t secs = time_t(now_us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  std::string target = path + ".bad-" + stamp;
  for (int n = 2; exists(target); ++n) target = path + ".bad-" + stamp + "-" + std::to_string(n);
  if (std::rename(path.c_str(), target.c_str()) != 0) {
    why = std::strerror(errno);
    return "";
  }
  for (const char* suffix : {"-wal", "-shm"})
    if (exists(path + suffix)) std::rename((path + suffix).c_str(), (target + suffix).c_str());
  return target;
}

OpenResult open_for_writing(const std::string& path, int64_t now_us) {
  OpenResult r;
  // The second round runs only after a bad file was moved aside.
  for (int round = 0; round < 2; ++round) {
    r.db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, r.error);
    if (!r.db) return r;
    int64_t app_id = 0, version = 0, tables = 0;
    sqlite3_busy_timeout(r.db.get(), 2000);
    sqlite::Error e = inspect(r.db, app_id, version, tables);
    // A new file hands pages freed by pruning back to the file system
    // (Store::reclaim_step). SQLite takes the setting only before the first
    // table: when the list subscriptions created the file first (as `hush
    // serve` does), the few rows they hold are rebuilt with it. If that
    // cannot be done now (another connection is busy), the file reuses
    // freed pages as files from before schema 4 do.
    if (!e && tables == 0 && version == 0) {
      e = r.db.exec("PRAGMA auto_vacuum=INCREMENTAL");
      if (!e && r.db.scalar("PRAGMA auto_vacuum").value_or(0) != 2) r.db.exec("VACUUM");
    }
    if (!e) e = configure(r.db);
    std::string bad;
    if (file_damaged(e))
      bad = "it is damaged or not a database (" + e.message + ")";
    else if (!e && app_id != kApplicationId && (app_id != 0 || tables != 0))
      bad = "it belongs to another application";
    else if (!e && version > kSchemaVersion)
      bad = "it was written by a newer hush (schema " + std::to_string(version) + ")";
    else if (!e && file_damaged(e = migrate(r.db, version, kSchemaVersion)))
      bad = "it is damaged (" + e.message + ")";
    if (bad.empty()) {
      if (!e && register_queries_table(r.db.get()) != SQLITE_OK) e = r.db.last_error();
      r.error = e;
      if (e) r.db.close();
      return r;
    }
    r.db.close();
    std::string why;
    r.moved_aside = move_aside(path, now_us, why);
    r.why_moved = bad;
    if (r.moved_aside.empty()) {
      r.error = {SQLITE_CANTOPEN, "cannot move aside " + path + " (" + bad + "): " + why};
      return r;
    }
  }
  r.error = {SQLITE_CANTOPEN, "a fresh database at " + path + " is unusable too"};
  return r;
}

sqlite::Db open_for_reading(const std::string& path, bool writable, sqlite::Error& error) {
  if (!exists(path)) {
    error = {SQLITE_CANTOPEN, "no query log at " + path + " (has hush run with this data directory?)"};
    return {};
  }
  sqlite::Db db = sqlite::Db::open(path, writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, error);
  if (!db) return db;
  sqlite3_busy_timeout(db.get(), 2000);
  int64_t app_id = 0, version = 0, tables = 0;
  if (auto e = inspect(db, app_id, version, tables)) {
    error = e;
    db.close();
  } else if (app_id != kApplicationId || version != kSchemaVersion) {
    error = {SQLITE_NOTADB, path + " is not a hush query log of schema " + std::to_string(kSchemaVersion)};
    db.close();
  } else if (register_queries_table(db.get()) != SQLITE_OK) {
    error = db.last_error();
    db.close();
  }
  return db;
}

}  // namespace hush::querylog

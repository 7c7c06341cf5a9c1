#include <catch2/catch.hpp>

#include <filesystem>

#include "helpers.hpp"
#include "querylog/store.hpp"

using namespace hush;
using namespace hush::querylog;
using namespace hush::test;

namespace {
constexpr int kDays = 24;
constexpr int kPerDay = 1500;
constexpr int64_t kCap = 1 << 20;

// A day of queries for names never seen before, as a random-subdomain flood
// would send, from two devices, an hour apart each 24 rows.
std::vector<Record> day_of_rows(int day) {
  std::vector<Record> rows;
  for (int i = 0; i < kPerDay; ++i)
    rows.push_back(record(kT0 + day * kDay + int64_t(i) * kDay / kPerDay, i % 2 ? "192.168.1.10" : "192.168.1.11",
                          "n" + std::to_string(i) + ".d" + std::to_string(day) + ".flood.test"));
  return rows;
}

// What the writer does between batches: prune steps while a pass is on.
std::string prune_for_size(Store& store, int64_t now) {
  std::string notes;
  sqlite::Error e;
  for (int i = 0; i < 10000 && store.over_size_cap(now); ++i) {
    store.prune_step(now, 5000, e);
    REQUIRE(!e);
  }
  CHECK(!store.over_size_cap(now));
  return store.take_size_note();
}

int64_t day_sum(sqlite::Db& db, const std::string& sql, int day) {
  return count(db, sql + " " + std::to_string(day));
}
}  // namespace

TEST_CASE("querylog.max_size_mib: oldest days go first, raw rows before counts, and the file stops growing") {
  TempDir dir;
  Options opt;
  opt.path = dir.file("hush.db");
  opt.max_size_bytes = kCap;
  Store store(opt);
  store.open(kT0);
  REQUIRE(store.is_open());
  clients::Directory clients;

  std::vector<std::string> notes;
  uintmax_t file_at_cap = 0, file_max = 0, file_mid = 0;
  int64_t used_max = 0;
  for (int day = 0; day < kDays; ++day) {
    REQUIRE(!store.write(day_of_rows(day), clients));
    const int64_t now = kT0 + day * kDay + kDay - 1;
    used_max = std::max(used_max, store.used_bytes());
    if (std::string note = prune_for_size(store, now); !note.empty()) notes.push_back(note);
    CHECK(store.used_bytes() <= kCap);
    // Closing moves the write-ahead log into the file, as a restart would.
    store.close();
    store.open(now);
    REQUIRE(store.is_open());
    const uintmax_t file = std::filesystem::file_size(opt.path);
    if (!notes.empty() && !file_at_cap) file_at_cap = file;
    if (file_at_cap) file_max = std::max(file_max, file);
    if (day == kDays / 2) file_mid = file;
  }
  INFO("used at most " << used_max << " bytes before pruning; file " << file_at_cap << " -> " << file_max);
  REQUIRE(!notes.empty());
  CHECK(notes.front().find("over querylog.max_size_mib (1.0 MiB): removed raw rows before 2026-01-0") == 0);
  // The cap is checked after each batch, so the used size overshoots it by
  // at most a batch; freed pages are reused, so the file grows to that
  // (within the first few passes) and then stops.
  CHECK(used_max < kCap + kCap / 2);
  CHECK(file_max <= file_mid + file_mid / 50);
  CHECK(file_max < uintmax_t(kCap + kCap / 2));

  auto db = peek(opt.path);
  const int newest = kDays - 1;
  // The newest day whole: its raw rows and its counts.
  CHECK(day_sum(db, "SELECT count(*) FROM queries WHERE t / 86400000000 - 20454 =", newest) == kPerDay);
  CHECK(day_sum(db, "SELECT sum(total) FROM domain_days WHERE device_id = 0 AND day - 20454 =", newest) == kPerDay);
  CHECK(day_sum(db, "SELECT sum(forwarded) FROM hour_stats WHERE hour / 24 - 20454 =", newest) == kPerDay);
  // The oldest went first: what is left are the newest days, raw rows no
  // further back than counts, and both older than a few days are gone.
  const int64_t raw_first = count(db, "SELECT min(t) / 86400000000 - 20454 FROM queries");
  const int64_t agg_first = count(db, "SELECT min(day) - 20454 FROM domain_days");
  CHECK(agg_first > 0);
  CHECK(raw_first >= agg_first);
  CHECK(count(db, "SELECT count(DISTINCT day) FROM domain_days") == kDays - agg_first);
  CHECK(count(db, "SELECT count(DISTINCT hour / 24) FROM hour_stats") == kDays - agg_first);
  // Every day that has counts has all of them, equal to what was logged.
  CHECK(count(db, "SELECT count(*) FROM (SELECT day, sum(total) s FROM domain_days WHERE device_id = 0 "
                  "GROUP BY day) WHERE s != " + std::to_string(kPerDay)) == 0);
  CHECK(count(db, "SELECT count(*) FROM (SELECT hour / 24 d, sum(forwarded) s FROM hour_stats "
                  "GROUP BY d) WHERE s != " + std::to_string(kPerDay)) == 0);
  // Days with raw rows, but for the oldest (removed a block at a time), have
  // them all, and their counts per device and name equal the rows.
  CHECK(count(db, "SELECT count(*) FROM (SELECT t / 86400000000 - 20454 d, count(*) n FROM queries GROUP BY d) "
                  "WHERE d > " + std::to_string(raw_first) + " AND n != " + std::to_string(kPerDay)) == 0);
  CHECK(count(db, "SELECT count(*) FROM (SELECT device_id, t / 86400000000 d, domain_id, count(*) "
                  "FROM queries WHERE t / 86400000000 - 20454 > " + std::to_string(raw_first) +
                  " GROUP BY device_id, d, domain_id EXCEPT SELECT device_id, day, domain_id, total "
                  "FROM domain_days WHERE device_id > 0)") == 0);
  // Names of kept rows and kept counts are kept; removed days' names went.
  CHECK(count(db, "SELECT count(*) FROM queries WHERE domain_id NOT IN (SELECT id FROM domains)") == 0);
  CHECK(count(db, "SELECT count(*) FROM domain_days WHERE domain_id NOT IN (SELECT id FROM domains)") == 0);
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name LIKE '%.d0.flood.test'") == 0);
  CHECK(count(db, "SELECT count(*) FROM block_devices WHERE first_id < (SELECT min(first_id) FROM query_blocks)") == 0);
}

TEST_CASE("querylog.max_size_mib lowered: the pass frees pages and the file shrinks to the cap, in a file the list "
          "subscriptions created first") {
  TempDir dir;
  Options opt;
  opt.path = dir.file("hush.db");
  clients::Directory clients;
  uintmax_t before = 0;
  {
    // As `hush serve` starts: the subscriptions make hush.db, in WAL mode,
    // before the query log opens it.
    sqlite::Error e;
    sqlite::Db subs = sqlite::Db::open(opt.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, e);
    REQUIRE(subs);
    REQUIRE(!subs.exec("PRAGMA journal_mode=WAL; CREATE TABLE subscription_meta(key TEXT PRIMARY KEY, value INTEGER "
                       "NOT NULL) WITHOUT ROWID; INSERT INTO subscription_meta VALUES('generation', 7);"));
  }
  {
    Store store(opt);
    store.open(kT0);
    REQUIRE(store.is_open());
    for (int day = 0; day < 10; ++day) REQUIRE(!store.write(day_of_rows(day), clients));
    store.close();
    before = std::filesystem::file_size(opt.path);
  }
  REQUIRE(before > uintmax_t(kCap + kCap / 2));
  opt.max_size_bytes = kCap;
  Store store(opt);
  const int64_t now = kT0 + 10 * kDay - 1;
  store.open(now);
  REQUIRE(store.is_open());
  CHECK(peek(opt.path).scalar("PRAGMA auto_vacuum") == 2);  // incremental, set when the file was made
  CHECK(!prune_for_size(store, now).empty());
  CHECK(store.used_bytes() <= kCap);
  // In steps of at most 16 pages, as the writer does in steps of 1024.
  sqlite::Error e;
  int steps = 0;
  for (int64_t left; (left = store.reclaim_step(16, e)) > 0; ++steps) REQUIRE(!e);
  REQUIRE(!e);
  CHECK(steps > 1);
  CHECK(store.reclaim_step(16, e) == 0);
  store.close();
  const uintmax_t after = std::filesystem::file_size(opt.path);
  INFO("file " << before << " -> " << after << " bytes");
  CHECK(after <= uintmax_t(kCap));
  // What is left reads as before: the newest day whole.
  auto db = peek(opt.path);
  CHECK(count(db, "PRAGMA freelist_count") == 0);
  CHECK(count(db, "SELECT sum(total) FROM domain_days WHERE device_id = 0 AND day = " + std::to_string(kT0 / kDay + 9)) ==
        kPerDay);
  CHECK(count(db, "SELECT value FROM subscription_meta WHERE key = 'generation'") == 7);
}

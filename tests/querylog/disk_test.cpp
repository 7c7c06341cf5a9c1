// The query log on disk: schema 3's, 4's, 5's and 6's migrations, and what pruning removes with
// what (names with their last day of counts, strings with their raw rows,
// today's names under the size cap), and the write-ahead log's bound.
#include <catch2/catch.hpp>

#include <filesystem>

#include "helpers.hpp"
#include "querylog/block.hpp"
#include "querylog/reader.hpp"
#include "querylog/store.hpp"

using namespace hush;
using namespace hush::querylog;
using namespace hush::test;

namespace {
const std::string kDay0 = std::to_string(kT0 / kDay);

std::string n(int64_t v) { return std::to_string(v); }

Store& opened(std::unique_ptr<Store>& store, const Options& opt, int64_t now) {
  store = std::make_unique<Store>(opt);
  OpenResult r = store->open(now);
  INFO(r.error.message);
  REQUIRE(store->is_open());
  return *store;
}

void prune_all(Store& store, int64_t now) {
  sqlite::Error e;
  for (int i = 0; i < 1000 && store.prune_step(now, 100, e) > 0; ++i) REQUIRE(!e);
  REQUIRE(!e);
}
}  // namespace

TEST_CASE("a schema 3 database loses its first-seen index, and new names are found as before") {
  TempDir dir;
  const std::string path = dir.file("hush.db");
  {
    sqlite::Error e;
    auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, e);
    REQUIRE(!migrate(db, 0, 3));
    // Device 1 asked for old.test on day 0 only, for back.test on day 0 and
    // again on day 2 (its count of day 0 already pruned), for new.test first
    // on day 2; device 2 asked for new.test on day 0.
    const std::string d0 = kDay0, d2 = n(kT0 / kDay + 2);
    REQUIRE(!db.exec(
        "INSERT INTO devices(id, key, first_seen, last_seen) VALUES(1, 'ip:192.168.1.5', 0, 0), "
        "(2, 'ip:192.168.1.6', 0, 0);"
        "INSERT INTO domains(id, name, h, last_day) VALUES(1, 'old.test', 0, " + d0 + "), (2, 'back.test', 0, " + d2 +
        "), (3, 'new.test', 0, " + d2 + ");"
        "INSERT INTO domain_days VALUES(1, " + d0 + ", 1, 1, 0), (1, " + d2 + ", 2, 1, 0), (1, " + d2 + ", 3, 2, 0), "
        "(2, " + d0 + ", 3, 1, 0);"
        "INSERT INTO device_domains VALUES(1, 1, " + n(kT0 + kHour) + ", " + n(kT0 + kHour) + "), "
        "(1, 2, " + n(kT0 + 2 * kHour) + ", " + n(kT0 + 2 * kDay + kHour) + "), "
        "(1, 3, " + n(kT0 + 2 * kDay + kHour) + ", " + n(kT0 + 2 * kDay + 2 * kHour) + "), "
        "(2, 3, " + n(kT0 + kHour) + ", " + n(kT0 + kHour) + ");"));
  }
  Options opt;
  opt.path = path;
  std::unique_ptr<Store> holder;
  opened(holder, opt, kT0 + 2 * kDay + 3 * kHour);
  auto db = peek(path);
  CHECK(count(db, "PRAGMA user_version") == kSchemaVersion);
  CHECK(count(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'device_domains_first'") == 0);
  sqlite::Error err;
  auto reader = Reader::open(path, false, err);
  REQUIRE(reader);
  auto names = [&](int64_t device, int64_t since) {
    std::vector<std::string> out;
    for (const SeenDomain& d : reader->new_domains(device, since, 10, err)) out.push_back(d.domain);
    REQUIRE(!err);
    CHECK(reader->count_new_domains(device, since, 10, err) == int64_t(out.size()));
    return out;
  };
  // Since day 1: only new.test is new to device 1 (back.test was first
  // asked for on day 0), nothing to device 2.
  CHECK(names(1, kT0 + kDay) == std::vector<std::string>{"new.test"});
  CHECK(names(2, kT0 + kDay).empty());
  // Since the start, newest first, back.test included through its count of
  // day 2; since within day 0, to the microsecond.
  CHECK(names(1, kT0) == std::vector<std::string>{"new.test", "back.test", "old.test"});
  CHECK(names(1, kT0 + kHour + 1) == std::vector<std::string>{"new.test", "back.test"});
  CHECK(names(2, kT0 + kHour) == std::vector<std::string>{"new.test"});
}

TEST_CASE("a schema 2 database migrates to schema 3 with its rows, counts, names and strings intact") {
  TempDir dir;
  const std::string path = dir.file("hush.db");
  {
    sqlite::Error e;
    auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, e);
    REQUIRE(!migrate(db, 0, 2));
    // Two raw rows of a device on day 0 and day 1, their counts and
    // first/last seen; a name left for the old sweep (nothing counts it) and
    // a first/last seen older than every count.
    BlockWriter block, block2;
    Row r;
    r.time_us = kT0 + kHour;
    r.device_id = 1;
    r.address_id = 1;
    r.domain_id = 1;
    r.qtype = 1;
    r.status = Status::Blocked;
    r.reason_id = 1;
    block.add(r);
    r.time_us = kT0 + kDay + kHour;
    r.domain_id = 2;
    r.status = Status::Forwarded;
    r.reason_id = 0;
    r.upstream_id = 2;
    block2.add(r);
    REQUIRE(!db.exec(
        "INSERT INTO devices(id, key, first_seen, last_seen) VALUES(1, 'ip:192.168.1.5', " + n(kT0) + ", " +
        n(kT0 + kDay + kHour) + ");"
        "INSERT INTO addresses(id, ip, device_id, first_seen, last_seen) VALUES(1, '192.168.1.5', 1, 0, 0);"
        "INSERT INTO domains(id, name) VALUES(1, 'ads.test'), (2, 'news.test'), (3, 'swept.test'), (4, 'gone.test');"
        "INSERT INTO strings(id, text) VALUES(1, 'ads: ||ads.test^'), (2, '9.9.9.9:53');"
        "INSERT INTO domain_days VALUES(0, " + kDay0 + ", 1, 1, 1), (1, " + kDay0 + ", 1, 1, 1), "
        "(0, " + kDay0 + " + 1, 2, 1, 0), (1, " + kDay0 + " + 1, 2, 1, 0);"
        "INSERT INTO device_domains VALUES(1, 1, " + n(kT0 + kHour) + ", " + n(kT0 + kHour) + "), "
        "(1, 2, " + n(kT0 + kDay + kHour) + ", " + n(kT0 + kDay + kHour) + "), (1, 4, 5, 5);"
        "INSERT INTO meta VALUES('next_id', 3);"
        "INSERT INTO block_devices VALUES(1, 1), (1, 2);"
        "INSERT INTO minute_ids VALUES(" + n((kT0 + kHour) / kMinute) + ", 1), (" +
        n((kT0 + kDay + kHour) / kMinute) + ", 2);"));
    sqlite::Stmt s = db.prepare("INSERT INTO query_blocks(first_id, n, data) VALUES(?1, 1, ?2)", e);
    s.bind(1, 1).bind_blob(2, block.bytes());
    REQUIRE(s.step() == SQLITE_DONE);
    s.bind(1, 2).bind_blob(2, block2.bytes());
    REQUIRE(s.step() == SQLITE_DONE);
  }
  Options opt;
  opt.path = path;
  opt.raw_retention_s = 86400;
  opt.aggregate_retention_s = 86400;
  std::unique_ptr<Store> holder;
  Store& store = opened(holder, opt, kT0 + kDay + 2 * kHour);
  auto db = peek(path);
  CHECK(count(db, "PRAGMA user_version") == kSchemaVersion);
  // Rows, names and strings as they were, joined as readers join them.
  CHECK(count(db, "SELECT count(*) FROM queries q JOIN domains d ON d.id = q.domain_id "
                  "JOIN strings r ON r.id = q.reason_id WHERE d.name = 'ads.test' AND r.text = 'ads: ||ads.test^'") == 1);
  CHECK(count(db, "SELECT count(*) FROM queries q JOIN domains d ON d.id = q.domain_id "
                  "JOIN strings u ON u.id = q.upstream_id WHERE d.name = 'news.test' AND u.text = '9.9.9.9:53'") == 1);
  CHECK(count(db, "SELECT sum(total) FROM domain_days") == 4);
  CHECK(count(db, "SELECT count(*) FROM device_domains") == 2);
  // Each name's hash and last day of counts; the unused name went, as the
  // sweep of schema 2 would have taken it.
  CHECK(count(db, "SELECT last_day FROM domains WHERE name = 'ads.test'") == kT0 / kDay);
  CHECK(count(db, "SELECT last_day FROM domains WHERE name = 'news.test'") == kT0 / kDay + 1);
  CHECK(count(db, "SELECT h FROM domains WHERE id = 2") == name_hash("news.test"));
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name IN ('swept.test', 'gone.test')") == 0);
  CHECK(count(db, "SELECT min(last_id) FROM strings") == 3);
  CHECK(count(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('domain_days_day', 'device_domains_domain', "
                  "'device_domains_last', 'sqlite_autoindex_domains_1')") == 0);
  {
    sqlite::Error err;
    auto reader = Reader::open(path, false, err);
    REQUIRE(reader);
    auto top = reader->top_domains({}, kT0 - 3 * kDay, kForever, 10, false, err);
    REQUIRE(top.size() == 2);
    CHECK(((top[0].name == "ads.test" && top[1].name == "news.test") ||
           (top[1].name == "ads.test" && top[0].name == "news.test")));
  }

  // A migrated name is found again by its hash: the same id.
  REQUIRE(!store.write({record(kT0 + kDay + 2 * kHour, "192.168.1.5", "news.test")}, clients::Directory()));
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name = 'news.test'") == 1);
  CHECK(count(db, "SELECT max(domain_id) FROM queries") == 2);
  // Day 0 leaves with its name and its first/last seen; day 1 stays whole.
  // Strings from before the migration stay until its last raw row goes.
  prune_all(store, kT0 + 2 * kDay);
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name = 'ads.test'") == 0);
  CHECK(count(db, "SELECT count(*) FROM device_domains WHERE domain_id = 1") == 0);
  CHECK(count(db, "SELECT count(*) FROM queries") == 2);
  CHECK(count(db, "SELECT count(*) FROM strings WHERE text = 'ads: ||ads.test^'") == 1);
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name = 'news.test'") == 1);
  CHECK(count(db, "SELECT sum(total) FROM domain_days WHERE device_id = 0") == 2);
  CHECK(count(db, "SELECT count(*) FROM strings WHERE text = '9.9.9.9:53'") == 1);
}

TEST_CASE("a day's names leave with its counts unless a later day counts them") {
  TempDir dir;
  Options opt;
  opt.path = dir.file("hush.db");
  opt.raw_retention_s = 86400;
  opt.aggregate_retention_s = 2 * 86400;
  std::unique_ptr<Store> holder;
  Store& store = opened(holder, opt, kT0);
  const int64_t later = kT0 + 3 * kDay;  // day 0 is past the retention, day 1 not
  clients::Directory none;
  // Day 0: 300 names from two devices; day 1: 50 of them again, from a third.
  std::vector<Record> day0, day1;
  for (int i = 0; i < 300; ++i)
    day0.push_back(record(kT0 + i * 1000, i % 2 ? "192.168.1.10" : "192.168.1.11", "n" + n(i) + ".test"));
  for (int i = 0; i < 50; ++i) day1.push_back(record(kT0 + kDay + i * 1000, "192.168.1.12", "n" + n(i * 6) + ".test"));
  REQUIRE(!store.write(day0, none));
  REQUIRE(!store.write(day1, none));
  auto db = peek(opt.path);
  CHECK(count(db, "SELECT count(*) FROM domains") == 300);
  prune_all(store, later);
  CHECK(count(db, "SELECT count(*) FROM domain_days WHERE day = " + kDay0) == 0);
  CHECK(count(db, "SELECT count(*) FROM domains") == 50);
  CHECK(count(db, "SELECT count(*) FROM domains WHERE last_day != " + kDay0 + " + 1") == 0);
  // First/last seen of the devices of day 0 went; the third device's stayed.
  CHECK(count(db, "SELECT count(*) FROM device_domains") == 50);
  CHECK(count(db, "SELECT count(*) FROM domain_days WHERE domain_id NOT IN (SELECT id FROM domains)") == 0);
  // The writer forgot the removed names: logging one stores it again.
  REQUIRE(!store.write({record(later, "192.168.1.10", "n1.test")}, none));
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name = 'n1.test'") == 1);
  CHECK(count(db, "SELECT count(*) FROM queries q JOIN domains d ON d.id = q.domain_id WHERE d.name = 'n1.test'") == 1);
}

TEST_CASE("block reasons leave with the raw rows that name them") {
  TempDir dir;
  Options opt;
  opt.path = dir.file("hush.db");
  opt.raw_retention_s = 86400;
  std::unique_ptr<Store> holder;
  Store& store = opened(holder, opt, kT0);
  clients::Directory none;
  std::vector<Record> day0, day1;
  for (int i = 0; i < 200; ++i)
    day0.push_back(record(kT0 + i * 1000, "192.168.1.10", "b" + n(i) + ".test", Status::Blocked));
  for (int i = 0; i < 20; ++i)
    day1.push_back(record(kT0 + kDay + i * 1000, "192.168.1.10", "b" + n(i) + ".test", Status::Blocked));
  REQUIRE(!store.write(day0, none));
  REQUIRE(!store.write(day1, none));
  auto db = peek(opt.path);
  CHECK(count(db, "SELECT count(*) FROM strings WHERE text LIKE 'ads: %'") == 200);
  prune_all(store, kT0 + kDay + 2 * kHour);
  CHECK(count(db, "SELECT count(*) FROM queries") == 20);
  CHECK(count(db, "SELECT count(*) FROM strings WHERE text LIKE 'ads: %'") == 20);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE reason_id NOT IN (SELECT id FROM strings)") == 0);
  // A removed string is stored again when a row names it again.
  REQUIRE(!store.write({record(kT0 + kDay + 3 * kHour, "192.168.1.10", "b150.test", Status::Blocked)}, none));
  CHECK(count(db, "SELECT count(*) FROM queries q JOIN strings r ON r.id = q.reason_id "
                  "WHERE r.text = 'ads: ||b150.test^'") == 1);
}

TEST_CASE("more new names in one day than the cap holds: today's oldest go, today's totals stay exact") {
  TempDir dir;
  Options opt;
  opt.path = dir.file("hush.db");
  opt.max_size_bytes = 1 << 20;
  std::unique_ptr<Store> holder;
  Store& store = opened(holder, opt, kT0);
  clients::Directory none;
  constexpr int kBatches = 30, kPerBatch = 2000;  // about 4 MiB of names in all
  int64_t used_max_after = 0;
  std::string notes;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<Record> rows;
    for (int i = 0; i < kPerBatch; ++i)
      rows.push_back(record(kT0 + int64_t(b * kPerBatch + i) * 1000000, i % 2 ? "192.168.1.10" : "192.168.1.11",
                            "r" + n(b * kPerBatch + i) + ".flood.test"));
    REQUIRE(!store.write(rows, none));
    const int64_t now = kT0 + int64_t((b + 1) * kPerBatch) * 1000000;
    sqlite::Error e;
    for (int i = 0; i < 10000 && store.over_size_cap(now); ++i) {
      store.prune_step(now, 5000, e);
      REQUIRE(!e);
    }
    notes += store.take_size_note();
    used_max_after = std::max(used_max_after, store.used_bytes());
  }
  INFO(notes);
  CHECK(notes.find("today's oldest names' counts") != std::string::npos);
  CHECK(used_max_after <= opt.max_size_bytes);
  auto db = peek(opt.path);
  // Every query is still in the day's totals.
  CHECK(count(db, "SELECT sum(forwarded) FROM hour_stats") == kBatches * kPerBatch);
  CHECK(count(db, "SELECT sum(forwarded) FROM minute_stats") == kBatches * kPerBatch);
  // The newest names are kept, the oldest went, and what is left agrees.
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name = 'r" + n(kBatches * kPerBatch - 1) + ".flood.test'") == 1);
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name = 'r0.flood.test'") == 0);
  CHECK(count(db, "SELECT count(*) FROM domain_days WHERE domain_id NOT IN (SELECT id FROM domains)") == 0);
  CHECK(count(db, "SELECT count(*) FROM device_domains WHERE domain_id NOT IN (SELECT id FROM domains)") == 0);
  CHECK(count(db, "SELECT count(*) FROM domains WHERE id NOT IN (SELECT domain_id FROM domain_days)") == 0);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE domain_id NOT IN (SELECT id FROM domains)") == 0);
  CHECK(count(db, "SELECT sum(total) FROM domain_days WHERE device_id = 0") ==
        count(db, "SELECT sum(total) FROM domain_days WHERE device_id > 0"));
}

TEST_CASE("the write-ahead log is cut back after a checkpoint") {
  TempDir dir;
  Options opt;
  opt.path = dir.file("hush.db");
  std::unique_ptr<Store> holder;
  Store& store = opened(holder, opt, kT0);
  clients::Directory none;
  // One large transaction (new names) grows the log past its limit ...
  std::vector<Record> rows;
  for (int i = 0; i < 80000; ++i) rows.push_back(record(kT0 + i, "192.168.1.10", "w" + n(i) + ".big.test"));
  REQUIRE(!store.write(rows, none));
  const auto wal = [&] { return std::filesystem::file_size(opt.path + "-wal"); };
  const uintmax_t grown = wal();
  INFO("log grew to " << grown);
  REQUIRE(grown > uintmax_t(4 << 20));
  // ... and small ones after it, once a checkpoint has run, find it cut back.
  for (int b = 0; b < 400; ++b) {
    rows.clear();
    for (int i = 0; i < 50; ++i) rows.push_back(record(kT0 + kHour + b * 100 + i, "192.168.1.10", "s" + n(b * 50 + i) + ".test"));
    REQUIRE(!store.write(rows, none));
  }
  CHECK(wal() <= uintmax_t(4 << 20));
}

TEST_CASE("a schema 4 database keeps its names, first/last seen and rows; new names keep their parent apart") {
  TempDir dir;
  const std::string path = dir.file("hush.db");
  {
    sqlite::Error e;
    auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, e);
    REQUIRE(!migrate(db, 0, 4));
    // A row of format 1 for old.example.com, asked by device 1 an hour
    // into day 0 and again an hour into day 1.
    const std::string blob("\x01\x80\x80\x80\x80\x80\x80\x80\x01"  // format 1, a time replaced below
                           "\x00\x01\x01\x01\x01\x10\x00\x00\x00\x05\x00",
                           20);
    REQUIRE(!db.exec(
        "INSERT INTO devices(id, key, first_seen, last_seen) VALUES(1, 'ip:192.168.1.5', " + n(kT0) + ", " +
        n(kT0 + kDay + kHour) + ");"
        "INSERT INTO addresses(id, ip, device_id, first_seen, last_seen) VALUES(1, '192.168.1.5', 1, 0, 0);"
        "INSERT INTO domains(id, name, h, last_day) VALUES(1, 'old.example.com', " + n(name_hash("old.example.com")) +
        ", " + kDay0 + " + 1);"
        "INSERT INTO domain_days VALUES(0, " + kDay0 + ", 1, 1, 0), (1, " + kDay0 + ", 1, 1, 0), "
        "(0, " + kDay0 + " + 1, 1, 1, 0), (1, " + kDay0 + " + 1, 1, 1, 0);"
        "INSERT INTO device_domains VALUES(1, 1, " + n(kT0 + kHour) + ", " + n(kT0 + kDay + kHour) + ");"
        "INSERT INTO meta VALUES('next_id', 2);"
        "INSERT INTO block_devices VALUES(1, 1);"
        "INSERT INTO minute_ids VALUES(" + n((kT0 + kHour) / kMinute) + ", 1);"));
    // The block's time as the varint of kT0 + kHour.
    std::string data(1, '\x01');
    for (uint64_t v = uint64_t(kT0 + kHour); ; v >>= 7) {
      data.push_back(char(v >= 0x80 ? (v & 0x7f) | 0x80 : v));
      if (v < 0x80) break;
    }
    data += blob.substr(9);
    sqlite::Stmt s = db.prepare("INSERT INTO query_blocks(first_id, n, data) VALUES(1, 1, ?1)", e);
    s.bind_blob(1, data);
    REQUIRE(s.step() == SQLITE_DONE);
  }
  Options opt;
  opt.path = path;
  std::unique_ptr<Store> holder;
  Store& store = opened(holder, opt, kT0 + kDay + 2 * kHour);
  auto db = peek(path);
  CHECK(count(db, "PRAGMA user_version") == kSchemaVersion);
  // First and last seen read as before, the table holds the gap.
  CHECK(count(db, "SELECT first_seen FROM device_domains WHERE device_id = 1 AND domain_id = 1") == kT0 + kHour);
  CHECK(count(db, "SELECT last_seen FROM device_domains WHERE device_id = 1 AND domain_id = 1") ==
        kT0 + kDay + kHour);
  CHECK(count(db, "SELECT last_gap FROM device_seen") == kDay);
  // The old name keeps its id, and the old row reads through it.
  CHECK(count(db, "SELECT id FROM domains WHERE name = 'old.example.com'") == 1);
  CHECK(count(db, "SELECT count(*) FROM queries q JOIN domains d ON d.id = q.domain_id "
                  "WHERE d.name = 'old.example.com' AND q.t = " + n(kT0 + kHour) + " AND q.status = 1") == 1);
  // Asked again, it is found by its hash; a new name under the same
  // registrable domain is its label and a parent.
  const int64_t t = kT0 + kDay + 2 * kHour;
  REQUIRE(!store.write({record(t, "192.168.1.5", "old.example.com"), record(t, "192.168.1.5", "new.example.com"),
                        record(t, "192.168.1.5", "a.b.example.com"), record(t, "192.168.1.5", "example.com")},
                       clients::Directory()));
  REQUIRE(!store.flush_aggregates());
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name = 'old.example.com'") == 1);
  CHECK(count(db, "SELECT count(*) FROM domain_parents") == 1);
  CHECK(count(db, "SELECT count(*) FROM domain_names n JOIN domain_parents p ON p.id = n.parent "
                  "WHERE p.name = 'example.com' AND n.label IN ('new.', 'a.b.')") == 2);
  CHECK(count(db, "SELECT count(*) FROM domain_names WHERE label = 'example.com' AND parent IS NULL") == 1);
  CHECK(count(db, "SELECT h FROM domains WHERE name = 'a.b.example.com'") == name_hash("a.b.example.com"));
  CHECK(count(db, "SELECT last_seen FROM device_domains WHERE device_id = 1 AND domain_id = 1") == t);
  CHECK(count(db, "SELECT first_seen FROM device_domains WHERE device_id = 1 AND domain_id = 1") == kT0 + kHour);
  CHECK(count(db, "SELECT count(*) FROM queries q JOIN domains d ON d.id = q.domain_id "
                  "WHERE d.name = 'a.b.example.com'") == 1);
  CHECK(count(db, "SELECT sum(total) FROM domain_days WHERE device_id = 0") == 6);
  sqlite::Error err;
  auto reader = Reader::open(path, false, err);
  REQUIRE(reader);
  QueryFilter f;
  f.text_contains = "B.EXAMPLE";
  auto page = reader->queries(f, err);
  REQUIRE(!err);
  REQUIRE(page.rows.size() == 1);
  CHECK(page.rows[0].domain == "a.b.example.com");
  f = QueryFilter{};
  f.domain_contains = "old.example";
  page = reader->queries(f, err);
  CHECK(page.rows.size() == 2);
}

TEST_CASE("pruned names take their parent with them once no name uses it") {
  TempDir dir;
  Options opt;
  opt.path = dir.file("hush.db");
  opt.raw_retention_s = 86400;
  opt.aggregate_retention_s = 86400;
  std::unique_ptr<Store> holder;
  Store& store = opened(holder, opt, kT0);
  clients::Directory none;
  // More names than the sweep waits for, under two parents on day 0; one
  // name of the second parent is asked again on day 2.
  std::vector<Record> rows;
  for (int i = 0; i < 50001; ++i)
    rows.push_back(record(kT0 + i, "192.168.1.5", "r" + n(i) + (i % 2 ? ".flood.example" : ".other.example")));
  REQUIRE(!store.write(rows, none));
  REQUIRE(!store.write({record(kT0 + 2 * kDay, "192.168.1.5", "r1.flood.example")}, none));
  REQUIRE(!store.flush_aggregates());
  auto db = peek(opt.path);
  CHECK(count(db, "SELECT count(*) FROM domain_parents") == 2);
  prune_all(store, kT0 + 2 * kDay + kHour);
  CHECK(count(db, "SELECT count(*) FROM domains") == 1);
  CHECK(count(db, "SELECT count(*) FROM domain_parents WHERE name = 'flood.example'") == 1);
  CHECK(count(db, "SELECT count(*) FROM domain_parents") == 1);
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name = 'r1.flood.example'") == 1);
  // A name under the swept parent gets a parent again.
  REQUIRE(!store.write({record(kT0 + 2 * kDay + 2 * kHour, "192.168.1.5", "x.other.example")}, none));
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name = 'x.other.example'") == 1);
}

TEST_CASE("a schema 5 database gains the first-id index, and pruning still keeps the rows from before the clock went back") {
  TempDir dir;
  const std::string path = dir.file("hush.db");
  Options opt;
  opt.path = path;
  opt.raw_retention_s = 30 * kDay / 1000000;
  {
    std::unique_ptr<Store> holder;
    Store& store = opened(holder, opt, kT0 + 10 * kDay);
    std::vector<Record> rows;
    for (int i = 0; i < 100; ++i) rows.push_back(record(kT0 + 10 * kDay + i * 1000, "192.168.1.10", "a.test"));
    REQUIRE(!store.write(rows, clients::Directory()));
    rows.clear();
    for (int i = 0; i < 100; ++i) rows.push_back(record(kT0 + i * 1000, "192.168.1.10", "b.test"));
    REQUIRE(!store.write(rows, clients::Directory()));
    store.close();
  }
  {
    // As schema 5 left it.
    sqlite::Error e;
    auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE, e);
    REQUIRE(!db.exec("DROP INDEX minute_ids_first; PRAGMA user_version=5;"));
  }
  std::unique_ptr<Store> holder;
  Store& store = opened(holder, opt, kT0 + 11 * kDay);
  auto db = peek(path);
  CHECK(count(db, "PRAGMA user_version") == kSchemaVersion);
  CHECK(count(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'minute_ids_first'") == 1);
  sqlite::Error e;
  store.prune_step(kT0 + 11 * kDay, 5000, e);
  REQUIRE(!e);
  CHECK(count(db, "SELECT count(*) FROM queries") == 200);
  // Past the retention of both, every row goes.
  prune_all(store, kT0 + 41 * kDay);
  CHECK(count(db, "SELECT count(*) FROM queries") == 0);
}

#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>
#include <tuple>

#include "helpers.hpp"
#include "querylog/store.hpp"

using namespace hush;
using namespace hush::querylog;
using namespace hush::test;

namespace {
struct Fixture {
  TempDir dir;
  Options opt;
  clients::Directory clients;
  std::unique_ptr<Store> store;

  Fixture() { opt.path = dir.file("hush.db"); }
  void open() {
    store = std::make_unique<Store>(opt);
    OpenResult r = store->open(kT0);
    INFO(r.error.message);
    REQUIRE(store->is_open());
  }
  void write(const std::vector<Record>& batch) {
    sqlite::Error e = store->write(batch, clients);
    INFO(e.message);
    REQUIRE(!e);
  }
  void prune_all(int64_t now) {
    sqlite::Error e;
    for (int i = 0; i < 1000 && store->prune_step(now, 100, e) > 0; ++i) REQUIRE(!e);
    REQUIRE(!e);
  }
};

// Each aggregate row compared with the same numbers computed from raw rows.
void check_aggregates_match_raw(sqlite::Db& db) {
  auto mismatches = [&](const std::string& sql) { return count(db, "SELECT count(*) FROM (" + sql + ")"); };
  // minute_stats, both ways: every raw minute has its row and no row is extra.
  CHECK(mismatches("SELECT t / 60000000 AS m, device_id, sum(status=0) f, sum(status=1) c, sum(status=2) b "
                   "FROM queries GROUP BY m, device_id EXCEPT "
                   "SELECT minute, device_id, forwarded, cached, blocked FROM minute_stats") == 0);
  CHECK(mismatches("SELECT minute, device_id, forwarded, cached, blocked FROM minute_stats EXCEPT "
                   "SELECT t / 60000000 AS m, device_id, sum(status=0), sum(status=1), sum(status=2) "
                   "FROM queries GROUP BY m, device_id") == 0);
  CHECK(mismatches("SELECT hour, device_id, forwarded + cached + blocked + local + refused + error "
                   "FROM hour_stats EXCEPT SELECT t / 3600000000 AS h, device_id, count(*) "
                   "FROM queries GROUP BY h, device_id") == 0);
  CHECK(mismatches("SELECT device_id, day, domain_id, total, blocked FROM domain_days WHERE device_id > 0 "
                   "EXCEPT SELECT device_id, t / 86400000000 AS d, domain_id, count(*), sum(status=2) "
                   "FROM queries GROUP BY device_id, d, domain_id") == 0);
  // Device 0 is every device together.
  CHECK(mismatches("SELECT day, domain_id, total, blocked FROM domain_days WHERE device_id = 0 EXCEPT "
                   "SELECT t / 86400000000 AS d, domain_id, count(*), sum(status=2) "
                   "FROM queries GROUP BY d, domain_id") == 0);
  CHECK(count(db, "SELECT count(*) FROM domain_days WHERE device_id = 0") ==
        count(db, "SELECT count(*) FROM (SELECT DISTINCT t / 86400000000, domain_id FROM queries)"));
  CHECK(mismatches("SELECT device_id, domain_id, first_seen, last_seen FROM device_domains EXCEPT "
                   "SELECT device_id, domain_id, min(t), max(t) FROM queries GROUP BY device_id, domain_id") == 0);
  CHECK(count(db, "SELECT count(*) FROM device_domains") ==
        count(db, "SELECT count(*) FROM (SELECT DISTINCT device_id, domain_id FROM queries)"));
  CHECK(count(db, "SELECT count(*) FROM minute_stats") > 0);
}
}  // namespace

TEST_CASE("aggregates equal what the raw rows say, across batches") {
  Fixture f;
  f.open();
  std::mt19937 rng(7);
  const char* ips[] = {"192.168.1.10", "192.168.1.11", "2001:db8::5", "10.0.0.3"};
  int64_t t = kT0;
  for (int batch = 0; batch < 30; ++batch) {
    std::vector<Record> rows;
    for (int i = 0; i < 200; ++i) {
      // Jumps of up to ~40 minutes so rows spread over many minutes, hours
      // and three days; some rows out of order within a batch.
      t += int64_t(rng() % 12000) * 1000000 / 10;
      int64_t jitter = int64_t(rng() % 3000000);
      Status s = Status(rng() % 3);
      rows.push_back(record(t - jitter, ips[rng() % 4], "d" + std::to_string(rng() % 40) + ".test", s));
    }
    f.write(rows);
  }
  auto db = peek(f.opt.path);
  CHECK(count(db, "SELECT count(*) FROM queries") == 6000);
  CHECK(count(db, "SELECT max(t) - min(t) FROM queries") > 2 * kDay);
  check_aggregates_match_raw(db);
  CHECK(count(db, "SELECT count(*) FROM devices") == 4);
  CHECK(count(db, "SELECT count(*) FROM domains") == 40);
  // Ids grow with time inside each batch (what time->id ranges rely on).
  CHECK(count(db, "SELECT count(*) FROM queries a JOIN queries b ON b.id = a.id + 1 "
                  "WHERE b.t < a.t - 5000000") == 0);
}

TEST_CASE("aggregates flushed in parts, with batches written between the parts, equal the raw rows") {
  Fixture f;
  f.open();
  std::mt19937 rng(11);
  const char* ips[] = {"192.168.1.10", "192.168.1.11", "10.0.0.3"};
  int64_t t = kT0;
  for (int round = 0; round < 20; ++round) {
    Batch batch;
    for (int i = 0; i < 150; ++i) {
      t += int64_t(rng() % 40000) * 1000000 / 10;  // spread over days
      batch.add(record(t, ips[rng() % 3], "d" + std::to_string(rng() % 60) + ".test", Status(rng() % 3)));
    }
    sqlite::Error e = f.store->write(batch, f.clients);
    REQUIRE(!e);
    // Keys of this batch may also be among those of a flush under way.
    size_t before = f.store->pending_aggregates();
    REQUIRE(!f.store->flush_aggregates(25));
    // At most 25 written, at least one.
    CHECK(f.store->pending_aggregates() < before);
    CHECK(f.store->pending_aggregates() + 25 >= before);
  }
  CHECK(f.store->flushing());
  REQUIRE(!f.store->flush_aggregates());
  CHECK(!f.store->flushing());
  CHECK(f.store->pending_aggregates() == 0);
  auto db = peek(f.opt.path);
  CHECK(count(db, "SELECT count(*) FROM queries") == 3000);
  check_aggregates_match_raw(db);
}

TEST_CASE("first seen and last seen per device and domain") {
  Fixture f;
  f.open();
  f.write({record(kT0 + 5 * kMinute, "192.168.1.10", "new.test"), record(kT0, "192.168.1.10", "new.test")});
  f.write({record(kT0 + kDay, "192.168.1.10", "new.test"), record(kT0 + kDay, "192.168.1.11", "new.test")});
  auto db = peek(f.opt.path);
  CHECK(count(db, "SELECT dd.first_seen FROM device_domains dd JOIN addresses a ON a.device_id = dd.device_id "
                  "WHERE a.ip = '192.168.1.10'") == kT0);
  CHECK(count(db, "SELECT dd.last_seen FROM device_domains dd JOIN addresses a ON a.device_id = dd.device_id "
                  "WHERE a.ip = '192.168.1.10'") == kT0 + kDay);
  CHECK(count(db, "SELECT dd.first_seen FROM device_domains dd JOIN addresses a ON a.device_id = dd.device_id "
                  "WHERE a.ip = '192.168.1.11'") == kT0 + kDay);
  check_aggregates_match_raw(db);
}

TEST_CASE("addresses with one MAC are one device") {
  Fixture f;
  clients::Inputs in;
  in.neighbours = {{"2001:db8::a", "3c:22:fb:12:34:56"}, {"2001:db8::b", "3c:22:fb:12:34:56"}};
  in.leases = {{"192.168.1.20", "3c:22:fb:12:34:56", "annas-phone", 0}};
  f.clients = clients::Directory(in, kT0 / 1000000);
  f.open();
  f.write({record(kT0, "2001:db8::a", "a.test"), record(kT0 + 1, "2001:db8::b", "a.test"),
           record(kT0 + 2, "192.168.1.20", "b.test"), record(kT0 + 3, "192.168.1.99", "b.test")});
  auto db = peek(f.opt.path);
  CHECK(count(db, "SELECT count(*) FROM devices") == 2);
  CHECK(count(db, "SELECT count(*) FROM addresses WHERE device_id = "
                  "(SELECT id FROM devices WHERE name = 'annas-phone')") == 3);
  CHECK(count(db, "SELECT count(*) FROM device_domains") == 3);
}

TEST_CASE("a client ID (DoT SNI) is one device across addresses, apart from others at the same address") {
  Fixture f;
  f.open();
  auto with_id = [](Record r, const std::string& id) {
    r.set_texts(r.name(), r.reason(), r.answer(), r.upstream(), id);
    return r;
  };
  f.write({with_id(record(kT0, "192.168.1.20", "a.test"), "phone-anna"),
           with_id(record(kT0 + 1, "10.0.0.7", "b.test"), "phone-anna"),
           with_id(record(kT0 + 2, "192.168.1.20", "c.test"), "tablet"), record(kT0 + 3, "192.168.1.20", "d.test")});
  auto db = peek(f.opt.path);
  CHECK(count(db, "SELECT count(*) FROM devices") == 3);
  CHECK(count(db, "SELECT count(*) FROM device_domains WHERE device_id = "
                  "(SELECT id FROM devices WHERE name = 'phone-anna')") == 2);
  CHECK(count(db, "SELECT count(*) FROM device_domains WHERE device_id = "
                  "(SELECT id FROM devices WHERE name = 'tablet')") == 1);
  CHECK(count(db, "SELECT count(*) FROM devices WHERE name IS NULL") == 1);  // the plain query's address
}

TEST_CASE("past max_devices, new addresses share one device and every query keeps its row") {
  Fixture f;
  f.opt.max_devices = 3;
  f.open();
  std::vector<Record> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(record(kT0 + i, "192.168.1." + std::to_string(10 + i), "a.test"));
  f.write(batch);
  // A known device still gets its own rows after the cap was reached.
  f.write({record(kT0 + 20, "192.168.1.10", "b.test"), record(kT0 + 21, "192.168.1.99", "b.test")});
  auto db = peek(f.opt.path);
  CHECK(count(db, "SELECT count(*) FROM devices") == 4);  // three, plus the shared one
  CHECK(count(db, "SELECT count(*) FROM devices WHERE key = 'overflow' AND name = 'other devices'") == 1);
  CHECK(count(db, "SELECT count(*) FROM addresses") == 4);
  CHECK(count(db, "SELECT count(*) FROM queries") == 12);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE device_id = (SELECT id FROM devices WHERE key = 'overflow')") ==
        8);
  CHECK(count(db, "SELECT count(*) FROM queries q JOIN devices d ON d.id = q.device_id "
                  "WHERE d.key = 'ip:192.168.1.10'") == 2);
  CHECK(f.store->over_device_cap() == 8);
}

TEST_CASE("retention: raw rows after 30 days, aggregates after their own period") {
  Fixture f;
  f.opt.raw_retention_s = 30 * 86400;
  f.opt.aggregate_retention_s = 60 * 86400;
  f.open();
  const int64_t now = kT0 + 100 * kDay;
  f.write({record(now - 90 * kDay, "192.168.1.10", "ancient.test")});
  f.write({record(now - 40 * kDay, "192.168.1.10", "old.test")});
  f.write({record(now - 20 * kDay, "192.168.1.10", "recent.test"), record(now - kDay, "192.168.1.11", "old.test")});
  f.prune_all(now);

  auto db = peek(f.opt.path);
  CHECK(count(db, "SELECT count(*) FROM queries") == 2);
  CHECK(count(db, "SELECT min(t) FROM queries") == now - 20 * kDay);
  CHECK(count(db, "SELECT count(*) FROM minute_stats WHERE minute < " + std::to_string((now - 30 * kDay) / kMinute)) == 0);
  CHECK(count(db, "SELECT count(*) FROM minute_stats") == 2);
  // Hours and days of the 40-day-old query stay (60-day aggregates); the
  // 90-day-old one is gone everywhere, its name too.
  CHECK(count(db, "SELECT count(*) FROM hour_stats") == 3);
  CHECK(count(db, "SELECT count(*) FROM domain_days WHERE device_id > 0") == 3);
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name = 'ancient.test'") == 0);
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name = 'old.test'") == 1);
  CHECK(count(db, "SELECT count(*) FROM device_domains") == 3);

  // The writer forgot the pruned name: logging it again stores it again.
  f.write({record(now, "192.168.1.10", "ancient.test")});
  CHECK(count(db, "SELECT count(*) FROM queries q JOIN domains d ON d.id = q.domain_id "
                  "WHERE d.name = 'ancient.test'") == 1);
}

TEST_CASE("pruning keeps the rows logged before the clock went back") {
  Fixture f;
  f.opt.raw_retention_s = 30 * kDay / 1000000;
  f.open();
  std::vector<Record> rows;
  for (int i = 0; i < 100; ++i) rows.push_back(record(kT0 + 10 * kDay + i * 1000, "192.168.1.10", "a.test"));
  f.write(rows);
  rows.clear();
  for (int i = 0; i < 100; ++i) rows.push_back(record(kT0 + i * 1000, "192.168.1.10", "b.test"));
  f.write(rows);
  auto db = peek(f.opt.path);
  sqlite::Error e;
  f.store->prune_step(kT0 + 11 * kDay, 5000, e);
  REQUIRE(!e);
  CHECK(count(db, "SELECT count(*) FROM queries") == 200);
}

TEST_CASE("pruning goes in bounded steps of whole blocks") {
  Fixture f;
  f.opt.raw_retention_s = 86400;
  f.open();
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<Record> rows;
    for (int i = 0; i < 100; ++i) rows.push_back(record(kT0 + (batch * 100 + i) * 1000, "192.168.1.10", "a.test"));
    f.write(rows);
  }
  auto db = peek(f.opt.path);
  CHECK(count(db, "SELECT count(*) FROM query_blocks") == 10);
  sqlite::Error e;
  const int64_t later = kT0 + 3 * kDay;
  CHECK(f.store->prune_step(later, 250, e) >= 200);
  CHECK(count(db, "SELECT count(*) FROM queries") == 800);
  CHECK(count(db, "SELECT min(id) FROM queries") == 201);
  CHECK(count(db, "SELECT count(*) FROM block_devices WHERE first_id < 201") == 0);
  f.prune_all(later);
  CHECK(count(db, "SELECT count(*) FROM queries") == 0);
  CHECK(count(db, "SELECT count(*) FROM block_devices") == 0);
}

TEST_CASE("privacy patterns keep clients and domains out entirely") {
  Fixture f;
  f.opt.ignore_domains = {"bank.example", "*.tracker.*"};
  f.opt.ignore_clients = {"192.168.1.50", "tv-*", "aa:bb:cc:*"};
  clients::Inputs in;
  in.hosts = {{"192.168.1.77", "tv-living-room"}};
  in.neighbours = {{"192.168.1.88", "aa:bb:cc:00:11:22"}};
  f.clients = clients::Directory(in, kT0 / 1000000);
  f.open();
  f.write({record(kT0, "192.168.1.10", "bank.example"), record(kT0, "192.168.1.10", "www.bank.example"),
           record(kT0, "192.168.1.10", "notbank.example"), record(kT0, "192.168.1.10", "a.tracker.net"),
           record(kT0, "192.168.1.50", "ok.test"), record(kT0, "192.168.1.77", "ok.test"),
           record(kT0, "192.168.1.88", "ok.test"), record(kT0, "192.168.1.10", "ok.test")});
  auto db = peek(f.opt.path);
  CHECK(count(db, "SELECT count(*) FROM queries") == 2);
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name LIKE '%bank%' OR name LIKE '%tracker%'") == 1);
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name = 'notbank.example'") == 1);
  CHECK(count(db, "SELECT count(*) FROM addresses") == 1);
  CHECK(count(db, "SELECT sum(forwarded) FROM minute_stats") == 2);  // not even counted
  CHECK(f.store->hidden() == 6);
}

TEST_CASE("glob patterns") {
  CHECK(glob_match("*.example", "a.b.example"));
  CHECK(glob_match("TV-*", "tv-kitchen"));
  CHECK(glob_match("192.168.1.?", "192.168.1.7"));
  CHECK_FALSE(glob_match("192.168.1.?", "192.168.1.70"));
  CHECK_FALSE(glob_match("*.example", "example"));
  CHECK(glob_match("a*b*c", "axxbyyc"));
  CHECK_FALSE(glob_match("a*b*c", "axxbyy"));
}

TEST_CASE("anonymous mode keeps counts and nothing that names a client or a domain") {
  Fixture f;
  f.opt.anonymous = true;
  f.open();
  f.write({record(kT0, "192.168.1.10", "a.test", Status::Blocked), record(kT0 + 1, "192.168.1.11", "b.test"),
           record(kT0 + kHour, "192.168.1.10", "a.test", Status::Cached)});
  auto db = peek(f.opt.path);
  for (const char* table : {"queries", "domains", "devices", "addresses", "device_domains", "domain_days", "strings"}) {
    INFO(table);
    CHECK(count(db, std::string("SELECT count(*) FROM ") + table) == 0);
  }
  CHECK(count(db, "SELECT sum(blocked) FROM minute_stats") == 1);
  CHECK(count(db, "SELECT sum(forwarded + cached + blocked) FROM hour_stats") == 3);
  CHECK(count(db, "SELECT count(DISTINCT device_id) FROM hour_stats") == 1);
}

TEST_CASE("under a memory limit a flood of new names keeps the tables within their share, and SQLite exact") {
  Fixture f;
  f.open();
  const size_t share = 1024 * 1024;
  f.store->set_memory_limit(share, 1 << 20);
  const size_t empty = f.store->memory_bytes();
  CHECK(empty <= share);
  std::mt19937 rng(5);
  const char* ips[] = {"192.168.1.10", "192.168.1.11", "10.0.0.3"};
  std::map<std::string, int64_t> repeated;  // name -> times asked
  int64_t t = kT0;
  size_t peak = 0;
  for (int round = 0; round < 60; ++round) {
    Batch batch;
    // Some batches hold more new names than the per-day totals' share.
    const int rows = round % 3 == 0 ? 2500 : 1000;
    for (int i = 0; i < rows; ++i) {
      t += 2000000;  // 2 s apart: the flood spans a day boundary
      // Mostly names never seen before (a random-subdomain flood), some a
      // few names asked again and again, across the resets of the id tables.
      std::string name = rng() % 10 == 0 ? "again" + std::to_string(rng() % 20) + ".test"
                                         : std::to_string(round) + "-" + std::to_string(i) + "-" +
                                               std::to_string(rng()) + ".flood.test";
      if (name.rfind("again", 0) == 0) ++repeated[name];
      batch.add(record(t, ips[rng() % 3], name, Status(rng() % 3)));
    }
    sqlite::Error e = f.store->write(batch, f.clients);
    INFO(e.message);
    REQUIRE(!e);
    // What the writer does: flush the per-day totals once half their share is used.
    while (f.store->aggregates_full() || f.store->flushing())
      REQUIRE(!f.store->flush_aggregates(f.store->aggregate_round(20000)));
    peak = std::max(peak, f.store->memory_bytes());
  }
  CHECK(peak <= share);
  // The tables did fill and spill: names were forgotten and looked up again,
  // and batches' totals went straight to SQLite.
  CHECK(f.store->name_resets() > 0);
  // ... each time after holding many names: a table that started over keeps
  // none of its old buffers.
  CHECK(f.store->name_resets() < 100);
  CHECK(f.store->spilled_batches() > 0);
  REQUIRE(!f.store->flush_aggregates());

  auto db = peek(f.opt.path);
  CHECK(count(db, "SELECT count(*) FROM queries") == 20 * 2500 + 40 * 1000);
  check_aggregates_match_raw(db);
  // A name looked up again in SQLite kept its one id: one row per name, and
  // its totals are every time it was asked.
  CHECK(count(db, "SELECT count(*) FROM domains WHERE name LIKE 'again%'") == int64_t(repeated.size()));
  for (const auto& [name, times] : repeated)
    CHECK(count(db, "SELECT sum(total) FROM domain_days JOIN domains ON domains.id = domain_id "
                    "WHERE device_id = 0 AND name = '" + name + "'") == times);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE domain_id NOT IN (SELECT id FROM domains)") == 0);
}

TEST_CASE("under a memory limit batches larger than the per-day share, asking a few names, do not spill") {
  Fixture f;
  f.open();
  const size_t share = 1024 * 1024;
  f.store->set_memory_limit(share, 1 << 20);
  const char* ips[] = {"192.168.1.10", "192.168.1.11"};
  std::map<std::string, int64_t> asked;
  int64_t t = kT0;
  std::set<std::tuple<int, std::string, int64_t>> keys;  // (device, name, day)
  for (int round = 0; round < 40; ++round) {
    Batch batch;
    // The batch the writer makes for this share: more rows than the per-day
    // totals have room for, over 300 names and two devices, so neighbours
    // seldom share a key.
    for (int i = 0; i < 1365; ++i) {
      const std::string name = "n" + std::to_string((i * 7919) % 300) + ".test";
      ++asked[name];
      keys.emplace(i % 2, name, (t += 1000) / (86400LL * 1000000));
      batch.add(record(t, ips[i % 2], name, Status(i % 3)));
    }
    sqlite::Error e = f.store->write(batch, f.clients);
    INFO(e.message);
    REQUIRE(!e);
    CHECK(f.store->memory_bytes() <= share);
  }
  CHECK(f.store->spilled_batches() == 0);
  CHECK(f.store->pending_aggregates() == keys.size());
  REQUIRE(!f.store->flush_aggregates());
  auto db = peek(f.opt.path);
  check_aggregates_match_raw(db);
  for (const auto& [name, times] : asked)
    CHECK(count(db, "SELECT sum(total) FROM domain_days JOIN domains ON domains.id = domain_id "
                    "WHERE device_id = 0 AND name = '" + name + "'") == times);
}

TEST_CASE("without a memory limit the tables keep their fixed bounds and nothing spills") {
  Fixture f;
  f.open();
  std::vector<Record> rows;
  for (int i = 0; i < 5000; ++i) rows.push_back(record(kT0 + i, "192.168.1.10", "n" + std::to_string(i) + ".test"));
  f.write(rows);
  CHECK(f.store->spilled_batches() == 0);
  CHECK(f.store->name_resets() == 0);
  CHECK(f.store->memory_bytes() > 0);
  CHECK_FALSE(f.store->aggregates_full());
}

#include <catch2/catch.hpp>

#include "helpers.hpp"
#include "querylog/reader.hpp"
#include "querylog/writer.hpp"

using namespace hush;
using namespace hush::querylog;
using namespace hush::test;

namespace {
struct Harness {
  TempDir dir;
  Options opt;
  std::unique_ptr<LogQueue> queue;
  std::unique_ptr<Writer> writer;
  std::vector<std::string> messages;

  explicit Harness(size_t ring = 64, size_t max_batch = 1000) {
    opt.path = dir.file("hush.db");
    opt.max_batch = max_batch;
    queue = std::make_unique<LogQueue>(2, ring);
    WriterHooks hooks;
    hooks.message = [this](log::Level, const std::string& m) { messages.push_back(m); };
    writer = std::make_unique<Writer>(opt, *queue, hooks);
  }
  bool log(size_t worker, int64_t t, const std::string& name) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "192.168.1.20", &a.sin_addr);
    Event e;
    e.time_us = t;
    e.client = reinterpret_cast<const sockaddr*>(&a);
    e.name = name;
    e.qtype = 1;
    return queue->producer(worker).log(e);
  }
  int64_t rows() {
    auto db = peek(opt.path);
    return count(db, "SELECT count(*) FROM queries");
  }
};
}  // namespace

TEST_CASE("records are written in one batch per commit interval") {
  Harness h;
  for (int i = 0; i < 10; ++i) REQUIRE(h.log(size_t(i % 2), kT0 + i, "a" + std::to_string(i) + ".test"));
  h.writer->step(kT0);  // opens the database, first commit is due at once
  CHECK(h.rows() == 10);
  CHECK(h.writer->stats().batches == 1);

  for (int i = 0; i < 5; ++i) REQUIRE(h.log(0, kT0 + 100 + i, "b.test"));
  h.writer->step(kT0 + 500000);  // half an interval later: drained, not yet written
  CHECK(h.rows() == 10);
  for (int i = 0; i < 5; ++i) REQUIRE(h.log(1, kT0 + 200 + i, "c.test"));
  h.writer->step(kT0 + 1000000);
  CHECK(h.rows() == 20);
  CHECK(h.writer->stats().batches == 2);
  CHECK(h.writer->stats().written == 20);
}

TEST_CASE("a full batch is written without waiting for the interval") {
  Harness h(64, 16);
  h.writer->step(kT0);
  for (int i = 0; i < 40; ++i) REQUIRE(h.log(0, kT0 + i, "x.test"));
  h.writer->step(kT0 + 1);
  CHECK(h.rows() == 16);
  h.writer->step(kT0 + 2);
  CHECK(h.rows() == 32);
  h.writer->step(kT0 + 3, true);  // flush, as at shutdown
  CHECK(h.rows() == 40);
}

TEST_CASE("when the queue is full, drops are counted, stored and reported") {
  Harness h(8);
  int accepted = 0;
  for (int i = 0; i < 30; ++i) accepted += h.log(0, kT0 + i, "flood.test");
  CHECK(accepted == 8);
  h.writer->step(kT0);
  CHECK(h.rows() == 8);
  CHECK(h.writer->stats().dropped_queue == 22);
  auto db = peek(h.opt.path);
  CHECK(count(db, "SELECT value FROM meta WHERE key='dropped'") == 22);
  REQUIRE(h.messages.size() == 1);
  CHECK(h.messages[0].find("22 queries not logged") != std::string::npos);

  // More drops within the minute: counted and stored, not said again.
  for (int i = 0; i < 30; ++i) h.log(1, kT0 + i, "flood.test");
  h.writer->step(kT0 + 2000000);
  CHECK(count(db, "SELECT value FROM meta WHERE key='dropped'") == 44);
  CHECK(h.messages.size() == 1);
  h.writer->step(kT0 + 61000000);
  REQUIRE(h.messages.size() == 2);
  CHECK(h.messages[1].find("22 queries not logged") != std::string::npos);

  sqlite::Error err;
  auto reader = Reader::open(h.opt.path, false, err);
  REQUIRE(reader);
  CHECK(reader->summary({}, 0, kForever, err).dropped == 44);
}

TEST_CASE("queries the queue had no room for still count, per status, under no device") {
  Harness h(8);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "192.168.1.20", &a.sin_addr);
  int accepted = 0;
  for (int i = 0; i < 30; ++i) {
    Event e;
    e.time_us = kT0 + i;
    e.client = reinterpret_cast<const sockaddr*>(&a);
    e.name = "flood.test";
    e.status = i % 3 == 0 ? Status::Blocked : Status::Cached;
    accepted += h.queue->producer(0).log(e);
  }
  REQUIRE(accepted == 8);
  h.writer->step(kT0 + 5 * 1000000);
  auto db = peek(h.opt.path);
  CHECK(count(db, "SELECT count(*) FROM queries") == 8);
  CHECK(count(db, "SELECT sum(blocked + cached) FROM minute_stats WHERE device_id > 0") == 8);
  // 22 dropped: the 10 blocked of i = 0, 3, ... 27 minus the 3 accepted, and 15 cached.
  CHECK(count(db, "SELECT blocked FROM minute_stats WHERE device_id = 0") == 7);
  CHECK(count(db, "SELECT cached FROM minute_stats WHERE device_id = 0") == 15);
  CHECK(count(db, "SELECT sum(blocked + cached) FROM hour_stats") == 30);
  sqlite::Error err;
  auto reader = Reader::open(h.opt.path, false, err);
  REQUIRE(reader);
  Summary sum = reader->summary({}, 0, kForever, err);
  CHECK(sum.total() == 30);
  CHECK(sum.devices == 1);  // no device is not a device
  CHECK(reader->top_clients(0, kForever, 10, err).size() == 1);
  // Counted once: a later batch adds only new drops.
  REQUIRE(h.log(0, kT0 + 100, "later.test"));
  h.writer->step(kT0 + 10 * 1000000);
  CHECK(count(db, "SELECT sum(blocked + cached + forwarded) FROM hour_stats") == 31);
}

TEST_CASE("per-day totals: each second while few, once a minute when many, and at stop") {
  Harness h(16384, 50000);
  const std::string a_total =
      "SELECT total FROM domain_days dd JOIN domains d ON d.id = dd.domain_id WHERE d.name = 'a.test' AND device_id > 0";
  REQUIRE(h.log(0, kT0, "a.test"));
  h.writer->step(kT0);
  auto db = peek(h.opt.path);
  CHECK(h.rows() == 1);
  CHECK(count(db, a_total) == 1);
  REQUIRE(h.log(0, kT0 + 100000, "a.test"));
  h.writer->step(kT0 + 500000);  // drained, not yet written
  CHECK(h.rows() == 1);
  h.writer->step(kT0 + 1000000);  // a second on: the rows and their totals
  CHECK(h.rows() == 2);
  CHECK(count(db, a_total) == 2);

  // 10,000 distinct names: more than two seconds' share of upserts.
  for (int i = 0; i < 10000; ++i) REQUIRE(h.log(i % 2, kT0 + 3000000 + i, "n" + std::to_string(i) + ".test"));
  h.writer->step(kT0 + 3000000);
  CHECK(h.rows() == 10002);
  CHECK(count(db, "SELECT count(*) FROM device_domains") == 1);
  h.writer->step(kT0 + 5000000);  // 4 s after the last write: 8,000 < 10,000
  CHECK(count(db, "SELECT count(*) FROM device_domains") == 1);
  h.writer->step(kT0 + 6000000);
  CHECK(count(db, "SELECT count(*) FROM device_domains") == 10001);

  REQUIRE(h.log(0, kT0 + 8100000, "c.test"));
  h.writer->step(kT0 + 8200000, true);  // as at stop
  CHECK(count(db, "SELECT count(*) FROM device_domains") == 10002);
}

TEST_CASE("the thread writes what was queued before stop()") {
  TempDir dir;
  Options opt;
  opt.path = dir.file("hush.db");
  LogQueue queue(1, 4096);
  {
    Writer w(opt, queue);
    w.start();
    for (int i = 0; i < 1000; ++i) {
      std::string name = "t" + std::to_string(i) + ".test";
      Event e;
      e.time_us = now_us();
      e.name = name;
      REQUIRE(queue.producer(0).log(e));
    }
    w.stop();
    CHECK(w.stats().written == 1000);
  }
  auto db = peek(opt.path);
  CHECK(count(db, "SELECT count(*) FROM queries") == 1000);
  CHECK(count(db, "SELECT count(DISTINCT domain_id) FROM queries") == 1000);
}

TEST_CASE("over querylog.max_size_mib the writer removes the oldest days between batches and says so once a pass") {
  Harness h(4096);
  h.opt.max_size_bytes = 512 << 10;
  WriterHooks hooks;
  hooks.message = [&h](log::Level, const std::string& m) { h.messages.push_back(m); };
  h.writer = std::make_unique<Writer>(h.opt, *h.queue, hooks);
  constexpr int kDays = 8, kPerDay = 1000;
  for (int day = 0; day < kDays; ++day) {
    const int64_t t = kT0 + day * kDay;
    for (int i = 0; i < kPerDay; ++i)
      REQUIRE(h.log(size_t(i % 2), t + i, "n" + std::to_string(i) + ".d" + std::to_string(day) + ".flood.test"));
    // A round every 50 ms for a few seconds, as the writer's thread does.
    for (int round = 0; round < 100; ++round) h.writer->step(t + 1000000 + round * 50000);
  }
  auto db = peek(h.opt.path);
  const int64_t used = count(db, "SELECT (SELECT page_count FROM pragma_page_count) - "
                                 "(SELECT freelist_count FROM pragma_freelist_count)") *
                       count(db, "SELECT page_size FROM pragma_page_size");
  CHECK(used <= h.opt.max_size_bytes);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE t >= " + std::to_string(kT0 + (kDays - 1) * kDay)) == kPerDay);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE t < " + std::to_string(kT0 + kDay)) == 0);
  int passes = 0;
  for (const std::string& m : h.messages)
    if (m.find("query log: over querylog.max_size_mib (0.5 MiB): removed raw rows before 2026-01-") == 0) ++passes;
  INFO(h.messages.size() << " messages, the first: " << (h.messages.empty() ? "" : h.messages[0]));
  CHECK(passes >= 2);
  CHECK(passes == int(h.messages.size()));
}

TEST_CASE("a flood of new names today stays under querylog.max_size_mib while it lasts, and the day's totals stay exact") {
  // Each round brings more names than a prune step of before removed
  // (5,000): the file grew for as long as the flood lasted (18 MiB after 24
  // rounds under this 2 MiB cap).
  Harness h(4096, 10000);
  h.opt.max_size_bytes = 2 << 20;
  WriterHooks hooks;
  hooks.message = [&h](log::Level, const std::string& m) { h.messages.push_back(m); };
  h.writer = std::make_unique<Writer>(h.opt, *h.queue, hooks);
  constexpr int kRounds = 24, kPerRound = 8000;
  std::vector<int64_t> used;
  for (int round = 0; round < kRounds; ++round) {
    const int64_t t = kT0 + round * 1000000;
    for (int i = 0; i < kPerRound; ++i)
      REQUIRE(h.log(size_t(i % 2), t + i, "r" + std::to_string(round * kPerRound + i) + ".flood.test"));
    h.writer->step(t + 999000);
    auto db = peek(h.opt.path);
    used.push_back(count(db, "SELECT (SELECT page_count FROM pragma_page_count) - "
                             "(SELECT freelist_count FROM pragma_freelist_count)") *
                   count(db, "SELECT page_size FROM pragma_page_size"));
  }
  h.writer->step(kT0 + kRounds * 1000000, true);
  // The first per-day totals written at once (summed in memory over the
  // first rounds) go over the cap for a few rounds; from then on every
  // round ends under it.
  for (int round = kRounds / 2; round < kRounds; ++round) {
    INFO("round " << round << ": " << used[size_t(round)] << " bytes used");
    CHECK(used[size_t(round)] <= h.opt.max_size_bytes);
  }
  auto db = peek(h.opt.path);
  CHECK(count(db, "SELECT sum(forwarded + cached + blocked + local + refused + error) FROM hour_stats") ==
        kRounds * kPerRound);
  CHECK(h.writer->stats().written == uint64_t(kRounds * kPerRound));
}

TEST_CASE("under a memory limit the writer keeps its batches and tables within the share, and every row") {
  // Rings larger than a batch under the limit: the limit, not the ring, sizes batches.
  Harness h(8192, 50000);
  const size_t share = 2 << 20;
  h.writer->set_memory_limit(share, 1 << 20);
  h.writer->step(kT0);
  int64_t t = kT0;
  size_t logged = 0, peak = 0;
  uint64_t batches_before = h.writer->stats().batches;
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 4000; ++i) {
      t += 1000;
      logged += h.log(size_t(i % 2), t, "r" + std::to_string(round) + "-" + std::to_string(i) + ".flood.test");
    }
    // Rounds a few ms apart, as the writer's thread polls under load.
    for (int k = 0; k < 8; ++k) h.writer->step(t + k * 5000);
    peak = std::max(peak, h.writer->stats().memory_bytes);
  }
  while (h.writer->step(t += 1000, true) > 0) {
  }
  const Writer::Stats st = h.writer->stats();
  INFO("peak " << peak << ", batches " << st.batches);
  CHECK(peak <= share);
  CHECK(peak > 0);
  // Batches of at most share / 3 / 256 records (2730): 160,000 records
  // need at least 59 of them.
  CHECK(st.batches - batches_before >= 160000 / 2730);
  CHECK(st.name_resets > 0);
  CHECK(st.written == logged);
  CHECK(h.rows() == int64_t(logged));
  auto db = peek(h.opt.path);
  CHECK(count(db, "SELECT sum(total) FROM domain_days WHERE device_id = 0") == int64_t(logged));
}

// Query-log figures: sustained rows/s through the writer, database bytes per
// logged query, and read times on a large database.
//
//   hush_querylog_bench [DIR] [ROWS_FOR_LARGE_DB=10000000] [SECONDS_OF_WRITER_RUN=5] [PARTS]
//
// PARTS picks what runs (default all): a comma-separated list of producer,
// writer, rate, unique, capped30, capped1 (the unique-name floods), unique=N
// (the uncapped flood with N names), large and prune (one prune step's cost
// against the retention).
//
// Traffic looks like a home network: 50 devices, a Zipf-like spread over
// 100,000 names, 15% blocked, spread evenly over 30 days for the large
// database. DIR (default /tmp/hush-ql-bench) is wiped first.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "querylog/queries_table.hpp"
#include "querylog/reader.hpp"
#include "querylog/store.hpp"
#include "querylog/writer.hpp"

using namespace hush;
using namespace hush::querylog;
using Clock = std::chrono::steady_clock;

namespace {
constexpr int kDevices = 50;
constexpr int kNames = 100000;
constexpr int64_t kDayUs = 86400LL * 1000000;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// CPU seconds of the calling thread: steadier than the wall clock on a
// machine that others share.
double thread_cpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Zipf-like ranks: a few names take most queries, as on real networks.
class Traffic {
 public:
  explicit Traffic(uint32_t seed) : rng_(seed) {
    for (int i = 0; i < kNames; ++i) names_.push_back("n" + std::to_string(i) + ".cdn" + std::to_string(i % 97) + ".example.com");
  }
  void next(int64_t t, Record& r) {
    double u = std::uniform_real_distribution<double>(0, 1)(rng_);
    size_t rank = size_t(std::pow(double(kNames), u)) - 1;
    r.time_us = t;
    r.family = AF_INET;
    uint32_t ip = htonl(0xc0a80100u + 10 + uint32_t(rng_() % kDevices));
    std::memcpy(r.addr, &ip, 4);
    bool blocked = rng_() % 100 < 15;
    r.status = blocked ? Status::Blocked : (rng_() % 2 ? Status::Cached : Status::Forwarded);
    r.qtype = rng_() % 3 ? 1 : 28;
    r.set_texts(names_[rank], blocked ? "ads: ||example.com^" : "forwarded",
                blocked ? std::string_view("A\0\0\0\0", 5) : std::string_view("A\x5d\xb8\xd8\x22", 5),
                r.status == Status::Forwarded ? "9.9.9.9:53" : "");
    r.latency_us = uint32_t(rng_() % 30000);
  }

 private:
  std::mt19937 rng_;
  std::vector<std::string> names_;
};

uint64_t file_bytes(const std::string& path) {
  uint64_t total = 0;
  for (const char* s : {"", "-wal"}) {
    struct stat st;
    if (stat((path + s).c_str(), &st) == 0) total += uint64_t(st.st_size);
  }
  return total;
}

// Two producer threads push as fast as the rings take records; the writer
// thread runs as in hush. Producers never wait, so what the writer cannot
// take shows up as drops.
void writer_run(const std::string& dir, double seconds) {
  Options opt;
  opt.path = dir + "/writer.db";
  LogQueue queue(2, 8192);
  Writer writer(opt, queue);
  writer.start();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> offered{0};
  auto produce = [&](int worker) {
    Traffic traffic(uint32_t(worker + 1));
    Record r;
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      traffic.next(now_us(), r);
      std::memcpy(&a.sin_addr, r.addr, 4);
      Event e;
      e.time_us = r.time_us;
      e.client = reinterpret_cast<const sockaddr*>(&a);
      e.name = r.name();
      e.qtype = r.qtype;
      e.status = r.status;
      e.reason = r.reason();
      e.upstream = r.upstream();
      e.latency_us = r.latency_us;
      queue.producer(size_t(worker)).log(e);
      // About 150,000 offered per second in all, more than hush answers on
      // these machines, without the producers hogging both cores.
      if (++n % 75 == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    offered += n;
  };
  auto start = Clock::now();
  std::thread a(produce, 0), b(produce, 1);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  a.join();
  b.join();
  writer.stop();
  double took = seconds_since(start);
  Writer::Stats s = writer.stats();
  std::printf("writer thread, %.1f s: offered %.0f/s, written %.0f/s, dropped %llu (%.2f%%), %llu batches\n",
              took, double(offered) / took, double(s.written) / took,
              static_cast<unsigned long long>(s.dropped_queue),
              offered ? 100.0 * double(s.dropped_queue) / double(offered) : 0.0,
              static_cast<unsigned long long>(s.batches));
}

// What logging costs a DNS worker per answer: Producer::log() for a blocked
// answer (name, "LIST: RULE", A 0.0.0.0), the ring drained every 4,000
// records on the same thread, as when the writer shares the worker's core.
void producer_cost() {
  std::vector<uint8_t> msg = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
  for (std::string_view label : {"ads", "tracker", "example", "com"}) {
    msg.push_back(uint8_t(label.size()));
    msg.insert(msg.end(), label.begin(), label.end());
  }
  msg.insert(msg.end(), {0, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 0, 0, 0, 0});
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "192.168.1.20", &a.sin_addr);
  LogQueue queue(1, 8192);
  Event e;
  e.client = reinterpret_cast<const sockaddr*>(&a);
  e.name = "ads.tracker.example.com";
  e.qtype = 1;
  e.status = Status::Blocked;
  e.reason = "stevenblack: 0.0.0.0 ads.tracker.example.com";
  e.answer = msg.data();
  e.answer_len = msg.size();
  constexpr int kRecords = 5000000;
  double logging = 0;
  uint64_t seen = 0;
  for (int i = 0; i < kRecords; i += 4000) {
    auto start = Clock::now();
    for (int j = 0; j < 4000; ++j) {
      e.time_us = i + j;
      queue.producer(0).log(e);
    }
    logging += seconds_since(start);
    queue.drain([&](const Record& r) { seen += r.name_len; }, 8192);
  }
  std::printf("producer: %.0f ns per logged answer (%llu name bytes seen)\n", logging * 1e9 / kRecords,
              static_cast<unsigned long long>(seen));
}

// The writer's work without the thread: how many rows/s it can store, with
// the writer's cadence (per-day totals written when 200,000 are waiting, and
// at the end). Making the records is not timed.
void store_rate_and_size(const std::string& dir, size_t rows) {
  Options opt;
  opt.path = dir + "/rate.db";
  Store store(opt);
  store.open(now_us());
  Traffic traffic(7);
  std::vector<Record> records(50000);
  Batch batch;
  clients::Directory none;
  int64_t t = now_us() - kDayUs;
  double took = 0, cpu = 0;
  for (size_t done = 0; done < rows; done += records.size()) {
    batch.clear();
    for (Record& r : records) {
      traffic.next(t += 20000, r);  // 50 queries/s
      batch.add(r);
    }
    auto start = Clock::now();
    double cpu_start = thread_cpu();
    sqlite::Error e = store.write(batch, none);
    if (!e && (store.pending_aggregates() >= 200000 || done + records.size() >= rows)) e = store.flush_aggregates();
    took += seconds_since(start);
    cpu += thread_cpu() - cpu_start;
    if (e) {
      std::printf("write failed: %s\n", e.message.c_str());
      return;
    }
  }
  store.close();  // checkpoints the WAL into the file
  std::printf("store, %zu rows in 50,000-row batches: %.0f rows/s (%.0f per CPU second); %.1f bytes per query on disk\n",
              rows, double(rows) / took, double(rows) / cpu, double(file_bytes(opt.path)) / double(rows));
}

void large_db(const std::string& dir, size_t rows) {
  Options opt;
  opt.path = dir + "/large.db";
  Store store(opt);
  const int64_t end = now_us();
  store.open(end);
  Traffic traffic(11);
  std::vector<Record> batch(50000);
  clients::Directory none;
  const int64_t step = 30 * kDayUs / int64_t(rows);
  int64_t t = end - 30 * kDayUs;
  auto start = Clock::now();
  for (size_t done = 0; done < rows; done += batch.size()) {
    for (Record& r : batch) traffic.next(t += step, r);
    if (auto e = store.write(batch, none)) {
      std::printf("write failed: %s\n", e.message.c_str());
      return;
    }
  }
  double fill = seconds_since(start);
  store.close();
  std::printf("large db: %zu rows over 30 days written in %.1f s (%.0f rows/s), %.1f bytes per query\n", rows,
              fill, double(rows) / fill, double(file_bytes(opt.path)) / double(rows));

  sqlite::Error err;
  auto reader = Reader::open(opt.path, false, err);
  if (!reader) {
    std::printf("open failed: %s\n", err.message.c_str());
    return;
  }
  std::vector<int64_t> device = reader->find_devices("192.168.1.20", err);
  auto time = [&](const char* what, auto&& f) {
    double best = 1e9;
    size_t n = 0;
    for (int i = 0; i < 5; ++i) {
      auto s = Clock::now();
      n = f();
      best = std::min(best, seconds_since(s));
    }
    std::printf("  %-58s %9.2f ms  (%zu rows, best of 5)\n", what, best * 1000, n);
  };
  const int64_t month = end - 30 * kDayUs;
  time("top 10 domains, one device, 30 days", [&] {
    return reader->top_domains(device, month, kForever, 10, false, err).size();
  });
  time("top 10 blocked, all devices, 30 days", [&] {
    return reader->top_domains({}, month, kForever, 10, true, err).size();
  });
  time("top 10 domains, one device, last 24 h (raw rows)", [&] {
    return reader->top_domains(device, end - kDayUs, kForever, 10, false, err).size();
  });
  time("summary, all devices, 30 days", [&] { return size_t(reader->summary({}, month, kForever, err).total()); });
  time("history per hour, one device, 30 days", [&] {
    return reader->history(device, month, kForever, Bucket::Hour, err).size();
  });
  time("top clients, 30 days", [&] { return reader->top_clients(month, kForever, 10, err).size(); });
  time("newest 100 queries of one device", [&] {
    QueryFilter f;
    f.devices = device;
    return reader->queries(f, err).rows.size();
  });
  time("100 blocked queries, last hour", [&] {
    QueryFilter f;
    f.status = Status::Blocked;
    f.since_us = end - kDayUs / 24;
    return reader->queries(f, err).rows.size();
  });
  time("domain contains 'cdn42', last 24 h, first 100", [&] {
    QueryFilter f;
    f.domain_contains = "n4242.cdn";
    f.since_us = end - kDayUs;
    return reader->queries(f, err).rows.size();
  });
  time("new domains of one device, last 24 h", [&] {
    return reader->new_domains(device.at(0), end - kDayUs, 1000, err).size();
  });
  time("devices list with 24 h counts", [&] { return reader->devices(end - kDayUs, err).size(); });
  if (err) std::printf("read error: %s\n", err.message.c_str());
  // For comparison: what the per-day table saves.
  sqlite::Db raw = sqlite::Db::open(opt.path, SQLITE_OPEN_READONLY, err);
  register_queries_table(raw.get());
  time("(raw-row scan) top 10 domains, one device, 30 days", [&] {
    sqlite::Stmt s = raw.prepare(
        "SELECT domain_id, count(*) c FROM queries WHERE device_id = ?1 GROUP BY domain_id ORDER BY c DESC LIMIT 10",
        err);
    s.bind(1, device.at(0));
    size_t n = 0;
    while (s.step() == SQLITE_ROW) ++n;
    return n;
  });
}
// A random-subdomain flood: every query a name never seen before, from 50
// devices, written as the writer does, with `cap_mib` as
// querylog.max_size_mib (0: none) and its pruning between batches, `rows`
// queries spread evenly over `days`. Prints bytes per query on disk, and the
// highest used size and file size (with the write-ahead log) seen.
void unique_names(const std::string& dir, size_t rows, int days, int64_t cap_mib) {
  Options opt;
  opt.path = dir + "/unique-" + std::to_string(cap_mib) + "-" + std::to_string(days) + ".db";
  opt.max_size_bytes = cap_mib << 20;
  Store store(opt);
  const int64_t start = now_us() - days * kDayUs;
  store.open(start);
  std::vector<Record> records(50000);
  Batch batch;
  clients::Directory none;
  int64_t t = start;
  const int64_t step = days * kDayUs / int64_t(rows);
  int64_t used_max = 0;
  uint64_t file_max = 0;
  size_t serial = 0;
  double cpu = 0, prune_cpu = 0;
  for (size_t done = 0; done < rows; done += records.size()) {
    batch.clear();
    for (Record& r : records) {
      r = Record{};
      r.time_us = t += step;
      r.family = AF_INET;
      uint32_t a = htonl(0xc0a80100u + uint32_t(serial % 50));
      std::memcpy(r.addr, &a, 4);
      r.qtype = 1;
      r.status = Status::Forwarded;
      std::string name = "r" + std::to_string(serial++ * 2654435761u % 1000000007u) + ".flood.example";
      r.set_texts(name, "forwarded", std::string_view("A\xc0\x00\x02\x01", 5), "9.9.9.9:53");
      r.latency_us = 1500;
      batch.add(r);
    }
    // As the writer: per-day totals in parts of 20,000, the cap checked
    // between parts, a prune step per check while over it, then a step
    // handing freed pages back.
    double cpu_start = thread_cpu();
    sqlite::Error e = store.write(batch, none);
    while (!e) {
      used_max = std::max(used_max, store.used_bytes());
      double prune_start = thread_cpu();
      for (int i = 0; !e && i < 100000 && store.over_size_cap(t); ++i) store.prune_step(t, 5000, e);
      if (!e) store.reclaim_step(1024, e);
      prune_cpu += thread_cpu() - prune_start;
      if (e || store.pending_aggregates() == 0) break;
      e = store.flush_aggregates(20000);
    }
    cpu += thread_cpu() - cpu_start;
    if (e) {
      std::printf("write failed: %s\n", e.message.c_str());
      return;
    }
    file_max = std::max(file_max, file_bytes(opt.path));
  }
  const int64_t used = store.used_bytes();
  std::string note = store.take_size_note();
  store.close();
  std::printf("unique names, %zu rows over %d days, cap %lld MiB: %.1f bytes per query used; used at most %.1f MiB "
              "(at the end %.1f), file with WAL at most %.1f MiB (at the end %.1f); CPU %.1f s (%.0f rows/s), "
              "%.1f s of it pruning%s%s\n",
              rows, days, (long long)cap_mib, double(used) / double(rows), double(used_max) / (1 << 20),
              double(used) / (1 << 20), double(file_max) / (1 << 20), double(file_bytes(opt.path)) / (1 << 20),
              cpu, double(rows) / cpu, prune_cpu,
              note.empty() ? "" : "; ", note.c_str());
}
// One prune step's cost with nothing to prune, against the number of minutes
// kept (one minute_ids row each: 43,200 at 30 days of raw retention, 5.3M at
// 3,650), the step the writer takes every second while it has work.
void prune_cost(const std::string& dir, int64_t days) {
  Options opt;
  opt.path = dir + "/prune-" + std::to_string(days) + ".db";
  opt.raw_retention_s = days * 86400;
  opt.aggregate_retention_s = days * 86400;
  const int64_t now = now_us();
  Store store(opt);
  store.open(now);
  sqlite::Error err;
  {
    sqlite::Db db = sqlite::Db::open(opt.path, SQLITE_OPEN_READWRITE, err);
    sqlite::Stmt s = db.prepare(
        "WITH RECURSIVE m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i + 1 < ?1) "
        "INSERT INTO minute_ids(minute, first_id) SELECT ?2 + i, 1 + i * 10 FROM m",
        err);
    s.bind(1, days * 1440).bind(2, (now - days * kDayUs) / 60000000 + 1);
    if (!s || s.step() != SQLITE_DONE) {
      std::printf("prune: fill failed: %s\n", err.message.c_str());
      return;
    }
  }
  const int steps = 50;
  double cpu = thread_cpu();
  for (int i = 0; i < steps && !err; ++i) store.prune_step(now, 5000, err);
  cpu = thread_cpu() - cpu;
  if (err) std::printf("prune failed: %s\n", err.message.c_str());
  std::printf("prune step, %lld days kept (%lld minutes): %.0f us CPU a step\n", (long long)days,
              (long long)(days * 1440), cpu / steps * 1e6);
  store.close();
}
}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/tmp/hush-ql-bench";
  size_t rows = argc > 2 ? size_t(std::stoull(argv[2])) : 10000000;
  double seconds = argc > 3 ? std::stod(argv[3]) : 5;
  std::string parts = argc > 4 ? argv[4] : "producer,writer,rate,unique,capped30,capped1,large";
  auto wanted = [&](std::string_view part) { return ("," + parts + ",").find("," + std::string(part) + ",") != std::string::npos; };
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::printf("SQLite %s\n", sqlite3_libversion());
  if (wanted("producer")) producer_cost();
  if (wanted("writer")) writer_run(dir, seconds);
  if (wanted("rate")) store_rate_and_size(dir, 1000000);
  if (wanted("unique")) unique_names(dir, 1000000, 1, 0);
  // "unique=N": the uncapped flood with N names (for profiling).
  if (size_t at = parts.find("unique="); at != std::string::npos)
    unique_names(dir, size_t(std::stoull(parts.substr(at + 7))), 1, 0);
  if (wanted("capped30")) unique_names(dir, 3000000, 30, 64);
  if (wanted("capped1")) unique_names(dir, 1000000, 1, 64);
  if (wanted("large")) large_db(dir, rows);
  if (wanted("prune"))
    for (int64_t days : {30, 365, 3650}) prune_cost(dir, days);
  return 0;
}

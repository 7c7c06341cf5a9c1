// Phone-home report figures: loading the built-in company map (time, memory),
// attribution per name, report reads on a large query log, and blocking a
// big company; each as wall time and as this thread's CPU time (which moves
// far less on a shared machine).
//
//   hush_report_bench [DIR] [ROWS=10000000] [NAMES=100000] [now]
//
// "now": the 30 days end now rather than at a fixed past time, so the
// dashboard's "last 24 hours" and "last 7 days" find them
// (tests/bench/dashload.sh measures the dashboard pages on such a log).
// ROWS=0 reads the log a previous run left in DIR instead of writing one.
// The log: 50 devices over 30 days, NAMES names (half under domains the
// map knows, with made-up subdomains; half under made-up vendor domains), a
// Zipf-like spread, 15% blocked. DIR (default /tmp/hush-report-bench) is
// wiped first.
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "../querylog/helpers.hpp"
#include "querylog/store.hpp"
#include "report/actions.hpp"
#include "report/report.hpp"

using namespace hush;
using namespace hush::report;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kDevices = 50;
int kNames = 100000;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

long rss_kib() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

std::vector<std::string> make_names(const CompanyMap& map) {
  std::vector<std::string> known;
  for (const char* c : {"xiaomi", "samsung", "microsoft", "google", "apple", "amazon_associates", "huawei",
                        "bytedance_inc", "adobe", "meta", "lgcorp", "alibaba_cloud"})
    if (const Company* co = map.find(c))
      for (const std::string& d : co->domains) known.push_back(d);
  std::vector<std::string> names;
  std::mt19937 rng(7);
  for (int i = 0; i < kNames; ++i) {
    std::string prefix = "api" + std::to_string(i % 977) + ".s" + std::to_string(i % 13);
    names.push_back(i % 2 ? prefix + "." + known[rng() % known.size()]
                          : prefix + ".vendor" + std::to_string(i % 4001) + (i % 3 ? ".com" : ".co.uk"));
  }
  return names;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/tmp/hush-report-bench";
  int64_t rows = argc > 2 ? std::atoll(argv[2]) : 10000000;
  // A random-subdomain flood leaves about as many names as rows.
  if (argc > 3) kNames = std::atoi(argv[3]);

  long rss0 = rss_kib();
  auto t = Clock::now();
  double cpu = cpu_ms();
  auto map = CompanyMap::builtin();
  double load_ms = ms_since(t), load_cpu = cpu_ms() - cpu;
  long rss1 = rss_kib();
  std::printf(
      "company map: %zu companies, %zu domains, load %.1f ms (%.1f ms CPU), %zu KiB held (counted), RSS +%ld KiB\n",
              map->company_count(), map->domain_count(), load_ms, load_cpu, map->memory_bytes() / 1024, rss1 - rss0);

  std::vector<std::string> names = make_names(*map);
  const int kRounds = 10;
  // What a report does per name (the walk; the registrable domain only for
  // names without a company), the walk alone, and attribute() with all its
  // strings (hush report who).
  auto per_name = [&](const char* what, auto&& fn) {
    size_t known = 0;
    auto start = Clock::now();
    double cpu = cpu_ms();
    for (int r = 0; r < kRounds; ++r)
      for (const std::string& n : names) known += fn(n);
    double calls = double(kRounds * names.size());
    std::printf("%s: %.0f ns per name (%.0f ns CPU; %zu names x %d, %.0f%% with a company)\n", what,
                ms_since(start) * 1e6 / calls, (cpu_ms() - cpu) * 1e6 / calls, names.size(), kRounds,
                100.0 * double(known) / calls);
  };
  per_name("attribution as a report does it", [&](const std::string& n) {
    Match m = map->match(n);
    return m.company ? true : registrable_domain(n).empty();
  });
  per_name("match() alone", [&](const std::string& n) { return map->match(n).company != nullptr; });
  per_name("attribute() with its strings", [&](const std::string& n) { return map->attribute(n).company != nullptr; });

  querylog::Options opt;
  opt.path = dir + "/hush.db";
  const int64_t span = 30 * hush::test::kDay;
  const bool end_now = argc > 4 && std::string(argv[4]) == "now";
  const int64_t start = end_now ? int64_t(time(nullptr)) * 1000000 - span : hush::test::kT0;
  if (rows > 0) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    querylog::Store store(opt);
    store.open(start);
    clients::Directory devices(clients::Inputs{}, start / 1000000);
    std::mt19937_64 rng(11);
    t = Clock::now();
    std::vector<querylog::Record> batch;
    for (int64_t i = 0; i < rows; ++i) {
      double u = std::uniform_real_distribution<double>(0, 1)(rng);
      size_t rank = size_t(std::pow(double(kNames), u)) - 1;
      std::string ip = "192.168.1." + std::to_string(10 + rng() % kDevices);
      bool blocked = rng() % 100 < 15;
      // span * i passes 2^63 past 3.5M rows: in 128 bits, so times only grow.
      batch.push_back(hush::test::record(start + int64_t(__int128(span) * i / rows), ip, names[rank],
                                         blocked ? querylog::Status::Blocked : querylog::Status::Forwarded));
      if (batch.size() == 5000 || i + 1 == rows) {
        if (auto e = store.write(batch, devices)) {
          std::fprintf(stderr, "write: %s\n", e.message.c_str());
          return 1;
        }
        batch.clear();
      }
  }
  std::printf("log: %lld rows over 30 days written in %.1f s\n", static_cast<long long>(rows), ms_since(t) / 1000);
  }

  std::string error;
  sqlite::Error e;
  int64_t device;
  {
    auto log = querylog::Reader::open(opt.path, false, e);
    if (!log) {
      std::fprintf(stderr, "%s\n", e.message.c_str());
      return 1;
    }
    device = log->find_devices("192.168.1.10", e).at(0);
  }
  const int64_t end = start + span;
  const int64_t week = end - 7 * hush::test::kDay, day = end - hush::test::kDay;
  auto timed = [&](const char* what, auto&& fn) {
    auto start_time = Clock::now();
    double cpu = cpu_ms();
    std::string summary = fn();
    std::printf("%s: %.1f ms (%.1f ms CPU), %s\n", what, ms_since(start_time), cpu_ms() - cpu, summary.c_str());
    if (!error.empty()) std::fprintf(stderr, "error: %s\n", error.c_str());
  };
  auto count = [](size_t n, const char* what) { return std::to_string(n) + " " + what; };

  // A new reader reads and attributes every name of the log on its first
  // report; later reports only read the names added since.
  std::unique_ptr<ReportReader> reader;
  timed("new reader, first report (one device, 30 days)", [&] {
    reader = ReportReader::open(opt.path, map, error);
    return reader ? count(reader->device(device, start, end, error).companies.size(), "companies") : error;
  });
  if (!reader) return 1;
  timed("one device, 30 days", [&] {
    DeviceReport r = reader->device(device, start, end, error);
    return count(r.companies.size(), "companies") + ", " + std::to_string(r.queries) + " queries";
  });
  timed("one device, 7 days",
        [&] { return count(reader->device(device, week, end, error).companies.size(), "companies"); });
  timed("every device, 30 days", [&] { return count(reader->overview(start, end, error).size(), "companies"); });
  timed("every device, 7 days", [&] { return count(reader->overview(week, end, error).size(), "companies"); });
  for (const char* company : {"xiaomi", "google"}) {
    const Company* c = map->find(company);
    std::string names_of = c ? std::to_string(c->domains.size()) + " map domains" : "";
    timed((std::string("who talks to ") + company + ", 30 days (" + names_of + ")").c_str(),
          [&] { return count(reader->company(company, start, end, error).devices.size(), "devices"); });
    timed((std::string("who talks to ") + company + ", 7 days").c_str(),
          [&] { return count(reader->company(company, week, end, error).devices.size(), "devices"); });
  }
  timed("who talks to a site (vendor7.com), 30 days",
        [&] { return count(reader->company("site:vendor7.com", start, end, error).devices.size(), "devices"); });
  timed("xiaomi per day, one device, 30 days",
        [&] { return count(reader->series("xiaomi", device, start, end, Step::Day, error).size(), "points"); });
  timed("xiaomi per day, every device, 30 days",
        [&] { return count(reader->series("xiaomi", std::nullopt, start, end, Step::Day, error).size(), "points"); });
  timed("google per day, every device, 30 days",
        [&] { return count(reader->series("google", std::nullopt, start, end, Step::Day, error).size(), "points"); });
  timed("xiaomi per hour, one device, last day (raw rows)",
        [&] { return count(reader->series("xiaomi", device, day, end, Step::Hour, error).size(), "points"); });
  timed("first contacts, every device, last day",
        [&] { return count(reader->new_contacts(std::nullopt, day, 200, error).size(), "entries"); });
  timed("first contacts, every device, 7 days",
        [&] { return count(reader->new_contacts(std::nullopt, week, 200, error).size(), "entries"); });
  timed("first contacts, one device, last day",
        [&] { return count(reader->new_contacts(device, day, 200, error).size(), "entries"); });

  // Blocking a company adds a deny entry per domain to rules.json.
  const std::string actions = dir + "/actions";
  std::filesystem::remove_all(actions);
  std::filesystem::create_directories(actions);
  Target group;
  group.group = "bench";
  for (auto [what, act] : {std::pair{"block google for a group", &block_company},
                           std::pair{"unblock google for the group", &unblock_company}})
    timed(what, [&, act = act] {
      BlockResult r;
      std::string failed = act(actions, *map, "google", group, &r);
      if (!failed.empty()) error = failed;
      return count(r.patterns.size(), "entries");
    });
  return error.empty() ? 0 : 1;
}

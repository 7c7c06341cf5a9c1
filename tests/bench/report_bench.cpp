// Phone-home report figures: loading the built-in company map (time, memory),
// attribution per name, and report reads on a large query log.
//
//   hush_report_bench [DIR] [ROWS=10000000]
//
// ROWS=0 reads the log a previous run left in DIR instead of writing one.
// The log: 50 devices over 30 days, 100,000 names (half under domains the
// map knows, with made-up subdomains; half under made-up vendor domains), a
// Zipf-like spread, 15% blocked. DIR (default /tmp/hush-report-bench) is
// wiped first.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "../querylog/helpers.hpp"
#include "querylog/store.hpp"
#include "report/report.hpp"

using namespace hush;
using namespace hush::report;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kDevices = 50;
constexpr int kNames = 100000;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

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

  long rss0 = rss_kib();
  auto t = Clock::now();
  auto map = CompanyMap::builtin();
  double load_ms = ms_since(t);
  long rss1 = rss_kib();
  std::printf("company map: %zu companies, %zu domains, load %.1f ms, %zu KiB held (counted), RSS +%ld KiB\n",
              map->company_count(), map->domain_count(), load_ms, map->memory_bytes() / 1024, rss1 - rss0);

  std::vector<std::string> names = make_names(*map);
  size_t known = 0;
  t = Clock::now();
  const int kRounds = 10;
  for (int r = 0; r < kRounds; ++r)
    for (const std::string& n : names) known += map->attribute(n).company != nullptr;
  double per_name_ns = ms_since(t) * 1e6 / double(kRounds * names.size());
  std::printf("attribution: %.0f ns per name (%zu names x %d, %.0f%% with a company)\n", per_name_ns, names.size(),
              kRounds, 100.0 * double(known) / double(kRounds * names.size()));

  querylog::Options opt;
  opt.path = dir + "/hush.db";
  const int64_t start = hush::test::kT0;
  const int64_t span = 30 * hush::test::kDay;
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
      batch.push_back(hush::test::record(start + span * i / rows, ip, names[rank],
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
  auto reader = ReportReader::open(opt.path, map, error);
  if (!reader) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  sqlite::Error e;
  int64_t device = reader->log().find_devices("192.168.1.10", e).at(0);
  const int64_t end = start + span;
  for (const char* pass : {"cold", "warm"}) {
    t = Clock::now();
    DeviceReport r = reader->device(device, start, end, error);
    std::printf("device report, 30 days (%s): %.1f ms, %zu companies, %lld queries\n", pass, ms_since(t),
                r.companies.size(), static_cast<long long>(r.queries));
  }
  t = Clock::now();
  auto all = reader->overview(start, end, error);
  std::printf("overview, 30 days, every device: %.1f ms, %zu companies\n", ms_since(t), all.size());
  t = Clock::now();
  auto who = reader->company("xiaomi", start, end, error);
  std::printf("who talks to xiaomi, 30 days: %.1f ms, %zu devices\n", ms_since(t), who.devices.size());
  t = Clock::now();
  auto days = reader->series("xiaomi", device, start, end, Step::Day, error);
  std::printf("xiaomi per day for one device, 30 days: %.1f ms, %zu points\n", ms_since(t), days.size());
  t = Clock::now();
  auto hours = reader->series("xiaomi", device, end - hush::test::kDay, end, Step::Hour, error);
  std::printf("xiaomi per hour for one device, last day (raw rows): %.1f ms, %zu points\n", ms_since(t), hours.size());
  t = Clock::now();
  auto fresh = reader->new_contacts(std::nullopt, end - hush::test::kDay, 200, error);
  std::printf("first contacts of every device, last day: %.1f ms, %zu entries\n", ms_since(t), fresh.size());
  if (!error.empty()) std::fprintf(stderr, "error: %s\n", error.c_str());
  return error.empty() ? 0 : 1;
}

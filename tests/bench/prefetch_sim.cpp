// Cache hit rate with and without prefetch (not a test): the real Pipeline
// and Cache driven by a simulated clock, since hours of a query mix cannot
// be replayed against the binary in minutes (its clock is the wall clock).
//
//   cmake --build build --target hush_prefetch_sim
//   build/tests/bench/hush_prefetch_sim [qps ...]
//
// The mix: names drawn Zipf (s = 1) from 100,000, Poisson arrivals at the
// given rates, each name with a fixed TTL drawn from 60 s (30%), 300 s
// (35%), 3600 s (25%) and 86400 s (10%); the upstream answers every name
// with its full TTL after a 30 ms round trip (questions for a name already
// upstream wait for that answer, as coalesced ones do). Six simulated hours
// per run; the first hour fills the cache and is not counted.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "pipeline/pipeline.hpp"

using namespace hush;

namespace {

constexpr size_t kNames = 100'000;
constexpr size_t kTop = 1'000;
constexpr uint64_t kRttMs = 30;
constexpr uint64_t kWarmupMs = 3'600'000;
constexpr uint64_t kRunMs = 6 * 3'600'000;

std::vector<uint8_t> name_wire(size_t i) {
  std::string label = "n" + std::to_string(i);
  std::vector<uint8_t> w{uint8_t(label.size())};
  w.insert(w.end(), label.begin(), label.end());
  const char kTail[] = "\x07" "example" "\x00";
  w.insert(w.end(), kTail, kTail + 9);
  return w;
}

std::vector<uint8_t> query(const std::vector<uint8_t>& qname, uint16_t id) {
  std::vector<uint8_t> q{uint8_t(id >> 8), uint8_t(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  q.insert(q.end(), qname.begin(), qname.end());
  q.insert(q.end(), {0, 1, 0, 1});
  return q;
}

// The upstream's answer: the question and one A record with `ttl`.
std::vector<uint8_t> reply(const std::vector<uint8_t>& qname, uint32_t ttl) {
  std::vector<uint8_t> r{0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
  r.insert(r.end(), qname.begin(), qname.end());
  r.insert(r.end(), {0, 1, 0, 1, 0xC0, 12, 0, 1, 0, 1, uint8_t(ttl >> 24), uint8_t(ttl >> 16), uint8_t(ttl >> 8),
                     uint8_t(ttl), 0, 4, 192, 0, 2, 1});
  return r;
}

struct Result {
  uint64_t queries = 0, hits = 0, upstream = 0, prefetches = 0;
  uint64_t expired_misses = 0;  // misses of names answered before: what prefetch can save
  uint64_t top_queries = 0, top_misses = 0;  // of the kTop most-asked names
};

struct Arrival {
  uint64_t due_ms;
  size_t name;
  std::string key;
  dns::Query q;
  bool prefetch;
};

Result run(double qps, uint32_t min_hits, const std::vector<double>& cdf, const std::vector<uint32_t>& ttls,
           const std::vector<std::vector<uint8_t>>& wires) {
  cache::Cache cache(100'000, {});
  if (min_hits) cache.set_prefetch({64, min_hits});
  Counters counters;
  PolicyStore policies;
  AccessSettings access;
  std::vector<std::string> errors;
  access.allow = parse_networks(default_allowed_networks(), "sim", errors);
  access.rate_limit = 0;  // one simulated client asks for the whole house
  RateLimiter limiter;
  LocalStore local;
  std::vector<upstream::ForwardZone> forwards;
  Pipeline pipeline(cache, counters, policies, BlockSettings{}, access, limiter, local, forwards);

  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::exponential_distribution<double> gap(qps / 1000.0);
  std::deque<Arrival> upstream;  // every answer takes kRttMs, so they land in the order asked
  std::unordered_map<size_t, bool> asking;
  std::vector<bool> seen(kNames);
  std::vector<uint8_t> out(65535);
  Result r;
  double now = 0;
  while (now < double(kRunMs)) {
    now += gap(rng);
    auto t = uint64_t(now);
    while (!upstream.empty() && upstream.front().due_ms <= t) {
      Arrival& a = upstream.front();
      auto wire = reply(wires[a.name], ttls[a.name]);
      cache::Entry prepared;
      pipeline.on_reply(a.key, a.q, 0, wire.data(), wire.size(), a.due_ms, prepared);
      if (a.prefetch) pipeline.prefetch_done();
      seen[a.name] = true;
      asking.erase(a.name);
      upstream.pop_front();
    }
    size_t name = size_t(std::lower_bound(cdf.begin(), cdf.end(), uniform(rng)) - cdf.begin());
    name = std::min(name, kNames - 1);
    auto msg = query(wires[name], 1);
    QueryContext ctx;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ctx.client.addr);
    v4->sin_family = AF_INET;
    inet_pton(AF_INET, "192.168.1.10", &v4->sin_addr);
    ctx.msg = msg.data();
    ctx.len = msg.size();
    ctx.now_ms = t;
    ctx.out = out.data();
    ctx.out_cap = out.size();
    Verdict v = pipeline.on_query(ctx);
    bool counted = t >= kWarmupMs;
    if (counted) ++r.queries;
    if (counted && name < kTop) {
      ++r.top_queries;
      r.top_misses += v == Verdict::Forward;
    }
    if (v == Verdict::Answer && ctx.outcome == Outcome::Cached) {
      if (counted) ++r.hits;
      if (ctx.prefetch) {
        upstream.push_back({t + kRttMs, name, std::string(ctx.key_view()), ctx.q, true});
        asking[name] = true;
        if (counted) ++r.prefetches, ++r.upstream;
      }
    } else if (v == Verdict::Forward && counted && seen[name]) {
      ++r.expired_misses;
    }
    if (v == Verdict::Forward && !asking.count(name)) {
      upstream.push_back({t + kRttMs, name, std::string(ctx.key_view()), ctx.q, false});
      asking[name] = true;
      if (counted) ++r.upstream;
    }
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<double> rates;
  for (int i = 1; i < argc; ++i) rates.push_back(std::atof(argv[i]));
  if (rates.empty()) rates = {5, 50, 500};

  std::vector<double> cdf(kNames);
  double sum = 0;
  for (size_t i = 0; i < kNames; ++i) cdf[i] = (sum += 1.0 / double(i + 1));
  for (double& c : cdf) c /= sum;
  std::mt19937_64 rng(7);
  std::vector<uint32_t> ttls(kNames);
  for (uint32_t& ttl : ttls) {
    uint64_t x = rng() % 100;
    ttl = x < 30 ? 60 : x < 65 ? 300 : x < 90 ? 3600 : 86400;
  }
  std::vector<std::vector<uint8_t>> wires(kNames);
  for (size_t i = 0; i < kNames; ++i) wires[i] = name_wire(i);

  std::printf("| qps | prefetch | client queries | hit rate | misses of names asked before | misses among the 1,000 most-asked names | upstream queries per 1000 client queries | prefetches |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (double qps : rates)
    // 0: off; 2: hush's rule; 1: every entry asked in its last tenth (for comparison).
    for (uint32_t min_hits : {0u, 2u, 1u}) {
      Result r = run(qps, min_hits, cdf, ttls, wires);
      const char* mode = min_hits == 0 ? "off" : min_hits == 2 ? "on (2 hits)" : "1 hit";
      std::printf("| %g | %s | %llu | %.2f%% | %.2f%% | %.3f%% | %.1f | %llu |\n", qps, mode,
                  (unsigned long long)r.queries, 100.0 * double(r.hits) / double(r.queries),
                  100.0 * double(r.expired_misses) / double(r.queries),
                  100.0 * double(r.top_misses) / double(r.top_queries),
                  1000.0 * double(r.upstream) / double(r.queries), (unsigned long long)r.prefetches);
      std::fflush(stdout);
    }
}

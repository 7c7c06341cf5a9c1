// Per-query resolver work (not a test): query parse, the blocked answer,
// the cache lookup and the answer served from it, caching an upstream reply,
// and ldns's parser for comparison with hush's own reader.
//
//   cmake --build build --target hush_resolver_bench
//   build/tests/bench/hush_resolver_bench
//
// Latency benchmarks run 9 repetitions; read the *_median rows.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "support/wire_builder.hpp"
#include "cache/cache.hpp"
#include "dns/answer.hpp"
#include "dns/query.hpp"

namespace {

using hush::cache::Cache;
using hush::cache::Entry;
namespace dns = hush::dns;
namespace test = hush::test;

// A phone's typical question: A, with EDNS (as dig and every stub sends).
const std::vector<uint8_t>& sample_query() {
  static const auto q = test::make_query("api.sec.miui.com", LDNS_RR_TYPE_A, 0x4242, 1232);
  return q;
}

// An upstream reply with a CNAME chain, as CDNs answer.
std::vector<uint8_t> sample_reply(const std::string& name) {
  return test::make_reply(name, LDNS_RR_TYPE_A, 0x4242, LDNS_RCODE_NOERROR,
                          {name + ". 300 IN CNAME edge.cdn.example.", "edge.cdn.example. 60 IN A 192.0.2.10",
                           "edge.cdn.example. 60 IN A 192.0.2.11"},
                          {}, 1232);
}

void BM_ParseQuery(benchmark::State& state) {
  const auto& wire = sample_query();
  dns::Query q;
  size_t bad = 0;
  for (auto _ : state) {
    bad += dns::parse_query(wire.data(), wire.size(), q) != dns::ParseStatus::Ok;
    benchmark::DoNotOptimize(q);
  }
  state.counters["bad"] = static_cast<double>(bad);
}
BENCHMARK(BM_ParseQuery)->Repetitions(9)->ReportAggregatesOnly(true);

// What the hand-written reader in dns/query.cpp saves per query.
void BM_LdnsWire2Pkt(benchmark::State& state) {
  const auto& wire = sample_query();
  for (auto _ : state) {
    ldns_pkt* p = nullptr;
    ldns_wire2pkt(&p, wire.data(), wire.size());
    benchmark::DoNotOptimize(p);
    ldns_pkt_free(p);
  }
}
BENCHMARK(BM_LdnsWire2Pkt)->Repetitions(9)->ReportAggregatesOnly(true);

void BM_BlockedAnswer(benchmark::State& state) {
  const auto& wire = sample_query();
  dns::Query q;
  dns::parse_query(wire.data(), wire.size(), q);
  dns::BlockAnswer how;
  uint8_t out[1232];
  for (auto _ : state) {
    uint16_t rcode = 0;
    size_t n = dns::write_blocked(q, how, out, sizeof out, &rcode);
    n = dns::finish(out, n, sizeof out, q, rcode, nullptr, q.udp_size);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_BlockedAnswer)->Repetitions(9)->ReportAggregatesOnly(true);

// A cache holding 10,000 answers; each iteration looks one up by the
// client's query and writes the answer, TTLs counted down.
void BM_CacheHitAnswer(benchmark::State& state) {
  constexpr size_t kEntries = 10'000;
  const size_t names = static_cast<size_t>(state.range(0));
  Cache cache(2 * kEntries, {});  // room to spare: shards fill unevenly
  std::vector<std::vector<uint8_t>> queries;
  for (size_t i = 0; i < kEntries; ++i) {
    const std::string name = "host" + std::to_string(i) + ".example.net";
    const auto reply = sample_reply(name);
    Entry e;
    if (!hush::cache::prepare(reply.data(), reply.size(), cache.limits(), 0, e)) {
      state.SkipWithError("prepare refused the sample reply");
      return;
    }
    char key[hush::cache::kMaxKey];
    dns::Query q;
    const auto query = test::make_query(name, LDNS_RR_TYPE_A, 0x4242, 1232);
    dns::parse_query(query.data(), query.size(), q);
    cache.insert({key, hush::cache::make_key(q.qname_wire, q.qname_wire_len, q.qtype, q.qclass, q.do_bit, key)}, e);
    if (i < names) queries.push_back(query);
  }
  uint8_t out[1232];
  size_t i = 0;
  size_t missed = 0;
  for (auto _ : state) {
    const auto& wire = queries[i];
    dns::Query q;
    dns::parse_query(wire.data(), wire.size(), q);
    char key[hush::cache::kMaxKey];
    const size_t klen = hush::cache::make_key(q.qname_wire, q.qname_wire_len, q.qtype, q.qclass, q.do_bit, key);
    size_t n = 0;
    const bool hit = cache.with_fresh({key, klen}, 5'000, [&](const Entry& e, uint32_t age) {
      n = dns::write_stored(e.wire.data(), e.wire.size(), e.ttl_offsets.data(), e.ttl_offsets.size(), age, q, out,
                            sizeof out);
    });
    missed += !hit;
    benchmark::DoNotOptimize(n);
    i = i + 1 == queries.size() ? 0 : i + 1;
  }
  state.counters["missed"] = static_cast<double>(missed);
}
// 64 names: the server benchmark's hit mix; 10,000: every entry in turn.
BENCHMARK(BM_CacheHitAnswer)->Arg(64)->Arg(10'000)->Repetitions(9)->ReportAggregatesOnly(true);

// An upstream reply turned into its served form and stored in a full cache,
// which evicts its least recently used entry: the miss path's cache work.
void BM_CacheStoreReply(benchmark::State& state) {
  constexpr size_t kEntries = 10'000;
  Cache cache(kEntries, {});
  std::vector<std::vector<uint8_t>> replies;
  for (size_t i = 0; i < 4096; ++i) replies.push_back(sample_reply("m" + std::to_string(i) + ".example.net"));
  uint64_t serial = 0;
  size_t refused = 0;
  Entry e;
  for (auto _ : state) {
    const auto& r = replies[serial % replies.size()];
    refused += !hush::cache::prepare(r.data(), r.size(), cache.limits(), 0, e);
    // A key per iteration, so every store is a new name evicting an old one.
    char key[32];
    const int klen = std::snprintf(key, sizeof key, "k%llu", static_cast<unsigned long long>(serial++));
    cache.insert({key, static_cast<size_t>(klen)}, e);
  }
  state.counters["refused"] = static_cast<double>(refused);
  state.counters["entries"] = static_cast<double>(cache.size());
}
BENCHMARK(BM_CacheStoreReply)->Repetitions(9)->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();

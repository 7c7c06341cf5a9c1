// Event counters. Each worker owns one set and only it writes there; readers
// (shutdown summary, metrics) sum all sets, so no counter line is shared
// between workers on the hot path.
#pragma once

#include <atomic>
#include <cstdint>

namespace hush {

#define HUSH_COUNTERS(X)                                                              \
  X(queries_udp) X(queries_tcp) X(queries_dot) X(queries_doh) X(answered) X(blocked) X(local) X(cache_hits) X(cache_misses)             \
  X(forwarded) X(coalesced) X(servfail) X(formerr) X(notimp) X(badvers) X(dropped)      \
  X(upstream_timeouts) X(upstream_rejected) X(upstream_tcp_retries)                     \
  X(tcp_refused) X(tcp_evicted) X(tls_failed) X(send_errors) X(refused_network) X(rate_limited)          \
  X(rebind) X(stale_answers) X(prefetches) X(prefetches_failed)                              \
  X(dnssec_secure) X(dnssec_insecure) X(dnssec_bogus)

// Question types counted one by one (in this order); the rest share the
// last slot, "other".
inline constexpr uint16_t kCountedQtypes[] = {1,  28, 5,  15, 16, 12, 33, 2,
                                              6,  65, 64, 255, 43, 48, 257, 35};
inline constexpr const char* kCountedQtypeNames[] = {
    "A", "AAAA", "CNAME", "MX", "TXT", "PTR", "SRV", "NS", "SOA", "HTTPS", "SVCB", "ANY",
    "DS", "DNSKEY", "CAA", "NAPTR", "other"};
inline constexpr size_t kQtypeSlots = sizeof kCountedQtypes / sizeof kCountedQtypes[0] + 1;

inline size_t qtype_slot(uint16_t qtype) {
  for (size_t i = 0; i + 1 < kQtypeSlots; ++i)
    if (kCountedQtypes[i] == qtype) return i;
  return kQtypeSlots - 1;
}

// Upper bounds (milliseconds) of the upstream latency histogram's buckets;
// one more bucket counts everything slower.
inline constexpr uint32_t kLatencyBoundsMs[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
inline constexpr size_t kLatencyBuckets = sizeof kLatencyBoundsMs / sizeof kLatencyBoundsMs[0] + 1;
inline constexpr size_t kMaxUpstreams = 32;  // config.cpp rejects more

struct UpstreamCounters {
  std::atomic<uint64_t> latency[kLatencyBuckets]{};  // answers by round-trip time (not cumulative)
  std::atomic<uint64_t> latency_sum_ms{0};
  std::atomic<uint64_t> answers{0};
  std::atomic<uint64_t> failures{0};  // attempts that failed: timeouts, errors, bad replies
  std::atomic<uint64_t> timeouts{0};
};

struct Counters {
#define HUSH_FIELD(name) std::atomic<uint64_t> name{0};
  HUSH_COUNTERS(HUSH_FIELD)
#undef HUSH_FIELD
  std::atomic<uint64_t> qtypes[kQtypeSlots]{};  // valid questions by type
  UpstreamCounters upstreams[kMaxUpstreams];     // by index in Config::upstream_addrs

  void add(std::atomic<uint64_t>& c, uint64_t n = 1) {
    // Only the owning worker writes, so a plain load+store is enough and avoids a locked add.
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  void upstream_answer(size_t server, uint32_t rtt_ms) {
    if (server >= kMaxUpstreams) return;
    UpstreamCounters& u = upstreams[server];
    size_t b = 0;
    while (b + 1 < kLatencyBuckets && rtt_ms > kLatencyBoundsMs[b]) ++b;
    add(u.latency[b]);
    add(u.latency_sum_ms, rtt_ms);
    add(u.answers);
  }
};

// Adds every counter of `from` into `into`: how readers (the shutdown
// summary, /metrics) total the workers' sets. Relaxed loads; the total is a
// moment's snapshot, each counter exact but not all taken at the same instant.
inline void accumulate(Counters& into, const Counters& from) {
  auto plus = [](std::atomic<uint64_t>& to, const std::atomic<uint64_t>& v) {
    to.store(to.load(std::memory_order_relaxed) + v.load(std::memory_order_relaxed),
             std::memory_order_relaxed);
  };
#define HUSH_SUM(name) plus(into.name, from.name);
  HUSH_COUNTERS(HUSH_SUM)
#undef HUSH_SUM
  for (size_t i = 0; i < kQtypeSlots; ++i) plus(into.qtypes[i], from.qtypes[i]);
  for (size_t s = 0; s < kMaxUpstreams; ++s) {
    for (size_t b = 0; b < kLatencyBuckets; ++b) plus(into.upstreams[s].latency[b], from.upstreams[s].latency[b]);
    plus(into.upstreams[s].latency_sum_ms, from.upstreams[s].latency_sum_ms);
    plus(into.upstreams[s].answers, from.upstreams[s].answers);
    plus(into.upstreams[s].failures, from.upstreams[s].failures);
    plus(into.upstreams[s].timeouts, from.upstreams[s].timeouts);
  }
}

}  // namespace hush

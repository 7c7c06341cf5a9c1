// Event counters. Each worker owns one set and only it writes there; readers
// (shutdown summary, metrics) sum all sets, so no counter line is shared
// between workers on the hot path.
#pragma once

#include <atomic>
#include <cstdint>

namespace hush {

#define HUSH_COUNTERS(X)                                                              \
  X(queries_udp) X(queries_tcp) X(answered) X(blocked) X(cache_hits) X(cache_misses)             \
  X(forwarded) X(coalesced) X(servfail) X(formerr) X(notimp) X(badvers) X(dropped)      \
  X(upstream_timeouts) X(upstream_rejected) X(upstream_tcp_retries)                     \
  X(tcp_refused) X(send_errors) X(refused_network) X(rate_limited)

struct Counters {
#define HUSH_FIELD(name) std::atomic<uint64_t> name{0};
  HUSH_COUNTERS(HUSH_FIELD)
#undef HUSH_FIELD

  void add(std::atomic<uint64_t>& c, uint64_t n = 1) {
    // Only the owning worker writes, so a plain load+store is enough and avoids a locked add.
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

}  // namespace hush

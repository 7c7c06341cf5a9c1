// The process's memory budget (server.memory_budget_mib): how it is split
// between the parts that grow with traffic, and what the process holds.
//
// The lists, the code, the query-log rings and the threads cost what they
// cost whatever the traffic: that "fixed" part is measured (RSS once the
// server has started, with the lists loaded) and the rest of the budget, less a headroom for passing allocations
// (a batch being written, an HTTP reply, lists rebuilt beside the old ones),
// is shared by the DNS cache, the query log writer's in-memory tables and
// SQLite's page caches, which each evict or spill to stay within their share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

namespace hush::memory {

constexpr size_t kMiB = size_t(1) << 20;

struct Shares {
  size_t budget = 0;          // 0: no budget (each part keeps its own fixed bounds)
  size_t fixed = 0;           // what the process holds whatever the traffic
  size_t headroom = 0;        // left for passing allocations
  size_t cache = 0;           // the DNS answer cache
  size_t querylog = 0;        // the log writer's in-memory tables and batches
  size_t sqlite = 0;          // SQLite's page caches, all connections together
  bool fixed_over = false;    // the fixed part leaves less than the minimum shares
};

// The smallest share each part is given, even when the fixed part leaves
// less: below it a part would spill or evict on nearly every query.
constexpr size_t kMinShare = 2 * kMiB;

// Splits `budget` once `fixed` is known: headroom an eighth of the budget,
// then of the rest 3/8 to the cache, 3/8 to the query log's tables and
// batches (a batch of new names costs far more written in small parts:
// each commit rewrites the index pages it touched), and a quarter to
// SQLite; without a query log the cache has it all.
Shares split(size_t budget, size_t fixed, bool querylog);

// `bytes` as "12.3 MiB", as logs, errors and the CLI show sizes.
std::string mib_text(double bytes);

// Resident set size of this process (VmRSS), in bytes; 0 if unknown.
size_t rss_bytes();

// Hands memory freed inside malloc's heaps back to the system (malloc_trim):
// after a big structure is dropped, RSS would otherwise stay where it was.
void release_free();

// release_free() once RSS has grown more than `slack` since the last time it
// did, for a caller that frees big structures often (the report endpoints):
// releasing after each of them made the next one fault every page back in.
// Thread-safe.
class ReleaseAbove {
 public:
  explicit ReleaseAbove(size_t slack) : slack_(slack) {}
  // True when it released.
  bool maybe_release();

 private:
  const size_t slack_;
  std::mutex mu_;
  size_t after_ = 0;  // RSS right after the last release
};

}  // namespace hush::memory

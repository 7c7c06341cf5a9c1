// server.memory_budget_mib at work: measures what the process holds once it
// has started, splits the rest of the budget between the answer cache, the
// query log writer and SQLite (base/memory.hpp), hands each its share, and
// moves the shares when a list reload changes what the lists take.
#pragma once

#include <cstddef>
#include <mutex>

#include "base/memory.hpp"
#include "cache/cache.hpp"
#include "metrics/metrics.hpp"
#include "querylog/writer.hpp"

namespace hush {

class MemoryBudget {
 public:
  // `writer` may be null (no query log). Nothing is bounded before start().
  MemoryBudget(size_t budget_bytes, cache::Cache& cache, querylog::Writer* writer);

  // Once the lists are loaded and the workers and the log writer run:
  // measures the fixed part, gives out the shares and logs them (and says
  // so when the fixed part leaves too little of the budget).
  void start(size_t lists_bytes);
  // Every few seconds on the main loop: shares follow a change of the
  // lists' size, and malloc's free memory goes back to the system while
  // the process is over its budget.
  void tick(size_t lists_bytes);

  // What /metrics shows. Thread-safe.
  metrics::Snapshot::Memory snapshot(size_t lists_bytes) const;

 private:
  void apply(const memory::Shares& s);
  // New shares for lists of this size; mu_ held.
  void reshare(size_t lists_bytes);

  const size_t budget_;
  cache::Cache& cache_;
  querylog::Writer* writer_;
  mutable std::mutex mu_;
  memory::Shares shares_;
  size_t base_ = 0;        // the fixed part without the lists
  size_t lists_bytes_ = 0;  // the lists' size the shares were made for
  bool warned_ = false;
};

}  // namespace hush

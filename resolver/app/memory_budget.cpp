#include "app/memory_budget.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <string>

#include "base/log.hpp"

namespace hush {

namespace {
std::string mib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", double(bytes) / double(memory::kMiB));
  return buf;
}
}  // namespace

MemoryBudget::MemoryBudget(size_t budget_bytes, cache::Cache& cache, querylog::Writer* writer)
    : budget_(budget_bytes), cache_(cache), writer_(writer) {}

void MemoryBudget::apply(const memory::Shares& s) {
  cache_.set_max_bytes(s.cache);
  // The writer's page cache gets most of SQLite's share; the soft limit
  // makes every connection (the dashboard's and the CLI's readers too)
  // recycle its pages rather than allocate past the share. No hard limit:
  // an allocation refused would cost logged queries.
  if (writer_) writer_->set_memory_limit(s.querylog, s.sqlite * 3 / 4);
  sqlite3_soft_heap_limit64(sqlite3_int64(s.sqlite));
}

void MemoryBudget::reshare(size_t lists_bytes) {
  lists_bytes_ = lists_bytes;
  shares_ = memory::split(budget_, base_ + lists_bytes, writer_ != nullptr);
  apply(shares_);
}

void MemoryBudget::start(size_t lists_bytes) {
  if (!budget_) return;
  // The lists were built from text or mapped in: their passing buffers go
  // back before the fixed part is measured.
  memory::release_free();
  std::lock_guard lock(mu_);
  const size_t rss = memory::rss_bytes();
  base_ = rss > lists_bytes ? rss - lists_bytes : 0;
  reshare(lists_bytes);
  log::info("memory budget ", mib(budget_), " MiB: ", mib(shares_.fixed), " MiB at start (lists ", mib(lists_bytes),
            " MiB), shares: cache ", mib(shares_.cache), " MiB, query log ", mib(shares_.querylog), " MiB, SQLite ",
            mib(shares_.sqlite), " MiB");
  if (shares_.fixed_over) {
    warned_ = true;
    log::warn("memory budget: the lists and the rest of what does not shrink take ", mib(shares_.fixed), " of ",
              mib(budget_), " MiB; the cache and the query log get their smallest shares and hush will hold "
              "more than server.memory_budget_mib (raise it, or use smaller lists)");
  }
}

void MemoryBudget::tick(size_t lists_bytes) {
  if (!budget_) return;
  {
    std::lock_guard lock(mu_);
    if (lists_bytes != lists_bytes_) {
      reshare(lists_bytes);
      log::info("memory budget: the lists now take ", mib(lists_bytes), " MiB; shares: cache ", mib(shares_.cache),
                " MiB, query log ", mib(shares_.querylog), " MiB, SQLite ", mib(shares_.sqlite), " MiB");
      if (shares_.fixed_over && !warned_)
        log::warn("memory budget: the lists and the rest of what does not shrink take ", mib(shares_.fixed),
                  " of ", mib(budget_), " MiB; hush will hold more than server.memory_budget_mib");
      warned_ = shares_.fixed_over;
    }
  }
  if (memory::rss_bytes() > budget_) memory::release_free();
}

metrics::Snapshot::Memory MemoryBudget::snapshot(size_t lists_bytes) const {
  metrics::Snapshot::Memory m;
  {
    std::lock_guard lock(mu_);
    m.budget = budget_;
    m.cache_share = shares_.cache;
    m.querylog_share = shares_.querylog;
    m.sqlite_share = shares_.sqlite;
    m.fixed_over = shares_.fixed_over;
  }
  m.rss = memory::rss_bytes();
  m.lists = lists_bytes;
  m.cache = cache_.bytes();
  if (writer_) m.querylog = writer_->stats().memory_bytes;
  m.sqlite = size_t(sqlite3_memory_used());
  return m;
}

}  // namespace hush

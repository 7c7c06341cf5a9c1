#include "base/memory.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace hush::memory {

Shares split(size_t budget, size_t fixed, bool querylog) {
  Shares s;
  s.budget = budget;
  s.fixed = fixed;
  if (budget == 0) return s;
  s.headroom = budget / 8;
  const size_t minimum = querylog ? 3 * kMinShare : kMinShare;
  size_t rest = budget > fixed + s.headroom ? budget - fixed - s.headroom : 0;
  if (rest < minimum) {
    s.fixed_over = true;
    rest = minimum;
  }
  if (!querylog) {
    s.cache = rest;
    return s;
  }
  s.querylog = std::max(kMinShare, rest * 3 / 8);
  s.sqlite = std::max(kMinShare, rest / 4);
  s.cache = std::max(kMinShare, rest - s.querylog - s.sqlite);
  return s;
}

std::string mib_text(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / double(kMiB));
  return buf;
}

size_t rss_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long pages = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &pages, &resident);
  std::fclose(f);
  return n == 2 ? size_t(resident) * size_t(sysconf(_SC_PAGESIZE)) : 0;
}

void release_free() { malloc_trim(0); }

bool ReleaseAbove::maybe_release() {
  std::lock_guard lock(mu_);
  if (rss_bytes() <= after_ + slack_) return false;
  release_free();
  after_ = rss_bytes();
  return true;
}

}  // namespace hush::memory

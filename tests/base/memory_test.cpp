#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <vector>

#include "base/memory.hpp"

using namespace hush::memory;

TEST_CASE("the budget's rest is split 3/8 to the cache, 3/8 to the query log, a quarter to SQLite") {
  Shares s = split(64 * kMiB, 32 * kMiB, true);
  CHECK(s.budget == 64 * kMiB);
  CHECK(s.headroom == 8 * kMiB);
  CHECK_FALSE(s.fixed_over);
  CHECK(s.cache == 9 * kMiB);
  CHECK(s.querylog == 9 * kMiB);
  CHECK(s.sqlite == 6 * kMiB);
  CHECK(s.fixed + s.headroom + s.cache + s.querylog + s.sqlite == s.budget);
}

TEST_CASE("without a query log the cache has the whole rest") {
  Shares s = split(64 * kMiB, 32 * kMiB, false);
  CHECK(s.cache == 24 * kMiB);
  CHECK(s.querylog == 0);
  CHECK(s.sqlite == 0);
}

TEST_CASE("a fixed part that leaves too little is flagged, and every part gets its minimum") {
  for (size_t fixed : {size_t(58) * kMiB, size_t(64) * kMiB, size_t(300) * kMiB}) {
    Shares s = split(64 * kMiB, fixed, true);
    CHECK(s.fixed_over);
    CHECK(s.cache >= kMinShare);
    CHECK(s.querylog >= kMinShare);
    CHECK(s.sqlite == kMinShare);
  }
}

TEST_CASE("no budget: no shares") {
  Shares s = split(0, 40 * kMiB, true);
  CHECK(s.cache == 0);
  CHECK(s.querylog == 0);
  CHECK(s.sqlite == 0);
  CHECK_FALSE(s.fixed_over);
}

TEST_CASE("RSS is read and grows with memory touched") {
  size_t before = rss_bytes();
  CHECK(before > 0);
  std::vector<char> block(64 * kMiB, 1);
  CHECK(rss_bytes() >= before + 32 * kMiB);
  CHECK(block[12345] == 1);
}

TEST_CASE("freed memory goes back once RSS has grown by the slack") {
  ReleaseAbove release(16 * kMiB);
  release.maybe_release();
  CHECK_FALSE(release.maybe_release());  // nothing grew
  // 64 MiB in small blocks (inside malloc's heap, not mapped apart), all
  // freed but the last, which keeps glibc from shrinking the heap itself.
  std::vector<std::unique_ptr<char[]>> blocks;
  for (size_t i = 0; i < 64 * 1024; ++i) {
    blocks.emplace_back(new char[1000]);
    std::memset(blocks.back().get(), 1, 1000);
  }
  for (size_t i = 0; i + 1 < blocks.size(); ++i) blocks[i].reset();
  [[maybe_unused]] size_t held = rss_bytes();
  CHECK(release.maybe_release());
#ifndef __SANITIZE_ADDRESS__  // ASan's allocator keeps freed blocks apart, out of malloc_trim's reach
  CHECK(rss_bytes() + 32 * kMiB < held);
#endif
  CHECK_FALSE(release.maybe_release());
}

// Serve-stale (RFC 8767) and prefetch in the cache itself, with a fake clock:
// how long expired entries are kept, and when a lookup claims a prefetch.
#include <catch2/catch.hpp>

#include "cache/cache.hpp"
#include "support/wire_builder.hpp"

using namespace hush;
using namespace hush::test;

namespace {
std::string key_of(const std::string& label) {
  std::string wire = char(label.size()) + label + std::string("\x04test\x00", 6);
  char buf[cache::kMaxKey];
  size_t n = cache::make_key(reinterpret_cast<const uint8_t*>(wire.data()), wire.size(), 1, 1, false, buf);
  return std::string(buf, n);
}
cache::Entry entry(const std::string& label, uint32_t ttl, uint64_t now) {
  std::string name = label + ".test.";
  auto reply = make_reply(name, LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR,
                          {name + " " + std::to_string(ttl) + " IN A 192.0.2.1"});
  cache::Entry e;
  REQUIRE(cache::prepare(reply.data(), reply.size(), {}, now, e));
  return e;
}
cache::TtlLimits with_stale_max(uint32_t seconds) {
  cache::TtlLimits l;
  l.stale_max = seconds;
  return l;
}
bool fresh(cache::Cache& c, const std::string& key, uint64_t now, cache::Lookup* info = nullptr) {
  return c.with_fresh(key, now, [](const cache::Entry&, uint32_t) {}, info);
}
bool stale(cache::Cache& c, const std::string& key, uint64_t now) {
  return c.with_stale(key, now, [](const cache::Entry&) {});
}
}  // namespace

TEST_CASE("an expired entry is kept for stale_max, then dropped") {
  cache::Cache c(100, with_stale_max(3600));
  std::string key = key_of("www");
  c.insert(key, entry("www", 10, 0));

  // Fresh: served fresh, and not as stale.
  cache::Lookup info;
  CHECK(fresh(c, key, 9'999, &info));
  CHECK_FALSE(info.stale);
  CHECK_FALSE(stale(c, key, 9'999));

  // Past the TTL: no longer fresh, but kept and said to be kept.
  info = {};
  CHECK_FALSE(fresh(c, key, 10'000, &info));
  CHECK(info.stale);
  CHECK(stale(c, key, 10'000));
  CHECK(stale(c, key, 10'000 + 3'599'999));
  CHECK(c.size() == 1);

  // Past TTL + stale_max: gone for both lookups.
  CHECK_FALSE(stale(c, key, 10'000 + 3'600'000));
  info = {};
  CHECK_FALSE(fresh(c, key, 10'000 + 3'600'000, &info));
  CHECK_FALSE(info.stale);
  CHECK(c.size() == 0);
}

TEST_CASE("without stale_max an entry is dropped at expiry, as before") {
  cache::Cache c(100, {});
  std::string key = key_of("www");
  c.insert(key, entry("www", 10, 0));
  cache::Lookup info;
  CHECK_FALSE(fresh(c, key, 10'000, &info));
  CHECK_FALSE(info.stale);
  CHECK_FALSE(stale(c, key, 10'000));
  CHECK(c.size() == 0);
}

TEST_CASE("stale entries count against the entry bound and leave by LRU") {
  // 16 shards of one entry each: a second key in the same shard evicts the first.
  cache::Cache c(16, with_stale_max(86400));
  std::string old_key = key_of("old");
  c.insert(old_key, entry("old", 10, 0));
  REQUIRE(stale(c, old_key, 20'000));
  std::string other;
  for (int i = 0; other.empty(); ++i) {
    std::string k = key_of("n" + std::to_string(i));
    if (std::hash<std::string_view>{}(k) % 16 == std::hash<std::string_view>{}(old_key) % 16) other = k;
  }
  c.insert(other, entry("other", 10, 20'000));
  CHECK_FALSE(stale(c, old_key, 20'000));
  CHECK(fresh(c, other, 20'000));
}

TEST_CASE("a refresh replaces the stale entry with a fresh one") {
  cache::Cache c(100, with_stale_max(86400));
  std::string key = key_of("www");
  c.insert(key, entry("www", 10, 0));
  REQUIRE(stale(c, key, 50'000));
  c.insert(key, entry("www", 10, 50'000));
  CHECK(fresh(c, key, 50'000));
  CHECK_FALSE(stale(c, key, 50'000));
}

TEST_CASE("a popular entry near expiry claims one prefetch, once") {
  cache::Cache c(100, {});
  c.set_prefetch({4});
  std::string key = key_of("www");
  c.insert(key, entry("www", 100, 0));  // the last tenth starts at 90 s

  cache::Lookup info;
  REQUIRE(fresh(c, key, 1'000, &info));  // hit 1, early
  CHECK_FALSE(info.prefetch);
  REQUIRE(fresh(c, key, 89'999, &info));  // hit 2, still before the last tenth
  CHECK_FALSE(info.prefetch);
  REQUIRE(fresh(c, key, 90'000, &info));  // hit 3, in the last tenth
  CHECK(info.prefetch);
  CHECK(c.prefetch_inflight() == 1);

  // Later hits of the same entry do not prefetch again, even once the slot is free.
  c.prefetch_done();
  info = {};
  REQUIRE(fresh(c, key, 95'000, &info));
  CHECK_FALSE(info.prefetch);

  // The refreshed entry starts over: it must be popular again.
  c.insert(key, entry("www", 100, 96'000));
  info = {};
  REQUIRE(fresh(c, key, 187'000, &info));  // hit 1 of the new entry, in its last tenth
  CHECK_FALSE(info.prefetch);
  REQUIRE(fresh(c, key, 188'000, &info));
  CHECK(info.prefetch);
}

TEST_CASE("an entry asked only once near expiry is not prefetched") {
  cache::Cache c(100, {});
  c.set_prefetch({4});
  std::string key = key_of("rare");
  c.insert(key, entry("rare", 100, 0));
  cache::Lookup info;
  REQUIRE(fresh(c, key, 95'000, &info));
  CHECK_FALSE(info.prefetch);
  CHECK(c.prefetch_inflight() == 0);
}

TEST_CASE("prefetches in flight are limited; a refused entry may claim a slot later") {
  cache::Cache c(100, {});
  c.set_prefetch({2});
  std::vector<std::string> keys;
  for (int i = 0; i < 3; ++i) {
    keys.push_back(key_of("n" + std::to_string(i)));
    c.insert(keys.back(), entry("n" + std::to_string(i), 100, 0));
    REQUIRE(fresh(c, keys.back(), 0));
  }
  int claimed = 0;
  for (const std::string& k : keys) {
    cache::Lookup info;
    REQUIRE(fresh(c, k, 95'000, &info));
    claimed += info.prefetch;
  }
  CHECK(claimed == 2);
  CHECK(c.prefetch_inflight() == 2);
  // The third entry was not marked: once a slot frees, its next hit claims it.
  c.prefetch_done();
  cache::Lookup info;
  REQUIRE(fresh(c, keys[2], 96'000, &info));
  CHECK(info.prefetch);
  CHECK(c.prefetch_inflight() == 2);
}

TEST_CASE("prefetch is off unless set") {
  cache::Cache c(100, {});
  std::string key = key_of("www");
  c.insert(key, entry("www", 100, 0));
  cache::Lookup info;
  for (uint64_t t : {90'000, 91'000, 92'000}) REQUIRE(fresh(c, key, t, &info));
  CHECK_FALSE(info.prefetch);
}

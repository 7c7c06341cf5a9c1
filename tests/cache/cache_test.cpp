#include <catch2/catch.hpp>

#include "cache/cache.hpp"
#include "dns/wire.hpp"
#include "support/wire_builder.hpp"

using namespace hush;
using namespace hush::test;

namespace {
std::string key_for(const std::string& qname_wire, uint16_t type, bool do_bit = false) {
  char buf[cache::kMaxKey];
  size_t n = cache::make_key(reinterpret_cast<const uint8_t*>(qname_wire.data()), qname_wire.size(),
                             type, 1, do_bit, buf);
  return std::string(buf, n);
}
cache::Entry prepared(const std::vector<uint8_t>& reply, uint64_t now, cache::TtlLimits limits = {}) {
  cache::Entry e;
  REQUIRE(cache::prepare(reply.data(), reply.size(), limits, now, e));
  return e;
}
uint32_t first_ttl(const cache::Entry& e) { return dns::get32(e.wire.data() + e.ttl_offsets.at(0)); }
}  // namespace

TEST_CASE("positive answers live for their smallest TTL") {
  auto reply = make_reply("www.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR,
                          {"www.test. 300 IN A 192.0.2.1", "www.test. 60 IN A 192.0.2.2"}, {}, 1232);
  cache::Entry e = prepared(reply, 1000);
  CHECK(e.cacheable);
  CHECK(e.expires_ms == 1000 + 60 * 1000);
  // The upstream's OPT record is not stored: each client gets its own.
  CHECK(dns::read_header(e.wire.data()).arcount == 0);
  CHECK(e.wire.size() < reply.size());
}

TEST_CASE("negative answers live for the SOA's min(TTL, MINIMUM)") {
  auto nx = make_reply("nx.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NXDOMAIN, {},
                       {"test. 300 IN SOA ns.test. admin.test. 1 3600 600 86400 45"});
  cache::Entry e = prepared(nx, 0);
  CHECK(e.cacheable);
  CHECK(e.expires_ms == 45 * 1000);
  CHECK(first_ttl(e) == 45);

  auto nodata = make_reply("www.test.", LDNS_RR_TYPE_MX, 1, LDNS_RCODE_NOERROR, {},
                           {"test. 20 IN SOA ns.test. admin.test. 1 3600 600 86400 45"});
  CHECK(prepared(nodata, 0).expires_ms == 20 * 1000);

  auto no_soa = make_reply("nx.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NXDOMAIN, {});
  CHECK_FALSE(prepared(no_soa, 0).cacheable);
}

TEST_CASE("TTL limits clamp what is stored and served") {
  auto reply = make_reply("www.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR,
                          {"www.test. 5 IN A 192.0.2.1"});
  cache::Entry low = prepared(reply, 0, {30, 3600, 3600});
  CHECK(low.expires_ms == 30 * 1000);
  CHECK(first_ttl(low) == 30);
  auto high_reply = make_reply("www.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR,
                               {"www.test. 999999 IN A 192.0.2.1"});
  cache::Entry high = prepared(high_reply, 0, {0, 600, 3600});
  CHECK(high.expires_ms == 600 * 1000);
  CHECK(first_ttl(high) == 600);
}

TEST_CASE("errors, truncated replies and TTL 0 are not cached") {
  CHECK_FALSE(prepared(make_reply("a.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_SERVFAIL, {}), 0).cacheable);
  CHECK_FALSE(prepared(make_reply("a.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_REFUSED, {}), 0).cacheable);
  CHECK_FALSE(prepared(make_reply("a.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR,
                                  {"a.test. 0 IN A 192.0.2.1"}), 0).cacheable);
  auto tc = make_reply("a.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR, {"a.test. 60 IN A 192.0.2.1"});
  tc[2] |= 0x02;
  CHECK_FALSE(prepared(tc, 0).cacheable);
}

TEST_CASE("malformed replies are refused") {
  auto reply = make_reply("a.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR, {"a.test. 60 IN A 192.0.2.1"});
  reply.resize(reply.size() - 2);
  cache::Entry e;
  CHECK_FALSE(cache::prepare(reply.data(), reply.size(), {}, 0, e));
}

TEST_CASE("lookups are fresh until expiry and report the age") {
  cache::Cache c(100, {});
  auto reply = make_reply("www.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR,
                          {"www.test. 10 IN A 192.0.2.1"});
  std::string key = key_for(std::string("\x03www\x04test\x00", 10), 1);
  c.insert(key, prepared(reply, 5000));
  uint32_t age = 99;
  CHECK(c.with_fresh(key, 5000, [&](const cache::Entry&, uint32_t a) { age = a; }));
  CHECK(age == 0);
  CHECK(c.with_fresh(key, 12500, [&](const cache::Entry&, uint32_t a) { age = a; }));
  CHECK(age == 7);
  CHECK_FALSE(c.with_fresh(key, 15000, [](const cache::Entry&, uint32_t) {}));
  CHECK(c.size() == 0);
}

TEST_CASE("keys differ by case-folded name, type and DO bit") {
  std::string upper("\x03WWW\x04TEST\x00", 10), lower("\x03www\x04test\x00", 10);
  CHECK(key_for(upper, 1) == key_for(lower, 1));
  CHECK(key_for(lower, 1) != key_for(lower, 28));
  CHECK(key_for(lower, 1) != key_for(lower, 1, true));
}

TEST_CASE("a full cache evicts the least recently used entry") {
  // 16 shards of one entry each: two keys in the same shard evict each other.
  cache::Cache c(16, {});
  auto reply = make_reply("www.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR, {"www.test. 60 IN A 192.0.2.1"});
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) {
    std::string k = key_for("\x01" + std::string(1, char('a' + i % 26)) + std::to_string(i) + std::string(1, '\0'), 1);
    keys.push_back(k);
    c.insert(k, prepared(reply, 0));
  }
  CHECK(c.size() <= 16);
  CHECK(c.with_fresh(keys.back(), 1, [](const cache::Entry&, uint32_t) {}));
}

TEST_CASE("an evicted entry's place holds the new entry under its own key, and only it") {
  // Names long and short (kept inside std::string or not) and answers of
  // different sizes, through a full cache: each key must find its own answer.
  cache::Cache c(32, {});
  std::vector<std::pair<std::string, std::vector<uint8_t>>> stored;
  for (int i = 0; i < 500; ++i) {
    std::string label = std::string(size_t(1 + i % 40), char('a' + i % 26)) + std::to_string(i);
    std::string name = label + ".test.";
    std::vector<std::string> answers;
    for (int k = 0; k <= i % 3; ++k)
      answers.push_back(name + " 60 IN A 192.0.2." + std::to_string(k + 1));
    auto reply = make_reply(name, LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR, answers);
    std::string wire_name = std::string(1, char(label.size())) + label + "\x04test" + std::string(1, '\0');
    std::string k = key_for(wire_name, 1);
    cache::Entry e = prepared(reply, 0);
    c.insert(k, e);
    stored.emplace_back(k, e.wire);
  }
  CHECK(c.size() <= 32);
  size_t found = 0;
  for (auto& [k, wire] : stored)
    c.with_fresh(k, 1, [&, &wire = wire](const cache::Entry& e, uint32_t) {
      ++found;
      CHECK(e.wire == wire);
    });
  CHECK(found == c.size());
  CHECK(found >= 16);
  // The most recent key of the run is always there.
  CHECK(c.with_fresh(stored.back().first, 1, [](const cache::Entry&, uint32_t) {}));
}

TEST_CASE("a byte bound evicts the least recently used entries by their size") {
  // Far more entries allowed than fit the bytes: the byte bound decides.
  cache::Cache c(1000000, {});
  const size_t max_bytes = 64 * 1024;
  c.set_max_bytes(max_bytes);
  CHECK(c.max_bytes() == max_bytes);
  std::vector<std::string> keys;
  size_t largest = 0;
  for (int i = 0; i < 5000; ++i) {
    // Answers of 1 to 8 records, names of different lengths: entries differ in size.
    std::string label = std::string(size_t(1 + i % 30), char('a' + i % 26)) + std::to_string(i);
    std::string name = label + ".test.";
    std::vector<std::string> answers;
    for (int k = 0; k <= i % 8; ++k) answers.push_back(name + " 60 IN A 192.0.2." + std::to_string(k + 1));
    std::string k = key_for(std::string(1, char(label.size())) + label + "\x04test" + std::string(1, '\0'), 1);
    cache::Entry e = prepared(make_reply(name, LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR, answers), 0);
    c.insert(k, e);
    keys.push_back(k);
    largest = std::max(largest, cache::Cache::entry_bytes(k, e));
    // Never past the bound by more than one entry per shard (an entry just
    // stored stays even when it alone is over its shard's share).
    REQUIRE(c.bytes() <= max_bytes + 16 * largest);
  }
  CHECK(c.bytes() <= max_bytes);
  CHECK(c.size() > 50);
  CHECK(c.size() < 5000);
  // What bytes() says is the sum of what its entries are counted as.
  size_t sum = 0, found = 0;
  for (const std::string& k : keys)
    c.with_fresh(k, 1, [&](const cache::Entry& e, uint32_t) {
      sum += cache::Cache::entry_bytes(k, e);
      ++found;
    });
  CHECK(found == c.size());
  // The same, but for the keys' capacity: a node taken over from an evicted
  // entry keeps its longer key's buffer, which this test's copies lack.
  CHECK(sum <= c.bytes());
  CHECK(c.bytes() - sum <= found * cache::kMaxKey);
  // The newest entries are the ones kept.
  CHECK(c.with_fresh(keys.back(), 1, [](const cache::Entry&, uint32_t) {}));
  CHECK_FALSE(c.with_fresh(keys.front(), 1, [](const cache::Entry&, uint32_t) {}));

  // A lower bound is reached as entries come in; clear() leaves nothing counted.
  c.set_max_bytes(16 * 1024);
  for (int i = 0; i < 2000; ++i) {
    std::string label = "z" + std::to_string(i);
    std::string name = label + ".test.";
    std::string k = key_for(std::string(1, char(label.size())) + label + "\x04test" + std::string(1, '\0'), 1);
    c.insert(k, prepared(make_reply(name, LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR, {name + " 60 IN A 192.0.2.1"}), 0));
  }
  CHECK(c.bytes() <= 16 * 1024);
  c.clear();
  CHECK(c.bytes() == 0);
  CHECK(c.size() == 0);
}

TEST_CASE("an entry replaced under its key is counted at its new size") {
  cache::Cache c(100, {});
  c.set_max_bytes(1 << 20);
  std::string k = key_for("\x03www\x04test" + std::string(1, '\0'), 1);
  std::vector<std::string> many;
  for (int i = 1; i <= 20; ++i) many.push_back("www.test. 60 IN A 192.0.2." + std::to_string(i));
  cache::Entry big = prepared(make_reply("www.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR, many), 0);
  cache::Entry small = prepared(make_reply("www.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR, {many[0]}), 0);
  c.insert(k, small);
  size_t small_bytes = c.bytes();
  c.insert(k, big);
  CHECK(c.size() == 1);
  CHECK(c.bytes() > small_bytes);
  size_t entry = 0;
  c.with_fresh(k, 1, [&](const cache::Entry& e, uint32_t) { entry = cache::Cache::entry_bytes(k, e); });
  CHECK(c.bytes() == entry);
  // Expired past the stale window: dropped on lookup, and no longer counted.
  CHECK_FALSE(c.with_fresh(k, 10 * 60 * 1000, [](const cache::Entry&, uint32_t) {}));
  CHECK(c.bytes() == 0);
}

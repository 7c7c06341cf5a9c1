// Cache: positive and negative (RFC 2308) entries, TTLs counted down when
// served, answers from the cache while the upstream is down.
#include <catch2/catch.hpp>
#include <thread>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

void require_upstream_down(Env& env) {
  env.unbound.stop();
  REQUIRE_FALSE(env.unbound.running());
  // Really gone: unbound itself no longer answers.
  REQUIRE_FALSE(udp_exchange(env.unbound.endpoint(), make_query("www.test.", rr::A), 300ms));
}

const Record& soa_of(const Message& m) {
  INFO(m.summary());
  REQUIRE(m.authority.size() == 1);
  REQUIRE(m.authority[0].type == rr::SOA);
  return m.authority[0];
}

}  // namespace

TEST_CASE("positive cache: TTL counts down and the entry is served while upstream is down",
          "[integration][cache]") {
  Env env;
  auto ep = env.ep();

  auto m1 = udp_query(ep, "cached.test.", rr::A);
  INFO("first: " << m1.summary());
  REQUIRE(m1.texts(rr::A) == std::vector<std::string>{zone::kCachedA});
  const uint32_t ttl1 = m1.first(rr::A)->ttl;
  CHECK(ttl1 <= zone::kTtl);
  CHECK(ttl1 >= zone::kTtl - 3);

  std::this_thread::sleep_for(2100ms);
  auto m2 = udp_query(ep, "cached.test.", rr::A);
  INFO("after 2.1 s: " << m2.summary());
  REQUIRE(m2.texts(rr::A) == std::vector<std::string>{zone::kCachedA});
  const uint32_t ttl2 = m2.first(rr::A)->ttl;
  CHECK(ttl2 < ttl1);
  CHECK(ttl2 + 4 >= ttl1);
  CHECK(ttl2 <= zone::kTtl - 2);

  require_upstream_down(env);

  // Same name, different case and transport: still from the cache.
  for (bool tcp : {false, true}) {
    INFO((tcp ? "TCP" : "UDP") << " with upstream stopped");
    auto m3 = tcp ? tcp_query(ep, "CaChEd.TeSt.", rr::A) : udp_query(ep, "CaChEd.TeSt.", rr::A);
    INFO(m3.summary());
    CHECK(m3.rcode() == rcode::NOERROR);
    CHECK(m3.qname == "CaChEd.TeSt.");
    REQUIRE(m3.texts(rr::A) == std::vector<std::string>{zone::kCachedA});
    CHECK(m3.first(rr::A)->ttl <= ttl2);
  }
}

TEST_CASE("negative cache: NXDOMAIN and NODATA carry the SOA, count down, survive upstream loss",
          "[integration][cache]") {
  Env env;
  auto ep = env.ep();

  auto nx1 = udp_query(ep, zone::kNegCachedName, rr::A);
  INFO("NXDOMAIN first: " << nx1.summary());
  CHECK(nx1.rcode() == rcode::NXDOMAIN);
  const uint32_t nxttl1 = soa_of(nx1).ttl;
  CHECK(nxttl1 <= zone::kSoaMinimum);  // RFC 2308: min(SOA TTL, SOA MINIMUM)
  CHECK(nxttl1 >= zone::kSoaMinimum - 3);

  auto nd1 = udp_query(ep, "cached.test.", rr::MX);
  INFO("NODATA first: " << nd1.summary());
  CHECK(nd1.rcode() == rcode::NOERROR);
  CHECK(nd1.answer.empty());
  const uint32_t ndttl1 = soa_of(nd1).ttl;

  std::this_thread::sleep_for(2100ms);

  auto nx2 = udp_query(ep, zone::kNegCachedName, rr::A);
  INFO("NXDOMAIN after 2.1 s: " << nx2.summary());
  CHECK(nx2.rcode() == rcode::NXDOMAIN);
  const uint32_t nxttl2 = soa_of(nx2).ttl;
  CHECK(nxttl2 < nxttl1);
  CHECK(nxttl2 + 4 >= nxttl1);

  auto nd2 = udp_query(ep, "cached.test.", rr::MX);
  INFO("NODATA after 2.1 s: " << nd2.summary());
  CHECK(nd2.rcode() == rcode::NOERROR);
  CHECK(soa_of(nd2).ttl < ndttl1);

  require_upstream_down(env);

  auto nx3 = udp_query(ep, zone::kNegCachedName, rr::A);
  INFO("NXDOMAIN with upstream stopped: " << nx3.summary());
  CHECK(nx3.rcode() == rcode::NXDOMAIN);
  CHECK(soa_of(nx3).ttl <= nxttl2);
  auto nd3 = tcp_query(ep, "cached.test.", rr::MX);
  INFO("NODATA with upstream stopped (TCP): " << nd3.summary());
  CHECK(nd3.rcode() == rcode::NOERROR);
  CHECK(nd3.answer.empty());
  soa_of(nd3);
}

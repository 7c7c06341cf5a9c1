#include <catch2/catch.hpp>

#include "base/address.hpp"
#include "dns/wire.hpp"
#include "upstream/check.hpp"
#include "upstream/inflight.hpp"
#include "upstream/selector.hpp"
#include "support/wire_builder.hpp"

using namespace hush;
using namespace hush::upstream;
using namespace hush::test;

namespace {
Server server(const char* text) {
  Server s;
  std::string error;
  REQUIRE(parse_address(text, 53, s.addr, error));
  s.text = text;
  return s;
}
const uint8_t kQname[] = {3, 'w', 'w', 'w', 4, 't', 'e', 's', 't', 0};
}  // namespace

TEST_CASE("replies are accepted only with our ID and exactly our question") {
  auto good = make_reply("WWW.test.", LDNS_RR_TYPE_A, 77, LDNS_RCODE_NOERROR, {"www.test. 60 IN A 192.0.2.1"});
  CHECK(check_reply(good.data(), good.size(), 77, kQname, sizeof kQname, 1, 1) == ReplyCheck::Ok);
  CHECK(check_reply(good.data(), good.size(), 78, kQname, sizeof kQname, 1, 1) == ReplyCheck::WrongId);
  CHECK(check_reply(good.data(), good.size(), 77, kQname, sizeof kQname, 28, 1) == ReplyCheck::WrongQuestion);
  auto other = make_reply("evil.test.", LDNS_RR_TYPE_A, 77, LDNS_RCODE_NOERROR, {});
  CHECK(check_reply(other.data(), other.size(), 77, kQname, sizeof kQname, 1, 1) == ReplyCheck::WrongQuestion);
  auto query = make_query("www.test.", LDNS_RR_TYPE_A, 77);
  CHECK(check_reply(query.data(), query.size(), 77, kQname, sizeof kQname, 1, 1) == ReplyCheck::NotResponse);
  auto cut = good;
  cut.resize(cut.size() - 3);
  CHECK(check_reply(cut.data(), cut.size(), 77, kQname, sizeof kQname, 1, 1) == ReplyCheck::Malformed);
  CHECK(check_reply(good.data(), 5, 77, kQname, sizeof kQname, 1, 1) == ReplyCheck::Malformed);
}

TEST_CASE("replies with a broken owner name or a record past the end are malformed") {
  auto good = make_reply("www.test.", LDNS_RR_TYPE_A, 7, LDNS_RCODE_NOERROR,
                         {"www.test. 60 IN A 192.0.2.1", "www.test. 60 IN A 192.0.2.2"});
  REQUIRE(check_reply(good.data(), good.size(), 7, kQname, sizeof kQname, 1, 1) == ReplyCheck::Ok);
  // The first answer's owner: a compression pointer to the question name.
  size_t owner = dns::kHeaderSize + sizeof kQname + 4;
  REQUIRE(good[owner] == 0xC0);
  REQUIRE(good[owner + 1] == dns::kHeaderSize);
  auto with_owner = [&](uint8_t hi, uint8_t lo) {
    auto m = good;
    m[owner] = hi;
    m[owner + 1] = lo;
    return check_reply(m.data(), m.size(), 7, kQname, sizeof kQname, 1, 1);
  };
  CHECK(with_owner(0xC0, uint8_t(owner)) == ReplyCheck::Malformed);      // points at itself
  CHECK(with_owner(0xC0, uint8_t(owner + 20)) == ReplyCheck::Malformed); // points forward
  CHECK(with_owner(0xC1, 0x00) == ReplyCheck::Malformed);                // past the end
  CHECK(with_owner(0x80, 0x00) == ReplyCheck::Malformed);                // reserved label type
  CHECK(with_owner(0xC0, dns::kHeaderSize + 4) == ReplyCheck::Ok);        // the "test" suffix
  // A second answer announced but missing, or longer than what is there.
  auto extra = good;
  extra[7] = 3;
  CHECK(check_reply(extra.data(), extra.size(), 7, kQname, sizeof kQname, 1, 1) == ReplyCheck::Malformed);
  auto longer = good;
  longer[longer.size() - 5] = 0x10;  // the last RDLENGTH's low byte: 4 -> 16
  CHECK(check_reply(longer.data(), longer.size(), 7, kQname, sizeof kQname, 1, 1) == ReplyCheck::Malformed);
}

TEST_CASE("the selector prefers fast servers and puts failed ones last") {
  Selector s({server("127.0.0.1:1"), server("127.0.0.1:2"), server("127.0.0.1:3")});
  std::vector<uint8_t> order;
  s.order(0, order);
  CHECK(order == std::vector<uint8_t>{0, 1, 2});
  s.success(0, 50);
  s.success(1, 5);
  s.success(2, 20);
  s.order(0, order);
  CHECK(order == std::vector<uint8_t>{1, 2, 0});
  s.failure(1, 1000);
  s.order(1500, order);
  CHECK(order.back() == 1);
  // After its back-off the server is tried again in RTT order.
  s.order(1000 + 1000, order);
  CHECK(order.front() == 1);
  s.failure(1, 3000);
  s.order(4500, order);
  CHECK(order.back() == 1);  // second failure: 2 s back-off
}

TEST_CASE("identical in-flight questions share one upstream query") {
  InflightTable t;
  Waiter w;
  bool full = false;
  CHECK(t.join("k", w, &full) == nullptr);
  Pending& p = t.start("k", Waiter{});
  for (int i = 0; i < 3; ++i) CHECK(t.join("k", w, &full) == &p);
  CHECK_FALSE(full);
  CHECK(p.waiters.size() == 4);
  while (p.waiters.size() < InflightTable::kMaxWaiters) t.join("k", w, &full);
  t.join("k", w, &full);
  CHECK(full);
  CHECK(t.finish("k").size() == InflightTable::kMaxWaiters);
  CHECK(t.size() == 0);
  CHECK(t.find("k") == nullptr);
}

TEST_CASE("one upstream is still asked twice") {
  Pending p;
  p.order = {0};
  CHECK(p.max_attempts() == 2);
  p.attempt = 1;
  CHECK(p.server() == 0);
  p.order = {2, 0, 1};
  CHECK(p.max_attempts() == 3);
}

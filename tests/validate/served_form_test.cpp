#include "net/validation.hpp"

#include <catch2/catch.hpp>

#include "signer.hpp"

using namespace hush;

namespace {
ldns_pkt* parse(const std::vector<uint8_t>& wire) {
  ldns_pkt* p = nullptr;
  REQUIRE(ldns_wire2pkt(&p, wire.data(), wire.size()) == LDNS_STATUS_OK);
  return p;
}
}  // namespace

TEST_CASE("a validated reply is served with AD only when secure, signatures only to DO clients") {
  test::ZoneKey key("test.", 0, 2000000000);
  std::vector<ldns_rr*> set{test::rr("www.test. 300 IN A 192.0.2.1")};
  auto reply = test::reply("www.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, test::plus(set, key.sign(set)));

  ldns_pkt* with_do = parse(net::served_form(reply, true, true, LDNS_RR_TYPE_A));
  CHECK(ldns_pkt_ad(with_do));
  CHECK(ldns_rr_list_rr_count(ldns_pkt_answer(with_do)) == 2);
  CHECK(ldns_pkt_edns_do(with_do));
  ldns_pkt_free(with_do);

  ldns_pkt* without_do = parse(net::served_form(reply, true, false, LDNS_RR_TYPE_A));
  CHECK(ldns_pkt_ancount(without_do) == 1);
  CHECK(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(without_do), 0)) == LDNS_RR_TYPE_A);
  CHECK_FALSE(ldns_pkt_edns_do(without_do));
  ldns_pkt_free(without_do);

  ldns_pkt* insecure = parse(net::served_form(reply, false, true, LDNS_RR_TYPE_A));
  CHECK_FALSE(ldns_pkt_ad(insecure));
  ldns_pkt_free(insecure);
}

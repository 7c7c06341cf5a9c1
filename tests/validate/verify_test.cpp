#include "validate/verify.hpp"

#include <catch2/catch.hpp>

#include "signer.hpp"

using namespace hush;
using test::plus;
using test::rr;

namespace {
constexpr int64_t kNow = 1800000000;

// The result of ldns_verify_rrsig_keylist_time, which the Verifier must match.
ldns_status by_ldns(const ldns_rr_list* set, const ldns_rr* sig, const ldns_rr_list* keys, time_t now) {
  ldns_rr_list* good = ldns_rr_list_new();
  ldns_status st = ldns_verify_rrsig_keylist_time(set, sig, keys, now, good);
  ldns_rr_list_free(good);
  return st;
}

struct Case {
  ldns_rr_list* set = ldns_rr_list_new();
  ldns_rr_list* keys = ldns_rr_list_new();
  ldns_rr* sig = nullptr;
  ~Case() {
    ldns_rr_list_deep_free(set);
    ldns_rr_list_deep_free(keys);
    ldns_rr_free(sig);
  }
};
}  // namespace

TEST_CASE("the verifier with kept keys answers as ldns does") {
  validate::Verifier verifier;
  for (ldns_signing_algorithm algorithm : {LDNS_SIGN_ECDSAP256SHA256, LDNS_SIGN_ECDSAP384SHA384, LDNS_SIGN_RSASHA256}) {
    test::ZoneKey key("Test.", kNow - 100, kNow + 100, algorithm);
    for (int variant = 0; variant < 5; ++variant) {
      INFO("algorithm " << algorithm << " variant " << variant);
      Case c;
      // Two records, given out of canonical order, with an upper-case owner.
      std::vector<ldns_rr*> records{rr("WWW.test. 300 IN A 192.0.2.2"), rr("www.test. 300 IN A 192.0.2.1")};
      std::vector<ldns_rr*> sigs = key.sign(records);
      REQUIRE(sigs.size() == 1);
      c.sig = sigs[0];
      for (ldns_rr* r : records) ldns_rr_list_push_rr(c.set, r);
      ldns_rr_list_push_rr(c.keys, key.dnskey());
      time_t when = kNow;
      if (variant == 1) ldns_rr_set_ttl(ldns_rr_list_rr(c.set, 0), 30);  // TTL lowered on the way: still valid
      if (variant == 2) {  // data changed
        ldns_rr_list_deep_free(c.set);
        c.set = ldns_rr_list_new();
        ldns_rr_list_push_rr(c.set, rr("www.test. 300 IN A 192.0.2.9"));
      }
      if (variant == 3) when = kNow + 1000;  // expired
      if (variant == 4) {  // another key
        test::ZoneKey other("test.", kNow - 100, kNow + 100, algorithm);
        ldns_rr_list_deep_free(c.keys);
        c.keys = ldns_rr_list_new();
        ldns_rr_list_push_rr(c.keys, other.dnskey());
      }
      ldns_status expected = by_ldns(c.set, c.sig, c.keys, when);
      CHECK(verifier.verify(c.set, c.sig, c.keys, when) == expected);
      CHECK((expected == LDNS_STATUS_OK) == (variant <= 1));
    }
  }
  CHECK(verifier.kept_keys() > 0);
}

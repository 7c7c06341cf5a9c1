#include "validate/validator.hpp"

#include <catch2/catch.hpp>

#include "signer.hpp"

using namespace hush;
using namespace hush::validate;
using test::plus;
using test::rr;

namespace {

constexpr int64_t kNow = 1800000000;  // the clock the signatures are checked against

struct Zone {
  std::string name;
  test::ZoneKey key;
  explicit Zone(std::string n, int64_t inception = kNow - 3600, int64_t expiration = kNow + 86400)
      : name(std::move(n)), key(name, inception, expiration) {}
  std::vector<ldns_rr*> signed_set(const std::vector<std::string>& texts) const {
    std::vector<ldns_rr*> set;
    for (const std::string& t : texts) set.push_back(rr(t));
    return plus(set, key.sign(set));
  }
  std::vector<uint8_t> dnskey_reply() const {
    ldns_rr* signed_key = key.dnskey();
    std::vector<ldns_rr*> sigs = key.sign({signed_key});
    ldns_rr_free(signed_key);
    return test::reply(name, LDNS_RR_TYPE_DNSKEY, LDNS_RCODE_NOERROR, plus({key.dnskey()}, sigs));
  }
  Anchor anchor() const {
    ldns_rr_list* l = ldns_rr_list_new();
    ldns_rr_list_push_rr(l, key.ds());
    return {name, own(l)};
  }
};

struct Fixture {
  Zone zone{"test."};
  KeyCache keys{64};
  Validator validator{{zone.anchor()}, keys};
  Fetched fetched;

  // Validates, answering every fetch from `answers`, and returns the end state.
  Result run(const std::vector<uint8_t>& reply, const std::string& qname, ldns_rr_type qtype,
             const std::map<Fetch, std::vector<uint8_t>>& answers, std::vector<Fetch>* asked = nullptr) {
    std::vector<uint8_t> name = test::wire_name(qname);
    for (int i = 0; i < 10; ++i) {
      Result r = validator.validate(reply.data(), reply.size(), name.data(), name.size(), qtype, fetched, kNow);
      if (r.state != State::NeedMore) return r;
      if (asked) asked->push_back(r.fetch);
      auto it = answers.find(r.fetch);
      fetched[r.fetch] = it == answers.end() ? std::vector<uint8_t>{} : it->second;
    }
    return {State::NeedMore, 0, "too many rounds", {}};
  }
  std::map<Fetch, std::vector<uint8_t>> apex() const { return {{{"test.", LDNS_RR_TYPE_DNSKEY}, zone.dnskey_reply()}}; }
};

}  // namespace

TEST_CASE("a signed answer chained to the trust anchor is secure") {
  Fixture f;
  auto reply = test::reply("www.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
                           f.zone.signed_set({"www.test. 300 IN A 192.0.2.1"}));
  std::vector<Fetch> asked;
  Result r = f.run(reply, "www.test.", LDNS_RR_TYPE_A, f.apex(), &asked);
  INFO(r.why);
  CHECK(r.state == State::Secure);
  REQUIRE(asked.size() == 1);
  CHECK(asked[0].name == "test.");
  CHECK(asked[0].type == LDNS_RR_TYPE_DNSKEY);

  SECTION("the zone's keys are kept: the next answer needs no fetch") {
    Fixture& g = f;
    g.fetched.clear();
    auto other = test::reply("mail.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
                             g.zone.signed_set({"mail.test. 300 IN A 192.0.2.2"}));
    std::vector<Fetch> again;
    CHECK(g.run(other, "mail.test.", LDNS_RR_TYPE_A, {}, &again).state == State::Secure);
    CHECK(again.empty());
  }
}

TEST_CASE("a changed signature is bogus (EDE 6)") {
  Fixture f;
  auto set = f.zone.signed_set({"www.test. 300 IN A 192.0.2.1"});
  // The data no longer matches what was signed.
  ldns_rr_free(set[0]);
  set[0] = rr("www.test. 300 IN A 192.0.2.99");
  Result r = f.run(test::reply("www.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, set), "www.test.", LDNS_RR_TYPE_A,
                   f.apex());
  CHECK(r.state == State::Bogus);
  CHECK(r.ede == ede::Bogus);
  CHECK(r.why.find("www.test. A") != std::string::npos);
}

TEST_CASE("an expired signature is bogus (EDE 7)") {
  Zone old("test.", kNow - 7200, kNow - 3600);
  // The zone's keys are signed for now; the answer's signature expired an hour ago.
  ldns_rr* signed_key = old.key.dnskey();
  std::vector<ldns_rr*> sigs = old.key.sign_between(kNow - 3600, kNow + 3600, {signed_key});
  ldns_rr_free(signed_key);
  auto dnskey = test::reply("test.", LDNS_RR_TYPE_DNSKEY, LDNS_RCODE_NOERROR, plus({old.key.dnskey()}, sigs));
  KeyCache keys(16);
  Validator v({old.anchor()}, keys);
  auto reply = test::reply("www.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
                           old.signed_set({"www.test. 300 IN A 192.0.2.1"}));
  auto name = test::wire_name("www.test.");
  Fetched fetched{{{"test.", LDNS_RR_TYPE_DNSKEY}, dnskey}};
  Result r = v.validate(reply.data(), reply.size(), name.data(), name.size(), LDNS_RR_TYPE_A, fetched, kNow);
  CHECK(r.state == State::Bogus);
  CHECK(r.ede == ede::SignatureExpired);
}

TEST_CASE("a zone without the key its trust anchor names is bogus (EDE 9)") {
  Fixture f;
  Zone other("test.");  // a different key for the same zone
  std::map<Fetch, std::vector<uint8_t>> answers{{{"test.", LDNS_RR_TYPE_DNSKEY}, other.dnskey_reply()}};
  auto reply = test::reply("www.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
                           other.signed_set({"www.test. 300 IN A 192.0.2.1"}));
  Result r = f.run(reply, "www.test.", LDNS_RR_TYPE_A, answers);
  CHECK(r.state == State::Bogus);
  CHECK(r.ede == ede::DnskeyMissing);
}

TEST_CASE("an unsigned answer from a signed zone is bogus (EDE 10)") {
  Fixture f;
  auto reply = test::reply("www.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, {rr("www.test. 300 IN A 192.0.2.1")});
  auto answers = f.apex();
  // www.test. is proven not to be a delegation, so it belongs to test.
  answers[{"www.test.", LDNS_RR_TYPE_DS}] = test::reply(
      "www.test.", LDNS_RR_TYPE_DS, LDNS_RCODE_NOERROR, {},
      f.zone.signed_set({"www.test. 300 IN NSEC zz.test. A RRSIG NSEC"}));
  Result r = f.run(reply, "www.test.", LDNS_RR_TYPE_A, answers);
  CHECK(r.state == State::Bogus);
  CHECK(r.ede == ede::RrsigsMissing);
}

TEST_CASE("a delegation proven to have no DS is insecure") {
  Fixture f;
  auto reply =
      test::reply("www.plain.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, {rr("www.plain.test. 300 IN A 192.0.2.7")});
  auto answers = f.apex();
  answers[{"plain.test.", LDNS_RR_TYPE_DS}] = test::reply(
      "plain.test.", LDNS_RR_TYPE_DS, LDNS_RCODE_NOERROR, {},
      f.zone.signed_set({"plain.test. 300 IN NSEC www.test. NS RRSIG NSEC"}));
  Result r = f.run(reply, "www.plain.test.", LDNS_RR_TYPE_A, answers);
  CHECK(r.state == State::Insecure);
  CHECK(r.why.find("plain.test.") != std::string::npos);

  SECTION("but a forged proof (not signed by the parent) is bogus") {
    Fixture g;
    Zone forger("test.");
    auto forged = g.apex();
    forged[{"plain.test.", LDNS_RR_TYPE_DS}] = test::reply(
        "plain.test.", LDNS_RR_TYPE_DS, LDNS_RCODE_NOERROR, {},
        forger.signed_set({"plain.test. 300 IN NSEC www.test. NS RRSIG NSEC"}));
    CHECK(g.run(reply, "www.plain.test.", LDNS_RR_TYPE_A, forged).state == State::Bogus);
  }
}

TEST_CASE("a signed child zone is chased through its DS") {
  Fixture f;
  Zone child("sec.test.");
  auto answers = f.apex();
  ldns_rr* ds = child.key.ds();
  char* ds_text = ldns_rr2str(ds);
  ldns_rr_free(ds);
  answers[{"sec.test.", LDNS_RR_TYPE_DS}] =
      test::reply("sec.test.", LDNS_RR_TYPE_DS, LDNS_RCODE_NOERROR, f.zone.signed_set({ds_text}));
  free(ds_text);
  answers[{"sec.test.", LDNS_RR_TYPE_DNSKEY}] = child.dnskey_reply();
  auto reply = test::reply("www.sec.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
                           child.signed_set({"www.sec.test. 300 IN A 192.0.2.3"}));
  std::vector<Fetch> asked;
  CHECK(f.run(reply, "www.sec.test.", LDNS_RR_TYPE_A, answers, &asked).state == State::Secure);
  CHECK(asked.size() == 3);
}

TEST_CASE("NXDOMAIN proven by NSEC is secure; without the proof it is bogus") {
  Fixture f;
  auto proof = plus(f.zone.signed_set({"test. 300 IN SOA ns.test. admin.test. 1 3600 600 86400 300"}),
                    plus(f.zone.signed_set({"test. 300 IN NSEC www.test. SOA NS DNSKEY RRSIG NSEC"}),
                         f.zone.signed_set({"www.test. 300 IN NSEC test. A RRSIG NSEC"})));
  auto reply = test::reply("nope.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, {}, proof);
  CHECK(f.run(reply, "nope.test.", LDNS_RR_TYPE_A, f.apex()).state == State::Secure);

  Fixture g;
  auto bare = test::reply("nope.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, {},
                          g.zone.signed_set({"test. 300 IN SOA ns.test. admin.test. 1 3600 600 86400 300"}));
  Result r = g.run(bare, "nope.test.", LDNS_RR_TYPE_A, g.apex());
  CHECK(r.state == State::Bogus);
}

TEST_CASE("a name no trust anchor covers is insecure without any fetch") {
  Fixture f;
  auto reply = test::reply("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, {rr("www.example. 300 IN A 192.0.2.1")});
  std::vector<Fetch> asked;
  CHECK(f.run(reply, "www.example.", LDNS_RR_TYPE_A, {}, &asked).state == State::Insecure);
  CHECK(asked.empty());
}

TEST_CASE("a failed fetch of the zone's keys is bogus and not remembered") {
  Fixture f;
  auto reply = test::reply("www.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
                           f.zone.signed_set({"www.test. 300 IN A 192.0.2.1"}));
  Result r = f.run(reply, "www.test.", LDNS_RR_TYPE_A, {});
  CHECK(r.state == State::Bogus);
  CHECK(r.ede == ede::NoReachableAuthority);
  f.fetched.clear();
  CHECK(f.run(reply, "www.test.", LDNS_RR_TYPE_A, f.apex()).state == State::Secure);
}

TEST_CASE("the key cache stays within its bound") {
  KeyCache keys(4);
  for (int i = 0; i < 20; ++i) keys.put("K" + std::to_string(i) + ".", {KeyItem::Kind::NotCut, nullptr, 0, {}, 100 + i}, 0);
  CHECK(keys.size() <= 4);
  CHECK(keys.get("K19.", 0));
  CHECK_FALSE(keys.get("K19.", 200));  // expired
}

TEST_CASE("a wildcard answer is secure only with proof that the name asked for does not exist") {
  Fixture f;
  // Signed as *.test. and served as x.test., as a server expands it.
  std::vector<ldns_rr*> set{rr("*.test. 300 IN A 192.0.2.5")};
  std::vector<ldns_rr*> sigs = f.zone.key.sign(set);
  ldns_rr_free(set[0]);
  set[0] = rr("x.test. 300 IN A 192.0.2.5");
  for (ldns_rr* sig : sigs) {
    ldns_rdf* old = ldns_rr_owner(sig);
    ldns_rr_set_owner(sig, ldns_dname_new_frm_str("x.test."));
    ldns_rdf_deep_free(old);
  }
  auto answer = [&] {
    std::vector<ldns_rr*> a;
    for (ldns_rr* r : plus(set, sigs)) a.push_back(ldns_rr_clone(r));
    return a;
  };
  auto bare = test::reply("x.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, answer());
  Result r = f.run(bare, "x.test.", LDNS_RR_TYPE_A, f.apex());
  CHECK(r.state == State::Bogus);
  CHECK(r.why.find("wildcard") != std::string::npos);

  auto proven = test::reply("x.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, answer(),
                            f.zone.signed_set({"www.test. 300 IN NSEC y.test. A RRSIG NSEC"}));
  CHECK(f.run(proven, "x.test.", LDNS_RR_TYPE_A, f.apex()).state == State::Secure);
  for (ldns_rr* r : plus(set, sigs)) ldns_rr_free(r);
}

TEST_CASE("new trust anchors replace the old ones and what was learned under them") {
  Fixture f;
  auto reply = test::reply("www.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
                           f.zone.signed_set({"www.test. 300 IN A 192.0.2.1"}));
  REQUIRE(f.run(reply, "www.test.", LDNS_RR_TYPE_A, f.apex()).state == State::Secure);
  CHECK(f.keys.size() > 0);
  f.validator.set_anchors({});
  CHECK(f.keys.size() == 0);
  f.fetched.clear();
  CHECK(f.run(reply, "www.test.", LDNS_RR_TYPE_A, {}).state == State::Insecure);
}

// Plain forwarding through hush to unbound: record types, CNAME chains,
// negative answers, letter case of the question, readiness log line.
#include <catch2/catch.hpp>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

TEST_CASE("hush logs 'listening on' once it is ready", "[integration][basic]") {
  auto& env = shared_env();
  REQUIRE(wait_until([&] { return env.hush.log().find("listening on") != std::string::npos; }, 3s));
}

TEST_CASE("A record over UDP and TCP (ldns)", "[integration][basic]") {
  auto& env = shared_env();
  for (bool tcp : {false, true}) {
    INFO((tcp ? "TCP" : "UDP"));
    QueryOpts o;
    o.id = 0x1234;
    auto m = tcp ? tcp_query(env.ep(), "www.test.", rr::A, o) : udp_query(env.ep(), "www.test.", rr::A, o);
    INFO(m.summary());
    CHECK(m.id == 0x1234);
    CHECK(m.qr);
    CHECK(m.opcode == 0);
    CHECK(m.rd);  // RD copied from the query
    CHECK(m.ra);  // a resolver offers recursion
    CHECK_FALSE(m.tc);
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK(m.qdcount == 1);
    CHECK(m.qname == "www.test.");
    CHECK(m.qtype == rr::A);
    CHECK(m.qclass == 1);
    REQUIRE(m.answer.size() == 1);
    CHECK(m.answer[0].owner == "www.test.");
    CHECK(m.answer[0].type == rr::A);
    CHECK(m.answer[0].text == zone::kWwwA);
    CHECK(m.answer[0].ttl <= zone::kTtl);
    CHECK(m.answer[0].ttl > 0);
  }
}

TEST_CASE("AAAA record (ldns)", "[integration][basic]") {
  auto m = udp_query(shared_env().ep(), "www.test.", rr::AAAA);
  INFO(m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK(m.texts(rr::AAAA) == std::vector<std::string>{zone::kWwwAAAA});
}

TEST_CASE("CNAME chain a -> b -> c -> A is returned whole (ldns)", "[integration][basic]") {
  auto m = udp_query(shared_env().ep(), "a.test.", rr::A);
  INFO(m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  REQUIRE(m.answer.size() == 3);
  CHECK(m.answer[0].owner == "a.test.");
  CHECK(m.answer[0].type == rr::CNAME);
  CHECK(m.answer[0].text == "b.test.");
  CHECK(m.answer[1].owner == "b.test.");
  CHECK(m.answer[1].type == rr::CNAME);
  CHECK(m.answer[1].text == "c.test.");
  CHECK(m.answer[2].owner == "c.test.");
  CHECK(m.answer[2].type == rr::A);
  CHECK(m.answer[2].text == zone::kChainA);
}

TEST_CASE("MX record (ldns)", "[integration][basic]") {
  auto m = tcp_query(shared_env().ep(), "test.", rr::MX);
  INFO(m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK(m.texts(rr::MX) == std::vector<std::string>{"10 mail.test."});
}

TEST_CASE("A, AAAA, CNAME chain and MX via dig and kdig", "[integration][basic]") {
  auto ep = shared_env().ep();
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> expect;
  };
  const std::vector<Case> cases{
      {{"www.test.", "A", "+short"}, {zone::kWwwA}},
      {{"www.test.", "AAAA", "+short"}, {zone::kWwwAAAA}},
      {{"a.test.", "A", "+short"}, {"b.test.", "c.test.", zone::kChainA}},
      {{"test.", "MX", "+short"}, {"10 mail.test."}},
      {{"www.test.", "A", "+short", "+tcp"}, {zone::kWwwA}},
      {{"test.", "MX", "+short", "+tcp"}, {"10 mail.test."}},
  };
  for (auto& c : cases) {
    auto r = dig(ep, c.args);
    INFO("dig " << c.args[0] << " " << c.args[1] << (c.args.size() > 3 ? " +tcp" : "") << "\nstdout: " << r.out
                << "\nstderr: " << r.err);
    CHECK(r.exit_code() == 0);
    CHECK(lines(r.out) == c.expect);
  }
  for (auto& c : cases) {
    auto r = kdig(ep, c.args);
    INFO("kdig " << c.args[0] << " " << c.args[1] << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code() == 0);
    CHECK(lines(r.out) == c.expect);
  }
}

TEST_CASE("dig shows a full NOERROR answer with the header flags", "[integration][basic]") {
  auto r = dig(shared_env().ep(), {"www.test.", "A", "+noall", "+comments", "+answer"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code() == 0);
  CHECK(r.out.find("status: NOERROR") != std::string::npos);
  CHECK(r.out.find(" qr ") != std::string::npos);
  CHECK(r.out.find(" rd ") != std::string::npos);
  CHECK(r.out.find(" ra") != std::string::npos);
  CHECK(r.out.find("www.test.") != std::string::npos);
  CHECK(r.out.find(zone::kWwwA) != std::string::npos);
}

TEST_CASE("letter case of the question is preserved (WwW.TeSt.)", "[integration][basic]") {
  auto& env = shared_env();
  // Warm the cache with the lower-case name first, so the mixed-case query is
  // answered from a cache entry that was created with different case.
  udp_query(env.ep(), "www.test.", rr::A);
  for (bool tcp : {false, true}) {
    INFO((tcp ? "TCP" : "UDP"));
    auto m = tcp ? tcp_query(env.ep(), "WwW.TeSt.", rr::A) : udp_query(env.ep(), "WwW.TeSt.", rr::A);
    INFO(m.summary());
    CHECK(m.rcode() == rcode::NOERROR);
    // Raw bytes of the question name, straight from the wire.
    REQUIRE(m.wire.size() > 12 + 10);
    const Bytes expect{3, 'W', 'w', 'W', 4, 'T', 'e', 'S', 't', 0};
    CHECK(Bytes(m.wire.begin() + 12, m.wire.begin() + 22) == expect);
    CHECK(m.qname == "WwW.TeSt.");
    CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kWwwA});
  }
  // Another never-seen name with odd case (goes upstream).
  auto m = udp_query(env.ep(), "mAiL.tEsT.", rr::A);
  CHECK(m.qname == "mAiL.tEsT.");
  CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kMailA});
  auto d = dig(env.ep(), {"CaSe-Y.WiLd.TeSt.", "A", "+noall", "+question"});
  INFO(d.out << d.err);
  CHECK(d.out.find(";CaSe-Y.WiLd.TeSt.") != std::string::npos);
}

TEST_CASE("NXDOMAIN carries the zone SOA in the authority section", "[integration][basic]") {
  auto m = udp_query(shared_env().ep(), "does-not-exist.test.", rr::A);
  INFO(m.summary());
  CHECK(m.rcode() == rcode::NXDOMAIN);
  CHECK(m.answer.empty());
  REQUIRE(m.authority.size() == 1);
  CHECK(m.authority[0].type == rr::SOA);
  CHECK(lower(m.authority[0].owner) == "test.");
  CHECK(m.authority[0].ttl <= zone::kSoaMinimum);
}

TEST_CASE("NODATA (name exists, type does not) is NOERROR with SOA", "[integration][basic]") {
  auto m = udp_query(shared_env().ep(), "www.test.", rr::MX);
  INFO(m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK(m.answer.empty());
  REQUIRE(m.authority.size() == 1);
  CHECK(m.authority[0].type == rr::SOA);
  CHECK(m.authority[0].ttl <= zone::kSoaMinimum);
}

TEST_CASE("many different queries in a row all get their own answers", "[integration][basic]") {
  auto ep = shared_env().ep();
  for (int i = 0; i < 30; ++i) {
    std::string name = "seq" + std::to_string(i) + ".wild.test.";
    auto m = udp_query(ep, name, rr::A);
    INFO(m.summary());
    REQUIRE(m.rcode() == rcode::NOERROR);
    REQUIRE(m.qname == name);
    REQUIRE(m.answer.size() == 1);
    REQUIRE(m.answer[0].owner == name);
    REQUIRE(m.answer[0].text == zone::kWildA);
  }
}

TEST_CASE("CHAOS-class questions are refused by hush, never forwarded (dig and kdig)", "[integration][basic]") {
  auto ep = shared_env().ep();
  for (const char* name : {"version.bind.", "hostname.bind.", "id.server."}) {
    for (bool tcp : {false, true}) {
      std::vector<std::string> args{name, "CH", "TXT", "+noall", "+comments", "+answer"};
      if (tcp) args.push_back("+tcp");
      auto d = dig(ep, args);
      INFO("dig " << name << (tcp ? " +tcp" : "") << "\n" << d.out << d.err);
      CHECK(d.out.find("status: REFUSED") != std::string::npos);
      CHECK(d.out.find("ANSWER: 0") != std::string::npos);
      // unbound would have said who it is.
      CHECK(lower(d.out).find("unbound") == std::string::npos);
    }
    auto k = kdig(ep, {name, "-c", "CH", "TXT"});
    INFO("kdig " << name << "\n" << k.out << k.err);
    CHECK(k.out.find("status: REFUSED") != std::string::npos);
  }
}

// EDNS0 (RFC 6891) and truncation: client UDP size honoured (512 without
// EDNS), TC when the answer does not fit, OPT echoed only when the query had
// one, BADVERS for unknown EDNS versions; large answers over TCP.
#include <catch2/catch.hpp>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

std::vector<std::string> quoted(std::string (*gen)(int), int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back("\"" + gen(i) + "\"");
  return v;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("UDP without EDNS: big TXT (>512 bytes) is truncated, TCP gets it whole", "[integration][edns]") {
  auto ep = shared_env().ep();
  const auto expect = quoted(zone::big_txt, zone::kBigCount);

  auto udp = udp_query(ep, "big.test.", rr::TXT);
  INFO("UDP: " << udp.summary());
  CHECK(udp.tc);
  CHECK(udp.wire.size() <= 512);
  CHECK(udp.rcode() == rcode::NOERROR);
  CHECK(udp.qname == "big.test.");
  CHECK_FALSE(udp.opt);

  auto tcp = tcp_query(ep, "big.test.", rr::TXT);
  INFO("TCP: " << tcp.summary());
  CHECK_FALSE(tcp.tc);
  CHECK(tcp.rcode() == rcode::NOERROR);
  CHECK(tcp.wire.size() > 512);
  CHECK(sorted(tcp.texts(rr::TXT)) == expect);

  // dig: +ignore shows the truncated UDP answer; without it dig retries over TCP.
  auto d1 = dig(ep, {"big.test.", "TXT", "+noedns", "+ignore", "+noall", "+comments"});
  INFO("dig +ignore: " << d1.out << d1.err);
  CHECK(d1.exit_code() == 0);
  CHECK(d1.out.find(" tc") != std::string::npos);
  auto d2 = dig(ep, {"big.test.", "TXT", "+noedns", "+short"});
  INFO("dig (falls back to TCP): " << d2.out << d2.err);
  CHECK(sorted(lines(d2.out)) == expect);
  auto d3 = dig(ep, {"big.test.", "TXT", "+tcp", "+short"});
  INFO("dig +tcp: " << d3.out << d3.err);
  CHECK(sorted(lines(d3.out)) == expect);
}

TEST_CASE("EDNS UDP size 4096: big TXT comes over UDP without TC", "[integration][edns]") {
  auto ep = shared_env().ep();
  QueryOpts o;
  o.edns = true;
  o.udp_size = 4096;
  auto m = udp_query(ep, "big.test.", rr::TXT, o);
  INFO(m.summary());
  CHECK_FALSE(m.tc);
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK(m.wire.size() > 512);
  CHECK(m.wire.size() <= 4096);
  REQUIRE(m.opt);
  CHECK(m.opt->version == 0);
  CHECK(sorted(m.texts(rr::TXT)) == quoted(zone::big_txt, zone::kBigCount));

  auto d = dig(ep, {"big.test.", "TXT", "+bufsize=4096", "+ignore", "+noall", "+comments", "+answer"});
  INFO("dig: " << d.out << d.err);
  CHECK(d.exit_code() == 0);
  CHECK(d.out.find(" tc") == std::string::npos);
  CHECK(d.out.find("udp: ") != std::string::npos);
  CHECK(d.out.find(zone::big_txt(zone::kBigCount - 1)) != std::string::npos);
}

TEST_CASE("EDNS UDP size is honoured below the answer size (TC, size limit kept)", "[integration][edns]") {
  auto ep = shared_env().ep();
  // big.test is ~865 bytes: 800 must truncate; 512 and 200 (<512 means 512) too.
  for (uint16_t size : {uint16_t{800}, uint16_t{512}, uint16_t{200}}) {
    QueryOpts o;
    o.edns = true;
    o.udp_size = size;
    auto m = udp_query(ep, "big.test.", rr::TXT, o);
    INFO("client UDP size " << size << ": " << m.summary());
    CHECK(m.tc);
    CHECK(m.wire.size() <= std::max<size_t>(size, 512));
    CHECK(m.opt);  // OPT is kept in truncated answers to EDNS queries
    CHECK(m.rcode() == rcode::NOERROR);
  }
  // ... and a small answer is not truncated at the smallest size.
  QueryOpts o;
  o.edns = true;
  o.udp_size = 512;
  auto m = udp_query(ep, "www.test.", rr::A, o);
  INFO(m.summary());
  CHECK_FALSE(m.tc);
  CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kWwwA});
}

TEST_CASE("huge TXT (~3 KB, upstream truncates over UDP) is complete over TCP", "[integration][edns]") {
  auto ep = shared_env().ep();
  // unbound's max-udp-size is 1232, so hush has to retry upstream over TCP.
  auto m = tcp_query(ep, "huge.test.", rr::TXT, {}, 5000ms);
  INFO(m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK_FALSE(m.tc);
  CHECK(m.wire.size() > 3000);
  CHECK(sorted(m.texts(rr::TXT)) == quoted(zone::huge_txt, zone::kHugeCount));

  // Same through kdig over TCP with EDNS.
  auto k = kdig(ep, {"huge.test.", "TXT", "+tcp", "+short"});
  INFO("kdig: " << k.out << k.err);
  CHECK(sorted(lines(k.out)) == quoted(zone::huge_txt, zone::kHugeCount));
}

TEST_CASE("EDNS 4096 client, ~3 KB answer: whole, or TC within the advertised size; then TCP",
          "[integration][edns]") {
  auto ep = shared_env().ep();
  QueryOpts o;
  o.edns = true;
  o.udp_size = 4096;
  auto m = udp_query(ep, "huge.test.", rr::TXT, o, 5000ms);
  INFO("UDP: " << m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  REQUIRE(m.opt);
  CHECK(m.wire.size() <= 4096);
  auto t = tcp_query(ep, "huge.test.", rr::TXT, o, 5000ms);
  INFO("TCP: " << t.summary());
  CHECK_FALSE(t.tc);
  CHECK(sorted(t.texts(rr::TXT)) == quoted(zone::huge_txt, zone::kHugeCount));
  if (m.tc) {
    // The server may use a smaller own payload size (RFC 6891 6.2.5), but then
    // it stays within what it advertises, and the whole answer must not fit.
    CHECK(m.wire.size() <= std::max<size_t>(512, m.opt->udp_size));
    CHECK(t.wire.size() > std::min<size_t>(4096, m.opt->udp_size));
  } else {
    CHECK(sorted(m.texts(rr::TXT)) == quoted(zone::huge_txt, zone::kHugeCount));
  }
}

TEST_CASE("OPT in the answer if and only if the query had OPT", "[integration][edns]") {
  auto ep = shared_env().ep();
  for (bool tcp : {false, true}) {
    for (const char* name : {"www.test.", "no-such-name.test.", "opt-probe.wild.test."}) {
      INFO((tcp ? "TCP " : "UDP ") << name);
      QueryOpts with;
      with.edns = true;
      with.udp_size = 1232;
      auto m = tcp ? tcp_query(ep, name, rr::A, with) : udp_query(ep, name, rr::A, with);
      INFO("with OPT: " << m.summary());
      REQUIRE(m.opt);
      CHECK(m.opt_count == 1);
      CHECK(m.opt->version == 0);
      CHECK(m.opt->udp_size >= 512);
      CHECK(m.rcode() != rcode::BADVERS);

      auto n = tcp ? tcp_query(ep, name, rr::A) : udp_query(ep, name, rr::A);
      INFO("without OPT: " << n.summary());
      CHECK_FALSE(n.opt);
      CHECK(n.opt_count == 0);
      CHECK(n.rcode() == m.rcode());
    }
  }
}

TEST_CASE("EDNS version 1 gets BADVERS (extended rcode 16) with an OPT of version 0", "[integration][edns]") {
  auto ep = shared_env().ep();
  for (bool tcp : {false, true}) {
    INFO((tcp ? "TCP" : "UDP"));
    QueryOpts o;
    o.edns = true;
    o.edns_version = 1;
    o.udp_size = 1232;
    auto m = tcp ? tcp_query(ep, "www.test.", rr::A, o) : udp_query(ep, "www.test.", rr::A, o);
    INFO(m.summary());
    CHECK(m.qr);
    REQUIRE(m.opt);
    CHECK(m.opt->ext_rcode == 1);
    CHECK(m.rcode4 == 0);
    CHECK(m.rcode() == rcode::BADVERS);
    CHECK(m.opt->version == 0);
    CHECK(m.answer.empty());
  }
  // dig agrees.
  auto d = dig(ep, {"www.test.", "A", "+edns=1", "+noednsnegotiation", "+noall", "+comments"});
  INFO(d.out << d.err);
  CHECK(d.out.find("BADVERS") != std::string::npos);
}

TEST_CASE("DO bit and EDNS in the query still give a normal answer", "[integration][edns]") {
  QueryOpts o;
  o.edns = true;
  o.do_bit = true;
  o.udp_size = 1232;
  auto m = udp_query(shared_env().ep(), "a.test.", rr::A, o);
  INFO(m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  REQUIRE(m.opt);
  CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kChainA});
}

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "dns/answer.hpp"
#include "dns/wire.hpp"
#include "support/wire_builder.hpp"

using namespace hush::dns;
using namespace hush::test;

namespace {
Query parsed(const std::vector<uint8_t>& m) {
  Query q;
  REQUIRE(parse_query(m.data(), m.size(), q) == ParseStatus::Ok);
  return q;
}
}  // namespace

TEST_CASE("error answers echo the question and read back with ldns") {
  Query q = parsed(make_query("Mixed.Case.test.", LDNS_RR_TYPE_A, 7, 1232));
  uint8_t out[1500];
  size_t n = write_error(q, rcode::ServFail, out, sizeof out);
  Ede ede{ede::NoReachableAuthority, "no upstream answered"};
  n = finish(out, n, sizeof out, q, rcode::ServFail, &ede, 1232);
  auto p = parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_id(p.get()) == 7);
  CHECK(ldns_pkt_qr(p.get()));
  CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_SERVFAIL);
  CHECK(ldns_pkt_edns(p.get()));
  CHECK(ede_code(p.get()) == 22);
  char* name = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p.get()), 0)));
  CHECK(std::string(name) == "Mixed.Case.test.");
  free(name);
}

TEST_CASE("BADVERS puts the upper rcode bits in the OPT record") {
  Query q = parsed(make_query("a.test.", LDNS_RR_TYPE_A, 9, 1232));
  uint8_t out[600];
  size_t n = write_error(q, rcode::BadVers, out, sizeof out);
  n = finish(out, n, sizeof out, q, rcode::BadVers, nullptr, 1232);
  auto p = parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_edns_extended_rcode(p.get()) == 1);
  CHECK(ldns_pkt_get_rcode(p.get()) == 0);
}

TEST_CASE("stored answers take the query's ID, case and counted-down TTLs") {
  auto reply = make_reply("www.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR,
                          {"www.test. 300 IN A 192.0.2.1", "www.test. 100 IN A 192.0.2.2"});
  std::vector<uint16_t> ttl_offsets;
  walk_records(reply.data(), reply.size(), [&](const Record& r) {
    ttl_offsets.push_back(uint16_t(r.ttl_offset));
    return true;
  });
  REQUIRE(ttl_offsets.size() == 2);
  Query q = parsed(make_query("WWW.test.", LDNS_RR_TYPE_A, 0x5555));
  uint8_t out[512];
  size_t n = write_stored(reply.data(), reply.size(), ttl_offsets.data(), ttl_offsets.size(), 150, q,
                          out, sizeof out);
  n = finish(out, n, sizeof out, q, 0, nullptr, 512);
  auto p = parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_id(p.get()) == 0x5555);
  ldns_rr_list* an = ldns_pkt_answer(p.get());
  REQUIRE(ldns_rr_list_rr_count(an) == 2);
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(an, 0)) == 150);
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(an, 1)) == 0);
  CHECK_FALSE(ldns_pkt_edns(p.get()));
  CHECK(out[12 + 1] == 'W');
}

TEST_CASE("an answer larger than the client's limit is truncated with TC") {
  std::vector<std::string> txt;
  for (int i = 0; i < 4; ++i) txt.push_back("big.test. 60 IN TXT \"" + std::string(200, 'x') + "\"");
  auto reply = make_reply("big.test.", LDNS_RR_TYPE_TXT, 1, LDNS_RCODE_NOERROR, txt);
  REQUIRE(reply.size() > 512);

  SECTION("without EDNS the limit is 512") {
    Query q = parsed(make_query("big.test.", LDNS_RR_TYPE_TXT, 3));
    uint8_t out[2048];
    size_t n = write_stored(reply.data(), reply.size(), nullptr, 0, 0, q, out, 512);
    n = finish(out, n, sizeof out, q, 0, nullptr, 512);
    auto p = parse(out, n);
    REQUIRE(p);
    CHECK(ldns_pkt_tc(p.get()));
    CHECK(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())) == 0);
    CHECK(ldns_rr_list_rr_count(ldns_pkt_question(p.get())) == 1);
  }
  SECTION("with EDNS 1232 it fits and carries OPT") {
    Query q = parsed(make_query("big.test.", LDNS_RR_TYPE_TXT, 3, 1232));
    uint8_t out[2048];
    size_t n = write_stored(reply.data(), reply.size(), nullptr, 0, 0, q, out, 1232);
    n = finish(out, n, sizeof out, q, 0, nullptr, 1232);
    auto p = parse(out, n);
    REQUIRE(p);
    CHECK_FALSE(ldns_pkt_tc(p.get()));
    CHECK(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())) == 4);
    CHECK(ldns_pkt_edns_udp_size(p.get()) == kOwnUdpSize);
  }
}

TEST_CASE("upstream queries are lower-case with EDNS and the client's DO bit") {
  Query q = parsed(make_query("MiXeD.test.", LDNS_RR_TYPE_MX, 1, 4096, true));
  uint8_t out[512];
  size_t n = write_upstream_query(0xbeef, q.qname_wire, q.qname_wire_len, q.qtype, q.qclass, q.do_bit,
                                  false, out, sizeof out);
  auto p = parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_id(p.get()) == 0xbeef);
  CHECK(ldns_pkt_rd(p.get()));
  CHECK(ldns_pkt_edns_do(p.get()));
  char* name = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p.get()), 0)));
  CHECK(std::string(name) == "mixed.test.");
  free(name);
}

TEST_CASE("read_name follows pointers backwards and refuses loops") {
  auto reply = make_reply("a.test.", LDNS_RR_TYPE_CNAME, 1, LDNS_RCODE_NOERROR,
                          {"a.test. 60 IN CNAME b.a.test."});
  std::string target;
  walk_records(reply.data(), reply.size(), [&](const Record& r) {
    REQUIRE(read_name(reply.data(), reply.size(), r.rdata_offset, target));
    return false;
  });
  CHECK(target == "b.a.test");
  const uint8_t loop[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 12};
  std::string out;
  CHECK_FALSE(read_name(loop, sizeof loop, 12, out));
}

TEST_CASE("an answer to an unknown opcode carries only QR, the opcode and NOTIMP") {
  // opcode 15 with every flag bit set, header only (genreport's opcodeflg).
  std::vector<uint8_t> m = {0x12, 0x34, 0x7F, 0xF0, 0, 0, 0, 0, 0, 0, 0, 0};
  Query q;
  REQUIRE(parse_query(m.data(), m.size(), q) == ParseStatus::NotImp);
  uint8_t out[600];
  size_t n = write_error(q, rcode::NotImp, out, sizeof out);
  REQUIRE(n == kHeaderSize);
  CHECK(get16(out + 2) == (flag::QR | 0x7800 | rcode::NotImp));
}

TEST_CASE("a stored answer loses the upstream's AA and Z, and AD unless the client asked for it") {
  auto reply = make_reply("www.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR, {"www.test. 300 IN A 192.0.2.1"});
  put16(reply.data() + 2, get16(reply.data() + 2) | flag::AA | flag::Z | flag::AD);
  uint8_t out[512];
  Query plain = parsed(make_query("www.test.", LDNS_RR_TYPE_A, 2));
  write_stored(reply.data(), reply.size(), nullptr, 0, 0, plain, out, sizeof out);
  uint16_t f = get16(out + 2);
  CHECK_FALSE(f & flag::AA);
  CHECK_FALSE(f & flag::Z);
  CHECK_FALSE(f & flag::AD);
  CHECK(f & flag::RA);
  CHECK(f & flag::RD);

  Query with_do = parsed(make_query("www.test.", LDNS_RR_TYPE_A, 3, 1232, true));
  write_stored(reply.data(), reply.size(), nullptr, 0, 0, with_do, out, sizeof out);
  CHECK(get16(out + 2) & flag::AD);
  CHECK_FALSE(get16(out + 2) & flag::AA);
}

TEST_CASE("a Client Subnet is cut to the configured prefix and sent upstream") {
  ClientSubnet s;
  s.family = 1;
  s.source = 32;
  uint8_t v4[4] = {198, 51, 100, 77};
  std::memcpy(s.addr, v4, 4);
  truncate_subnet(s, 20, 56);
  CHECK(s.source == 20);
  CHECK(s.addr_len() == 3);
  CHECK(s.addr[0] == 198);
  CHECK(s.addr[1] == 51);
  CHECK(s.addr[2] == 96);  // 100 = 0b01100100, top 4 bits kept
  CHECK(s.addr[3] == 0);

  Query q = parsed(make_query("a.test.", LDNS_RR_TYPE_A, 1, 1232));
  uint8_t out[512];
  size_t n = write_upstream_query(1, q.qname_wire, q.qname_wire_len, q.qtype, q.qclass, false, false, out,
                                  sizeof out, &s);
  auto p = parse(out, n);
  REQUIRE(p);
  ldns_rdf* data = ldns_pkt_edns_data(p.get());
  REQUIRE(data);
  std::vector<uint8_t> opt(ldns_rdf_data(data), ldns_rdf_data(data) + ldns_rdf_size(data));
  CHECK(opt == std::vector<uint8_t>{0, 8, 0, 7, 0, 1, 20, 0, 198, 51, 96});

  ClientSubnet none;
  n = write_upstream_query(1, q.qname_wire, q.qname_wire_len, q.qtype, q.qclass, false, false, out, sizeof out,
                           &none);
  p = parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_edns_data(p.get()) == nullptr);
}

TEST_CASE("queries to an encrypted upstream are padded to blocks of 128 bytes (RFC 8467)") {
  uint8_t out[1024];
  for (const char* name : {"a.test.", "a-much-longer-name.with.several.labels.example.test.",
                           "a-third-name-to-land-elsewhere-in-its-block.test."}) {
    INFO(name);
    Query q = parsed(make_query(name, LDNS_RR_TYPE_A, 1, 1232));
    size_t plain = write_upstream_query(1, q.qname_wire, q.qname_wire_len, q.qtype, q.qclass, false, false, out,
                                        sizeof out);
    size_t n = write_upstream_query(1, q.qname_wire, q.qname_wire_len, q.qtype, q.qclass, false, false, out,
                                    sizeof out, nullptr, 128);
    CHECK(n % 128 == 0);
    CHECK(n >= plain + 4);  // at least the option's own code and length
    CHECK(n < plain + 4 + 128);
    auto p = parse(out, n);
    REQUIRE(p);
    ldns_rdf* data = ldns_pkt_edns_data(p.get());
    REQUIRE(data);
    const uint8_t* opt = ldns_rdf_data(data);
    CHECK(get16(opt) == 12);  // Padding
    CHECK(get16(opt + 2) == n - plain - 4);
    CHECK(std::all_of(opt + 4, opt + ldns_rdf_size(data), [](uint8_t b) { return b == 0; }));
  }
  // Too small a buffer for the padding: nothing is written.
  Query q = parsed(make_query("a.test.", LDNS_RR_TYPE_A, 1, 1232));
  CHECK(write_upstream_query(1, q.qname_wire, q.qname_wire_len, q.qtype, q.qclass, false, false, out, 100, nullptr,
                             128) == 0);
}

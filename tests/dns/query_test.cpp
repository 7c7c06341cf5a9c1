#include <catch2/catch.hpp>

#include <cstring>

#include "dns/query.hpp"
#include "support/wire_builder.hpp"

using namespace hush::dns;
using hush::test::make_query;

namespace {
std::vector<uint8_t> header(uint16_t flags, uint16_t qdcount, uint16_t arcount = 0) {
  std::vector<uint8_t> m(12, 0);
  m[0] = 0xab;
  m[1] = 0xcd;
  put16(m.data() + 2, flags);
  put16(m.data() + 4, qdcount);
  put16(m.data() + 10, arcount);
  return m;
}
void append(std::vector<uint8_t>& m, std::initializer_list<uint8_t> bytes) { m.insert(m.end(), bytes); }
std::vector<uint8_t> with_name(std::vector<uint8_t> m, const std::vector<uint8_t>& name) {
  m.insert(m.end(), name.begin(), name.end());
  append(m, {0, 1, 0, 1});
  return m;
}
std::vector<uint8_t> labels(size_t count, size_t len) {
  std::vector<uint8_t> n;
  for (size_t i = 0; i < count; ++i) {
    n.push_back(uint8_t(len));
    n.resize(n.size() + len, 'a');
  }
  n.push_back(0);
  return n;
}
}  // namespace

TEST_CASE("a well-formed query is read with its case and EDNS fields") {
  auto m = make_query("WwW.Example.COM.", LDNS_RR_TYPE_AAAA, 0x4242, 4096, true);
  Query q;
  REQUIRE(parse_query(m.data(), m.size(), q) == ParseStatus::Ok);
  CHECK(q.id == 0x4242);
  CHECK(q.qtype == 28);
  CHECK(q.qclass == 1);
  CHECK(q.name_view() == "www.example.com");
  CHECK(std::memcmp(q.qname_wire, "\x03WwW\x07" "Example\x03" "COM\x00", q.qname_wire_len) == 0);
  CHECK(q.has_edns);
  CHECK(q.do_bit);
  CHECK(q.udp_size == 4096);
  CHECK(q.rd());
}

TEST_CASE("a query without OPT gets the 512-byte default") {
  auto m = make_query("a.test.", LDNS_RR_TYPE_A);
  Query q;
  REQUIRE(parse_query(m.data(), m.size(), q) == ParseStatus::Ok);
  CHECK_FALSE(q.has_edns);
  CHECK(q.udp_size == 512);
}

TEST_CASE("the root name is read as the empty name") {
  auto m = with_name(header(0x0100, 1), {0});
  Query q;
  REQUIRE(parse_query(m.data(), m.size(), q) == ParseStatus::Ok);
  CHECK(q.name_len == 0);
  CHECK(q.qname_wire_len == 1);
}

TEST_CASE("malformed and unsupported queries get the right status") {
  struct Case {
    const char* what;
    std::vector<uint8_t> msg;
    ParseStatus expected;
  };
  auto opt_v1 = with_name(header(0x0100, 1, 1), labels(1, 1));
  append(opt_v1, {0, 0, 41, 0x10, 0, 0, 1, 0, 0, 0, 0});
  auto two_opts = with_name(header(0x0100, 1, 2), labels(1, 1));
  append(two_opts, {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0});
  append(two_opts, {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0});
  auto truncated_opt = with_name(header(0x0100, 1, 1), labels(1, 1));
  append(truncated_opt, {0, 0, 41, 0x10});
  // RDLEN 6: one option (code 10, COOKIE) that claims 8 bytes but has 2.
  auto long_option = with_name(header(0x0100, 1, 1), labels(1, 1));
  append(long_option, {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 6, 0, 10, 0, 8, 0xaa, 0xbb});
  // RDLEN 2: an option header cut after its code.
  auto cut_option = with_name(header(0x0100, 1, 1), labels(1, 1));
  append(cut_option, {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 2, 0, 10});
  std::vector<Case> cases = {
      {"empty", {}, ParseStatus::Drop},
      {"shorter than a header", {1, 2, 3, 4, 5}, ParseStatus::Drop},
      {"a response (QR set)", with_name(header(0x8100, 1), labels(1, 1)), ParseStatus::Drop},
      {"no question", header(0x0100, 0), ParseStatus::FormErr},
      {"two questions", with_name(with_name(header(0x0100, 2), labels(1, 1)), labels(1, 1)), ParseStatus::FormErr},
      {"compression pointer (loop) in the question", with_name(header(0x0100, 1), {0xc0, 0x0c}), ParseStatus::FormErr},
      {"label of 64 octets", with_name(header(0x0100, 1), labels(1, 64)), ParseStatus::FormErr},
      {"name over 255 octets", with_name(header(0x0100, 1), labels(5, 63)), ParseStatus::FormErr},
      {"name cut short", [] { auto h = header(0x0100, 1); append(h, {5, 'a', 'b'}); return h; }(), ParseStatus::FormErr},
      {"question without type and class", [] { auto h = header(0x0100, 1); append(h, {1, 'a', 0, 0}); return h; }(), ParseStatus::FormErr},
      {"opcode UPDATE", with_name(header(0x2800, 1), labels(1, 1)), ParseStatus::NotImp},
      {"unknown opcode 3", with_name(header(0x1800, 1), labels(1, 1)), ParseStatus::NotImp},
      {"EDNS version 1", opt_v1, ParseStatus::BadVers},
      {"two OPT records", two_opts, ParseStatus::FormErr},
      {"OPT cut short", truncated_opt, ParseStatus::FormErr},
      {"OPT option longer than its RDLEN", long_option, ParseStatus::FormErr},
      {"OPT option header cut short", cut_option, ParseStatus::FormErr},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    Query q;
    CHECK(parse_query(c.msg.data(), c.msg.size(), q) == c.expected);
  }
}

TEST_CASE("a name of exactly 255 octets is accepted") {
  // 3 labels of 63 + one of 61: 3*64 + 62 + 1 = 255.
  std::vector<uint8_t> name = labels(3, 63);
  name.pop_back();
  name.push_back(61);
  name.insert(name.end(), 61, 'b');
  name.push_back(0);
  REQUIRE(name.size() == 255);
  auto m = with_name(header(0x0100, 1), name);
  Query q;
  CHECK(parse_query(m.data(), m.size(), q) == ParseStatus::Ok);
}

TEST_CASE("an unknown opcode still echoes a readable question") {
  auto m = with_name(header(0x1800, 1), labels(1, 3));
  Query q;
  REQUIRE(parse_query(m.data(), m.size(), q) == ParseStatus::NotImp);
  CHECK(q.question_end == m.size());
}

TEST_CASE("OPT options that fill RDLEN exactly are accepted") {
  auto m = with_name(header(0x0100, 1, 1), labels(1, 1));
  // Two options: COOKIE with 8 bytes, then padding with none.
  append(m, {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 16, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 12, 0, 0});
  Query q;
  CHECK(parse_query(m.data(), m.size(), q) == ParseStatus::Ok);
  CHECK(q.has_edns);
}

TEST_CASE("an EDNS Client Subnet option is read; a malformed one is ignored") {
  auto base = with_name(header(0x0100, 1, 1), labels(1, 1));
  SECTION("IPv4 /24") {
    auto m = base;
    append(m, {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100});
    Query q;
    REQUIRE(parse_query(m.data(), m.size(), q) == ParseStatus::Ok);
    CHECK(q.ecs.family == 1);
    CHECK(q.ecs.source == 24);
    CHECK(q.ecs.addr[0] == 198);
    CHECK(q.ecs.addr[2] == 100);
  }
  SECTION("address bytes that do not match the prefix length") {
    auto m = base;
    append(m, {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 12, 0, 8, 0, 8, 0, 1, 24, 0, 198, 51, 100, 7});
    Query q;
    REQUIRE(parse_query(m.data(), m.size(), q) == ParseStatus::Ok);
    CHECK(q.ecs.family == 0);
  }
  SECTION("a prefix longer than the family allows") {
    auto m = base;
    append(m, {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 9, 0, 8, 0, 5, 0, 1, 33, 0, 1});
    Query q;
    REQUIRE(parse_query(m.data(), m.size(), q) == ParseStatus::Ok);
    CHECK(q.ecs.family == 0);
  }
}

// Malformed input over UDP and TCP: FORMERR / NOTIMP where an answer is
// possible, silence where not (QR set, too short), and the server keeps serving.
#include <catch2/catch.hpp>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

enum class Want { NoAnswer, Formerr, Notimp, FormerrOrNoAnswer };

const char* describe(Want w) {
  switch (w) {
    case Want::NoAnswer: return "no answer";
    case Want::Formerr: return "FORMERR";
    case Want::Notimp: return "NOTIMP";
    case Want::FormerrOrNoAnswer: return "FORMERR or no answer";
  }
  return "?";
}

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

Bytes header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an = 0, uint16_t ns = 0, uint16_t ar = 0) {
  Bytes b;
  for (uint16_t v : {id, flags, qd, an, ns, ar}) put16(b, v);
  return b;
}

Bytes& append(Bytes& b, const Bytes& more) {
  b.insert(b.end(), more.begin(), more.end());
  return b;
}

Bytes question(const Bytes& name_wire, uint16_t type = rr::A) {
  Bytes q = name_wire;
  put16(q, type);
  put16(q, 1);
  return q;
}

Bytes label_run(std::initializer_list<int> lens, const std::string& tail = "test") {
  Bytes n;
  char c = 'a';
  for (int len : lens) {
    n.push_back(static_cast<uint8_t>(len));
    n.insert(n.end(), static_cast<size_t>(len), static_cast<uint8_t>(c++));
  }
  if (!tail.empty()) {
    n.push_back(static_cast<uint8_t>(tail.size()));
    n.insert(n.end(), tail.begin(), tail.end());
  }
  n.push_back(0);
  return n;
}

Bytes opt_rr(uint16_t udp = 1232) {
  Bytes b{0};
  put16(b, rr::OPT);
  put16(b, udp);
  put16(b, 0);
  put16(b, 0);
  put16(b, 0);
  return b;
}

struct Case {
  std::string name;
  Bytes packet;
  Want want;
  uint8_t opcode = 0;  // expected to be echoed in FORMERR/NOTIMP answers
};

std::vector<Case> cases() {
  const Bytes www = encode_name("www.test.");
  std::vector<Case> v;
  v.push_back({"empty datagram", {}, Want::NoAnswer});
  v.push_back({"5 bytes", {0xAB, 0xCD, 0x01, 0x00, 0x00}, Want::FormerrOrNoAnswer});
  {
    Bytes h = header(0xAB01, 0x0100, 1);
    h.pop_back();
    v.push_back({"11 bytes (header minus one)", h, Want::FormerrOrNoAnswer});
  }
  v.push_back({"header only, QDCOUNT=0", header(0xAB02, 0x0100, 0), Want::Formerr});
  v.push_back({"header only, QDCOUNT=1 but no question", header(0xAB03, 0x0100, 1), Want::Formerr});
  {
    Bytes p = header(0xAB04, 0x0100, 2);
    append(p, question(www, rr::A));
    append(p, question(www, rr::AAAA));
    v.push_back({"QDCOUNT=2", p, Want::Formerr});
  }
  {
    Bytes p = header(0xAB05, 0x0100, 1);
    append(p, Bytes(www.begin(), www.begin() + 6));  // name cut in the middle
    v.push_back({"question truncated inside the name", p, Want::Formerr});
  }
  {
    Bytes p = header(0xAB06, 0x0100, 1);
    append(p, www);
    put16(p, rr::A);  // no QCLASS
    v.push_back({"question without QCLASS", p, Want::Formerr});
  }
  {
    Bytes p = header(0xAB07, 0x8100, 1);  // QR=1: a response, not a query
    append(p, question(www));
    v.push_back({"QR bit set (valid question)", p, Want::NoAnswer});
  }
  {
    Bytes p = header(0xAB08, 0x8580, 1, 1);  // looks like a full answer
    append(p, question(www));
    append(p, Bytes{0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 1, 0x2C, 0, 4, 192, 0, 2, 1});
    v.push_back({"QR bit set (a complete answer message)", p, Want::NoAnswer});
  }
  {
    Bytes p = header(0xAB09, 0x0100, 1);
    append(p, question(Bytes{0xC0, 0x0C}));  // pointer to itself
    v.push_back({"compression pointer pointing to itself", p, Want::Formerr});
  }
  {
    Bytes p = header(0xAB0A, 0x0100, 1);
    append(p, question(Bytes{0x01, 'a', 0xC0, 0x0C}));  // "a" then back to "a" ...
    v.push_back({"compression loop (label, pointer back to it)", p, Want::Formerr});
  }
  {
    Bytes p = header(0xAB0B, 0x0100, 1);
    append(p, question(Bytes{0xC0, 0xFF}));
    v.push_back({"compression pointer past the end", p, Want::Formerr});
  }
  {
    Bytes p = header(0xAB0C, 0x0100, 1);
    append(p, question(label_run({64})));  // 0x40: not a valid label length
    v.push_back({"label of length 64", p, Want::Formerr});
  }
  {
    Bytes p = header(0xAB0D, 0x0100, 1);
    append(p, question(label_run({63, 63, 63, 63})));  // 4*64 + 5 + 1 = 262 octets
    v.push_back({"name longer than 255 octets", p, Want::Formerr});
  }
  {
    Bytes p = header(0xAB0F, 5 << 11, 1);  // UPDATE
    append(p, question(encode_name("test."), rr::SOA));
    v.push_back({"opcode 5 (UPDATE)", p, Want::Notimp, 5});
  }
  {
    Bytes p = header(0xAB10, 3 << 11 | 0x0100, 1);  // unassigned opcode 3
    append(p, question(www));
    v.push_back({"opcode 3 (unassigned)", p, Want::Notimp, 3});
  }
  {
    Bytes p = header(0xAB11, 2 << 11 | 0x0100, 1);  // STATUS
    append(p, question(www));
    v.push_back({"opcode 2 (STATUS)", p, Want::Notimp, 2});
  }
  {
    Bytes p = header(0xAB12, 15 << 11 | 0x0100, 1);
    append(p, question(www));
    v.push_back({"opcode 15 (unassigned)", p, Want::Notimp, 15});
  }
  {
    Bytes p = header(0xAB13, 0x0100, 1, 0, 0, 2);  // two OPT RRs: RFC 6891 6.1.1
    append(p, question(www));
    append(p, opt_rr());
    append(p, opt_rr());
    v.push_back({"two OPT records", p, Want::Formerr});
  }
  {
    Bytes p = header(0xAB14, 0x0100, 1, 0, 0, 1);  // ARCOUNT=1 but nothing there
    append(p, question(www));
    v.push_back({"ARCOUNT=1 with no additional record", p, Want::Formerr});
  }
  return v;
}

// Checks the server's reaction to one packet.
void check_case(const Endpoint& ep, const Case& c) {
  INFO("case: " << c.name << " -> expect " << describe(c.want) << "\nsent: " << hex(c.packet, 400));
  const ms wait = (c.want == Want::NoAnswer || c.want == Want::FormerrOrNoAnswer) ? 600ms : 2000ms;
  auto r = udp_send_raw(ep, c.packet, wait);
  INFO("got: " << (r ? hex(*r, 200) : std::string("nothing")));
  switch (c.want) {
    case Want::NoAnswer:
      CHECK_FALSE(r);
      break;
    case Want::FormerrOrNoAnswer:
      if (r) {
        REQUIRE(r->size() >= 12);
        CHECK(wire_id(*r) == wire_id(c.packet));
        CHECK(((*r)[2] & 0x80) != 0);  // QR
        CHECK(((*r)[3] & 0x0F) == rcode::FORMERR);
      }
      break;
    case Want::Formerr:
    case Want::Notimp: {
      REQUIRE(r);
      REQUIRE(r->size() >= 12);
      CHECK(wire_id(*r) == wire_id(c.packet));
      CHECK(((*r)[2] & 0x80) != 0);                     // QR
      CHECK((((*r)[2] >> 3) & 0x0F) == c.opcode);       // opcode echoed
      CHECK(((*r)[3] & 0x0F) == (c.want == Want::Formerr ? rcode::FORMERR : rcode::NOTIMP));
      // Whatever else the server puts in, the answer must not carry records.
      CHECK(((*r)[6] << 8 | (*r)[7]) == 0);  // ANCOUNT
      break;
    }
  }
}

void require_alive(const Endpoint& ep) {
  auto m = udp_query(ep, "www.test.", rr::A);
  REQUIRE(m.texts(rr::A) == std::vector<std::string>{zone::kWwwA});
}

}  // namespace

TEST_CASE("malformed UDP packets: FORMERR / NOTIMP / no answer, server keeps serving",
          "[integration][malformed]") {
  auto ep = shared_env().ep();
  for (auto& c : cases()) {
    check_case(ep, c);
    require_alive(ep);
  }
}

TEST_CASE("a 255-octet name (labels of 63) is valid, not FORMERR", "[integration][malformed]") {
  // 3*64 + 57 + 5 + 1 = 255 octets, under test. -> NXDOMAIN from the zone.
  Bytes p{0xAB, 0x20, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  Bytes name;
  char c = 'a';
  for (int len : {63, 63, 63, 56}) {
    name.push_back(static_cast<uint8_t>(len));
    name.insert(name.end(), static_cast<size_t>(len), static_cast<uint8_t>(c++));
  }
  for (uint8_t b : Bytes{4, 't', 'e', 's', 't', 0}) name.push_back(b);
  REQUIRE(name.size() == 255);
  p.insert(p.end(), name.begin(), name.end());
  p.insert(p.end(), {0, 1, 0, 1});
  auto r = udp_exchange(shared_env().ep(), p, 3000ms);
  REQUIRE(r);
  auto m = parse_message(*r);
  INFO(m.summary());
  CHECK(m.rcode() == rcode::NXDOMAIN);
  CHECK(m.qname.size() == 254);  // presentation form without the length octets
}

TEST_CASE("a flood of malformed packets does not stop the server", "[integration][malformed]") {
  auto ep = shared_env().ep();
  auto cs = cases();
  for (int round = 0; round < 20; ++round)
    for (auto& c : cs) udp_send_raw(ep, c.packet, 0ms);
  for (int i = 0; i < 5; ++i) require_alive(ep);
  auto m = tcp_query(ep, "test.", rr::MX);
  CHECK(m.texts(rr::MX) == std::vector<std::string>{"10 mail.test."});
}

TEST_CASE("malformed messages over TCP", "[integration][malformed][tcp]") {
  auto ep = shared_env().ep();
  {
    INFO("QDCOUNT=0 over TCP -> FORMERR on the connection");
    TcpClient c(ep);
    REQUIRE(c.connected());
    REQUIRE(c.send_framed(header(0xCC01, 0x0100, 0)));
    auto r = c.read_framed(3000ms);
    INFO(c.error());
    REQUIRE(r);
    REQUIRE(r->size() >= 12);
    CHECK(wire_id(*r) == 0xCC01);
    CHECK(((*r)[2] & 0x80) != 0);
    CHECK(((*r)[3] & 0x0F) == rcode::FORMERR);
  }
  {
    INFO("compression loop over TCP -> FORMERR");
    TcpClient c(ep);
    REQUIRE(c.connected());
    Bytes p = header(0xCC02, 0x0100, 1);
    append(p, question(Bytes{0xC0, 0x0C}));
    REQUIRE(c.send_framed(p));
    auto r = c.read_framed(3000ms);
    INFO(c.error());
    REQUIRE(r);
    REQUIRE(r->size() >= 12);
    CHECK(wire_id(*r) == 0xCC02);
    CHECK(((*r)[3] & 0x0F) == rcode::FORMERR);
  }
  {
    INFO("unknown opcode over TCP -> NOTIMP");
    TcpClient c(ep);
    REQUIRE(c.connected());
    Bytes p = header(0xCC03, 3 << 11, 1);
    append(p, question(encode_name("www.test.")));
    REQUIRE(c.send_framed(p));
    auto r = c.read_framed(3000ms);
    INFO(c.error());
    REQUIRE(r);
    REQUIRE(r->size() >= 12);
    CHECK(wire_id(*r) == 0xCC03);
    CHECK(((*r)[3] & 0x0F) == rcode::NOTIMP);
  }
  {
    INFO("zero-length frame, a frame cut short, and garbage: server survives");
    {
      TcpClient c(ep);
      REQUIRE(c.connected());
      c.send_all(Bytes{0, 0});
      c.wait_closed(300ms);
    }
    {
      TcpClient c(ep);
      REQUIRE(c.connected());
      c.send_all(Bytes{0x01, 0x00, 0xAB, 0xCD});  // announces 256 bytes, sends 2, then closes
    }
    {
      TcpClient c(ep);
      REQUIRE(c.connected());
      Bytes junk(300);
      for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 37 + 11);
      c.send_all(junk);
      c.wait_closed(300ms);
    }
    require_alive(ep);
    auto m = tcp_query(ep, "www.test.", rr::A);
    CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kWwwA});
  }
}

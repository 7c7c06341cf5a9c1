// The retry rules, table-driven: for each reply (or failure) on each
// transport and attempt, what comes next.
#include <catch2/catch.hpp>

#include "base/address.hpp"
#include "dns/wire.hpp"
#include "upstream/attempt.hpp"

using namespace hush::upstream;
using hush::parse_address;
namespace dns = hush::dns;

namespace {
Selector selector_of(size_t n) {
  std::vector<Server> servers;
  for (size_t i = 0; i < n; ++i) {
    Server s;
    std::string error;
    std::string text = "192.0.2." + std::to_string(i + 1);
    REQUIRE(parse_address(text, 53, s.addr, error));
    s.text = text;
    servers.push_back(s);
  }
  return Selector(std::move(servers));
}

Pending pending(size_t servers, size_t attempt, Transport t) {
  Pending p;
  for (size_t i = 0; i < servers; ++i) p.order.push_back(uint8_t(i));
  p.attempt = attempt;
  p.transport = t;
  return p;
}

uint16_t flags(uint8_t rcode, bool tc = false) {
  return uint16_t(dns::flag::QR | (tc ? dns::flag::TC : 0) | rcode);
}
}  // namespace

TEST_CASE("each reply leads to one next step") {
  struct Row {
    const char* what;
    size_t servers, attempt;
    Transport transport;
    ReplyCheck check;
    uint16_t flags;
    Step step;
    Transport retry_over;
  };
  const Row rows[] = {
      {"a good answer is served", 2, 0, Transport::Udp, ReplyCheck::Ok, flags(dns::rcode::NoError), Step::Deliver, Transport::Udp},
      {"NXDOMAIN is an answer, not a failure", 2, 0, Transport::Udp, ReplyCheck::Ok, flags(dns::rcode::NxDomain), Step::Deliver, Transport::Udp},
      {"a spoofed UDP reply is ignored", 2, 0, Transport::Udp, ReplyCheck::WrongId, 0, Step::Wait, Transport::Udp},
      {"a malformed UDP reply is ignored", 2, 0, Transport::Udp, ReplyCheck::Malformed, 0, Step::Wait, Transport::Udp},
      {"a bad TCP reply fails the attempt", 2, 0, Transport::Tcp, ReplyCheck::WrongQuestion, 0, Step::Fail, Transport::Udp},
      {"TC over UDP asks again over TCP", 2, 0, Transport::Udp, ReplyCheck::Ok, flags(dns::rcode::NoError, true), Step::Retry, Transport::Tcp},
      {"TC on the last UDP attempt still goes to TCP", 2, 1, Transport::Udp, ReplyCheck::Ok, flags(dns::rcode::NoError, true), Step::Retry, Transport::Tcp},
      {"TC over TCP is served as it is", 2, 0, Transport::Tcp, ReplyCheck::Ok, flags(dns::rcode::NoError, true), Step::Deliver, Transport::Udp},
      {"SERVFAIL with a server left fails the attempt", 2, 0, Transport::Udp, ReplyCheck::Ok, flags(dns::rcode::ServFail), Step::Fail, Transport::Udp},
      {"REFUSED with a server left fails the attempt", 3, 1, Transport::Udp, ReplyCheck::Ok, flags(dns::rcode::Refused), Step::Fail, Transport::Udp},
      {"NOTIMP over TCP with a server left fails the attempt", 2, 0, Transport::Tcp, ReplyCheck::Ok, flags(dns::rcode::NotImp), Step::Fail, Transport::Udp},
      {"FORMERR with a server left fails the attempt", 2, 0, Transport::Udp, ReplyCheck::Ok, flags(dns::rcode::FormErr), Step::Fail, Transport::Udp},
      {"SERVFAIL from the last attempt goes to the client", 2, 1, Transport::Udp, ReplyCheck::Ok, flags(dns::rcode::ServFail), Step::Deliver, Transport::Udp},
      {"one server is asked twice before its SERVFAIL is served", 1, 0, Transport::Udp, ReplyCheck::Ok, flags(dns::rcode::ServFail), Step::Fail, Transport::Udp},
      {"one server's second SERVFAIL is served", 1, 1, Transport::Udp, ReplyCheck::Ok, flags(dns::rcode::ServFail), Step::Deliver, Transport::Udp},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    Pending p = pending(r.servers, r.attempt, r.transport);
    Next n = judge_reply(p, r.check, r.flags);
    CHECK(n.step == r.step);
    if (n.step == Step::Retry) CHECK(n.transport == r.retry_over);
    if (n.step == Step::Fail) CHECK(n.why != nullptr);
    CHECK(p.attempt == r.attempt);  // judging books nothing
  }
}

TEST_CASE("failed attempts move through the servers over UDP, then give up") {
  Selector s = selector_of(3);
  Pending p = pending(3, 0, Transport::Tcp);
  Next n = next_attempt(p, s, 1000);
  CHECK(n.step == Step::Retry);
  CHECK(n.transport == Transport::Udp);
  CHECK(p.server() == 1);
  CHECK(next_attempt(p, s, 1000).step == Step::Retry);
  CHECK(p.server() == 2);
  CHECK(next_attempt(p, s, 1000).step == Step::GiveUp);

  // Every failed server is backed off: a new query tries them last.
  std::vector<uint8_t> order;
  s.order(1500, order);
  CHECK(order == std::vector<uint8_t>{0, 1, 2});  // all down: kept in RTT order
  CHECK(answered(pending(3, 0, Transport::Udp), s, 0) == 0);
  s.order(1500, order);
  CHECK(order.front() == 0);  // the answering server is up again
}

TEST_CASE("the next server is asked over its own transport") {
  std::vector<Server> servers(3);
  servers[1].transport = Transport::Tls;
  servers[2].transport = Transport::Tcp;
  Selector s(servers);
  Pending p = pending(3, 0, Transport::Udp);
  Next n = next_attempt(p, s, 0);
  CHECK(n.step == Step::Retry);
  CHECK(n.transport == Transport::Tls);
  n = next_attempt(p, s, 0);
  CHECK(n.transport == Transport::Tcp);
}

TEST_CASE("a lone upstream gets a second attempt") {
  Selector s = selector_of(1);
  Pending p = pending(1, 0, Transport::Udp);
  CHECK(next_attempt(p, s, 0).step == Step::Retry);
  CHECK(p.server() == 0);
  CHECK(next_attempt(p, s, 0).step == Step::GiveUp);
}

TEST_CASE("answered() books the round trip of the current attempt") {
  Selector s = selector_of(2);
  Pending slow = pending(2, 0, Transport::Udp);
  slow.sent_ms = 100;
  CHECK(answered(slow, s, 180) == 80);
  Pending fast = pending(2, 1, Transport::Udp);
  fast.sent_ms = 100;
  CHECK(answered(fast, s, 110) == 10);
  std::vector<uint8_t> order;
  s.order(200, order);
  CHECK(order == std::vector<uint8_t>{1, 0});
}

TEST_CASE("every transport has a name for the logs") {
  CHECK(std::string(to_string(Transport::Udp)) == "UDP");
  CHECK(std::string(to_string(Transport::Tcp)) == "TCP");
  CHECK(std::string(to_string(Transport::Tls)) == "TLS");
  CHECK(std::string(to_string(Transport::Https)) == "HTTPS");
}

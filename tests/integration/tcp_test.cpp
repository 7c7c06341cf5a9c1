// DNS over TCP (RFC 7766): pipelining, messages split across segments,
// concurrent connections, idle timeout.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <memory>
#include <thread>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

struct Expect {
  std::string name;
  uint16_t type;
  std::vector<std::string> texts;  // answer rdata of `type`
};

void check_answer(const Message& m, const Expect& e) {
  INFO(m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK(lower(m.qname) == lower(e.name));
  CHECK(m.qtype == e.type);
  auto t = m.texts(e.type);
  std::sort(t.begin(), t.end());
  auto want = e.texts;
  std::sort(want.begin(), want.end());
  CHECK(t == want);
}

}  // namespace

TEST_CASE("TCP pipelining: 5 queries in one write, all answered on the connection", "[integration][tcp]") {
  auto ep = shared_env().ep();
  std::vector<std::string> big;
  for (int i = 0; i < zone::kBigCount; ++i) big.push_back("\"" + zone::big_txt(i) + "\"");
  const std::vector<Expect> qs{
      {"www.test.", rr::A, {zone::kWwwA}},
      {"www.test.", rr::AAAA, {zone::kWwwAAAA}},
      {"test.", rr::MX, {"10 mail.test."}},
      {"pipe1.wild.test.", rr::A, {zone::kWildA}},
      {"big.test.", rr::TXT, big},
  };
  TcpClient c(ep);
  REQUIRE(c.connected());
  std::map<uint16_t, size_t> by_id;
  Bytes batch;
  for (size_t i = 0; i < qs.size(); ++i) {
    QueryOpts o;
    o.id = static_cast<uint16_t>(0x5000 + i * 7);
    auto f = frame(make_query(qs[i].name, qs[i].type, o));
    batch.insert(batch.end(), f.begin(), f.end());
    by_id[*o.id] = i;
  }
  REQUIRE(c.send_all(batch));  // one write() with all five messages
  std::set<uint16_t> seen;
  for (size_t n = 0; n < qs.size(); ++n) {
    auto r = c.read_framed(5000ms);
    INFO("answer #" << n << ": " << c.error());
    REQUIRE(r);
    auto m = parse_message(*r);
    INFO(m.summary());
    REQUIRE(by_id.count(m.id));
    CHECK(seen.insert(m.id).second);  // no duplicates
    check_answer(m, qs[by_id[m.id]]);
  }
  CHECK(seen.size() == qs.size());
  // The connection is still usable afterwards.
  REQUIRE(c.send_framed(make_query("www.test.", rr::A, {.id = 0x7777})));
  auto r = c.read_framed(3000ms);
  REQUIRE(r);
  CHECK(parse_message(*r).id == 0x7777);
}

TEST_CASE("TCP: a query split across two writes (partial reads) is answered", "[integration][tcp]") {
  auto ep = shared_env().ep();
  const auto q = frame(make_query("split.wild.test.", rr::A, {.id = 0x0A0B}));
  // Split points: inside the length prefix, right after it, in the header,
  // inside the question name.
  for (size_t cut : {size_t{1}, size_t{2}, size_t{7}, size_t{20}}) {
    INFO("cut after " << cut << " bytes");
    TcpClient c(ep);
    REQUIRE(c.connected());
    REQUIRE(c.send_all(Bytes(q.begin(), q.begin() + static_cast<long>(cut))));
    std::this_thread::sleep_for(150ms);
    REQUIRE(c.send_all(Bytes(q.begin() + static_cast<long>(cut), q.end())));
    auto r = c.read_framed(3000ms);
    INFO(c.error());
    REQUIRE(r);
    auto m = parse_message(*r);
    INFO(m.summary());
    CHECK(m.id == 0x0A0B);
    CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kWildA});
  }
  // One whole query plus half of a second one, then the rest.
  TcpClient c(ep);
  REQUIRE(c.connected());
  auto q1 = frame(make_query("www.test.", rr::A, {.id = 0x1111}));
  auto q2 = frame(make_query("test.", rr::MX, {.id = 0x2222}));
  Bytes first = q1;
  first.insert(first.end(), q2.begin(), q2.begin() + 9);
  REQUIRE(c.send_all(first));
  std::this_thread::sleep_for(150ms);
  REQUIRE(c.send_all(Bytes(q2.begin() + 9, q2.end())));
  std::set<uint16_t> ids;
  for (int i = 0; i < 2; ++i) {
    auto r = c.read_framed(3000ms);
    INFO(c.error());
    REQUIRE(r);
    ids.insert(parse_message(*r).id);
  }
  CHECK(ids == std::set<uint16_t>{0x1111, 0x2222});
}

TEST_CASE("TCP: 20 concurrent connections each get their answer", "[integration][tcp]") {
  auto ep = shared_env().ep();
  std::vector<std::unique_ptr<TcpClient>> conns;
  for (int i = 0; i < 20; ++i) {
    conns.push_back(std::make_unique<TcpClient>(ep));
    REQUIRE(conns.back()->connected());
  }
  for (int i = 0; i < 20; ++i) {
    QueryOpts o;
    o.id = static_cast<uint16_t>(100 + i);
    REQUIRE(conns[i]->send_framed(make_query("conc" + std::to_string(i) + ".wild.test.", rr::A, o)));
  }
  for (int i = 0; i < 20; ++i) {
    auto r = conns[i]->read_framed(5000ms);
    INFO("connection " << i << ": " << conns[i]->error());
    REQUIRE(r);
    auto m = parse_message(*r);
    CHECK(m.id == 100 + i);
    CHECK(m.qname == "conc" + std::to_string(i) + ".wild.test.");
    CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kWildA});
  }
}

TEST_CASE("TCP idle timeout (idle_timeout_ms = 500) closes idle connections", "[integration][tcp]") {
  HushOptions o;
  o.tcp_idle_timeout_ms = 500;
  Env env(o);
  auto ep = env.ep();

  {
    INFO("connection that never sends anything");
    TcpClient c(ep);
    REQUIRE(c.connected());
    auto t0 = Clock::now();
    CHECK(c.wait_closed(4000ms));
    auto took = std::chrono::duration_cast<ms>(Clock::now() - t0);
    INFO("closed after " << took.count() << " ms");
    CHECK(took >= 300ms);
    CHECK(took <= 3000ms);
  }
  {
    INFO("connection idle after one answered query");
    TcpClient c(ep);
    REQUIRE(c.connected());
    REQUIRE(c.send_framed(make_query("www.test.", rr::A, {.id = 42})));
    auto r = c.read_framed(3000ms);
    REQUIRE(r);
    CHECK(parse_message(*r).id == 42);
    auto t0 = Clock::now();
    CHECK(c.wait_closed(4000ms));
    auto took = std::chrono::duration_cast<ms>(Clock::now() - t0);
    INFO("closed after " << took.count() << " ms");
    CHECK(took >= 300ms);
    CHECK(took <= 3000ms);
  }
  {
    INFO("a connection that is kept busy (a query every 250 ms) stays open past the idle timeout");
    TcpClient c(ep);
    REQUIRE(c.connected());
    for (int i = 0; i < 5; ++i) {  // ~1.25 s in total, > 2 x idle timeout
      QueryOpts q;
      q.id = static_cast<uint16_t>(900 + i);
      REQUIRE(c.send_framed(make_query("www.test.", rr::A, q)));
      auto r = c.read_framed(2000ms);
      INFO("query " << i << ": " << c.error());
      REQUIRE(r);
      CHECK(parse_message(*r).id == 900 + i);
      std::this_thread::sleep_for(250ms);
    }
  }
  // The server still accepts new connections afterwards.
  auto m = tcp_query(ep, "www.test.", rr::A);
  CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kWwwA});
}

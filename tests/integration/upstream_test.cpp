// Forwarding: upstream failure (SERVFAIL + EDE), recovery, failover, TC ->
// TCP retry, spoof resistance (address/ID/question), in-flight coalescing,
// randomised IDs/ports, TCP answers sent as they become ready.
#include <algorithm>
#include <catch2/catch.hpp>
#include <future>
#include <set>
#include <thread>

#include "dns_client.hpp"
#include "fake_upstream.hpp"
#include "harness.hpp"

using namespace hush_it;

TEST_CASE("upstream down: SERVFAIL with an EDE option in bounded time, then recovery",
          "[integration][upstream]") {
  HushOptions o;
  o.upstream_timeout_ms = 500;
  Env env(o);
  auto ep = env.ep();
  // Sanity: it works while unbound is up.
  REQUIRE(udp_query(ep, "before.wild.test.", rr::A).texts(rr::A) == std::vector<std::string>{zone::kWildA});

  env.unbound.stop();
  REQUIRE_FALSE(env.unbound.running());

  {
    QueryOpts q;
    q.edns = true;
    q.udp_size = 1232;
    auto t0 = Clock::now();
    auto m = udp_query(ep, "down1.wild.test.", rr::A, q, 10000ms);
    auto took = elapsed_since(t0);
    INFO("UDP+EDNS: " << m.summary() << " after " << took.count() << " ms");
    CHECK(took <= 6000ms);
    CHECK(m.rcode() == rcode::SERVFAIL);
    CHECK(m.qname == "down1.wild.test.");
    CHECK(m.answer.empty());
    REQUIRE(m.opt);
    const Bytes* ede = m.opt->option(kEdnsOptionEde);
    REQUIRE(ede);
    REQUIRE(ede->size() >= 2);  // INFO-CODE (2 bytes) + optional UTF-8 text
    const int info_code = (*ede)[0] << 8 | (*ede)[1];
    UNSCOPED_INFO("EDE info-code " << info_code << " text '" << std::string(ede->begin() + 2, ede->end()) << "'");
  }
  {
    // Over TCP, without EDNS: SERVFAIL too (and no OPT, since the query had none).
    auto t0 = Clock::now();
    auto m = tcp_query(ep, "down2.wild.test.", rr::A, {}, 10000ms);
    INFO("TCP: " << m.summary() << " after " << elapsed_since(t0).count() << " ms");
    CHECK(elapsed_since(t0) <= 6000ms);
    CHECK(m.rcode() == rcode::SERVFAIL);
    CHECK_FALSE(m.opt);
  }
  {
    auto d = dig(ep, {"down3.wild.test.", "A", "+time=8", "+noall", "+comments"});
    INFO(d.out << d.err);
    CHECK(d.out.find("status: SERVFAIL") != std::string::npos);
    CHECK(d.out.find("EDE") != std::string::npos);
  }

  env.unbound.start();
  REQUIRE(env.unbound.running());
  auto m = udp_query(ep, "recovered.wild.test.", rr::A, {}, 5000ms);
  INFO("after restart: " << m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kWildA});
}

TEST_CASE("failover: first upstream is a closed port, answers still come", "[integration][upstream]") {
  HushOptions o;
  o.upstreams = {Endpoint{"127.0.0.1", pick_free_port()}, kUnboundUpstream};
  o.upstream_timeout_ms = 400;
  Env env(o);
  for (int i = 0; i < 5; ++i) {
    const std::string name = "fo-closed" + std::to_string(i) + ".wild.test.";
    auto t0 = Clock::now();
    auto m = udp_query(env.ep(), name, rr::A, {}, 5000ms);
    INFO(name << ": " << m.summary() << " after " << elapsed_since(t0).count() << " ms");
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kWildA});
    CHECK(elapsed_since(t0) <= 3000ms);
  }
}

TEST_CASE("failover: first upstream never answers (timeout -> next upstream)", "[integration][upstream]") {
  FakeUpstream blackhole([](const UpstreamQuery&) { return std::vector<Reply>{}; });
  HushOptions o;
  o.upstreams = {blackhole.endpoint(), kUnboundUpstream};
  o.upstream_timeout_ms = 400;
  o.probe_with_query = false;
  Env env(o);
  for (int i = 0; i < 5; ++i) {
    const std::string name = "fo-silent" + std::to_string(i) + ".wild.test.";
    auto t0 = Clock::now();
    auto m = udp_query(env.ep(), name, rr::A, {}, 5000ms);
    INFO(name << ": " << m.summary() << " after " << elapsed_since(t0).count()
              << " ms; blackhole saw " << blackhole.queries().size() << " queries");
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kWildA});
    CHECK(elapsed_since(t0) <= 3000ms);
  }
}

TEST_CASE("TC from upstream: hush retries the question over TCP", "[integration][upstream]") {
  // Over UDP the upstream only ever says "truncated"; the answer is on TCP.
  FakeUpstream up([](const UpstreamQuery& q) {
    if (!q.tcp) {
      Bytes tc = make_response(q.wire, rcode::NOERROR);
      tc[2] |= 0x02;  // TC
      return std::vector<Reply>{{tc}};
    }
    return answer_a(q, "192.0.2.66");
  });
  FakeEnv env({up.endpoint()});
  for (bool edns : {false, true}) {
    const std::string name = edns ? "tc-edns.example." : "tc-plain.example.";
    QueryOpts o;
    o.edns = edns;
    auto m = udp_query(env.hush.v4(), name, rr::A, o, 5000ms);
    INFO(name << ": " << m.summary());
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK_FALSE(m.tc);
    CHECK(m.texts(rr::A) == std::vector<std::string>{"192.0.2.66"});
    std::string seen;
    int udp = 0, tcp = 0;
    for (auto& q : up.queries()) {
      if (lower(q.qname) != name) continue;
      seen += q.tcp ? " tcp" : " udp";
      (q.tcp ? tcp : udp)++;
    }
    INFO("upstream saw:" << seen);
    CHECK(udp >= 1);
    CHECK(tcp == 1);
    CHECK(seen.rfind(" udp", 0) == 0);  // UDP first, then the TCP retry
  }
}

TEST_CASE("answers are only accepted from the right address, ID and question", "[integration][upstream]") {
  FakeUpstream up([](const UpstreamQuery& q) {
    const auto evil = std::vector<Answer>{{rr::A, 300, a_rdata("6.6.6.6")}};
    std::vector<Reply> r;
    // 1. wrong ID
    r.push_back({make_response_for(q.id ^ 0x5A5A, q.qname, q.qtype, 0, evil), 0ms});
    // 2. right ID, different name
    r.push_back({make_response_for(q.id, "evil.example.", q.qtype, 0, evil), 10ms});
    // 3. right ID and name, different type
    r.push_back({make_response_for(q.id, q.qname, rr::MX, 0, evil), 20ms});
    // 4. exact copy of a correct answer, but from another source port
    r.push_back({make_response(q.wire, 0, evil), 30ms, true});
    // 5. the genuine answer, last
    r.push_back({make_response(q.wire, 0, {{rr::A, 300, a_rdata("192.0.2.77")}}), 250ms});
    return r;
  });
  FakeEnv env({up.endpoint()});
  for (int i = 0; i < 3; ++i) {
    const std::string name = "spoof" + std::to_string(i) + ".example.";
    auto m = udp_query(env.hush.v4(), name, rr::A, {}, 4000ms);
    INFO(name << ": " << m.summary());
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK(m.qname == name);
    CHECK(m.texts(rr::A) == std::vector<std::string>{"192.0.2.77"});
  }
  CHECK(up.queries().size() >= 3);
}

TEST_CASE("identical in-flight questions are sent upstream once", "[integration][upstream]") {
  FakeUpstream up([](const UpstreamQuery& q) { return answer_a(q, "192.0.2.88", 700ms); });
  FakeEnv env({up.endpoint()});
  const auto ep = env.hush.v4();
  std::vector<std::future<Message>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::async(std::launch::async, [ep, i] {
      QueryOpts o;
      o.id = static_cast<uint16_t>(0x3000 + i);
      return i == 4 ? tcp_query(ep, "same.example.", rr::A, o, 5000ms)
                    : udp_query(ep, "same.example.", rr::A, o, 5000ms);
    }));
  }
  for (int i = 0; i < 5; ++i) {
    auto m = clients[i].get();
    INFO("client " << i << ": " << m.summary());
    CHECK(m.id == 0x3000 + i);
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK(m.texts(rr::A) == std::vector<std::string>{"192.0.2.88"});
  }
  CHECK(up.count("same.example.") == 1);
}

TEST_CASE("upstream queries use random IDs and source ports", "[integration][upstream]") {
  FakeUpstream up([](const UpstreamQuery& q) { return answer_a(q, "192.0.2.10"); });
  FakeEnv env({up.endpoint()});
  for (int i = 0; i < 12; ++i) {
    auto m = udp_query(env.hush.v4(), "rnd" + std::to_string(i) + ".example.", rr::A, {}, 3000ms);
    REQUIRE(m.texts(rr::A) == std::vector<std::string>{"192.0.2.10"});
  }
  auto qs = up.queries();
  REQUIRE(qs.size() >= 12);
  std::set<uint16_t> ids, ports;
  int sequential = 0;
  std::string seen;
  for (size_t i = 0; i < qs.size(); ++i) {
    ids.insert(qs[i].id);
    ports.insert(qs[i].src_port);
    if (i && static_cast<uint16_t>(qs[i].id - qs[i - 1].id) <= 2) ++sequential;
    seen += " " + std::to_string(qs[i].id) + "@" + std::to_string(qs[i].src_port);
  }
  INFO("id@port:" << seen);
  CHECK(ids.size() >= qs.size() - 1);  // 16-bit random: a collision in 12 is ~0.1 %
  CHECK(sequential <= 1);
  CHECK(ports.size() >= 2);
}

TEST_CASE("TCP: answers are sent as they become ready (out of order)", "[integration][upstream][tcp]") {
  FakeUpstream up([](const UpstreamQuery& q) {
    return answer_a(q, "192.0.2.5", lower(q.qname) == "slow.example." ? 900ms : 0ms);
  });
  FakeEnv env({up.endpoint()});
  TcpClient c(env.hush.v4());
  REQUIRE(c.connected());
  auto slow = frame(make_query("slow.example.", rr::A, {.id = 1}));
  auto fast = frame(make_query("fast.example.", rr::A, {.id = 2}));
  Bytes both = slow;
  both.insert(both.end(), fast.begin(), fast.end());
  auto t0 = Clock::now();
  REQUIRE(c.send_all(both));
  auto r1 = c.read_framed(3000ms);
  REQUIRE(r1);
  auto first_at = elapsed_since(t0);
  auto r2 = c.read_framed(3000ms);
  REQUIRE(r2);
  auto m1 = parse_message(*r1), m2 = parse_message(*r2);
  INFO("first after " << first_at.count() << " ms: " << m1.summary() << "; second: " << m2.summary());
  CHECK(m1.id == 2);
  CHECK(m1.qname == "fast.example.");
  CHECK(first_at < 700ms);
  CHECK(m2.id == 1);
  CHECK(m2.qname == "slow.example.");
}

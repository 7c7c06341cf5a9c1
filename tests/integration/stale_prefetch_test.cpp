// Serve-stale (RFC 8767) against the real binary: an expired answer bridges
// an upstream that is gone, silent, or answering errors, with TTL 30 and
// EDE 3; once the upstream is back, answers are fresh again. Prefetch: a
// popular answer is refreshed before it expires, unseen by the query log.
#include <catch2/catch.hpp>

#include <atomic>

#include "dns_client.hpp"
#include "fake_upstream.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

constexpr uint32_t kShortTtl = 2;
constexpr int kStaleAfterMs = 400;
constexpr uint16_t kEdeStale = 3;

// A counter's value on /metrics, or -1 when it cannot be read.
long metric(uint16_t http_port, const std::string& name) {
  auto r = run_command({"curl", "-s", "http://127.0.0.1:" + std::to_string(http_port) + "/metrics"}, 5s);
  const std::string key = "\n" + name + " ";
  size_t at = r.out.find(key);
  return at == std::string::npos ? -1 : std::stol(r.out.substr(at + key.size()));
}


// Waits for the clock to reach `t` (time passing, not a listener: nothing to poll for).
void wait_for(Clock::time_point t) {
  while (Clock::now() < t) std::this_thread::sleep_for(20ms);
}

// Waits until an answer with `ttl` seconds, got at `got`, has expired.
void wait_past_ttl(Clock::time_point got, uint32_t ttl) { wait_for(got + std::chrono::seconds(ttl) + 200ms); }

void expect_stale(const Message& m, const std::string& addr) {
  INFO(m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  REQUIRE(m.texts(rr::A) == std::vector<std::string>{addr});
  CHECK(m.first(rr::A)->ttl == 30);
  CHECK(ede_of(m).code == kEdeStale);
}

// Asks until the answer is fresh (no EDE), as it is once the upstream
// answers again; bounded.
Message fresh_answer(const Endpoint& ep, const std::string& name) {
  Message m;
  wait_until([&] {
    m = udp_query(ep, name, rr::A, {.edns = true});
    return m.rcode() == rcode::NOERROR && !m.answer.empty() && !ede_of(m).present;
  }, 10s, 100ms);
  return m;
}

}  // namespace

TEST_CASE("serve-stale: unbound stopped, the expired answer is served with EDE 3; unbound back, fresh",
          "[integration][cache][stale]") {
  HushOptions o;
  o.unbound_config = "  local-zone: \"stale.example.\" static\n"
                     "  local-data: \"short.stale.example. " + std::to_string(kShortTtl) +
                     " IN A 192.0.2.60\"\n";
  o.extra_config = "[cache]\nstale_answer_after_ms = " + std::to_string(kStaleAfterMs) + "\n";
  Env env(o);
  const auto ep = env.ep();

  auto first = udp_query(ep, "short.stale.example.", rr::A, {.edns = true});
  const auto got = Clock::now();
  INFO("first: " << first.summary());
  REQUIRE(first.texts(rr::A) == std::vector<std::string>{"192.0.2.60"});
  CHECK(first.first(rr::A)->ttl <= kShortTtl);
  CHECK_FALSE(ede_of(first).present);

  env.unbound.stop();
  REQUIRE_FALSE(udp_exchange(env.unbound.endpoint(), make_query("www.test.", rr::A), 300ms));
  wait_past_ttl(got, kShortTtl);

  // The stopped upstream refuses at once (ICMP), so the stale answer need
  // not wait for the client response timer; allow it the timer and slack.
  for (int i = 0; i < 2; ++i) {
    const auto t0 = Clock::now();
    auto stale = udp_query(ep, "short.stale.example.", rr::A, {.edns = true});
    INFO("while unbound is stopped, query " << i << ", after " << elapsed_since(t0).count() << " ms\n" << env.logs());
    expect_stale(stale, "192.0.2.60");
    CHECK(elapsed_since(t0) < ms(kStaleAfterMs + 1000));
  }
  // A name never cached has nothing stale to give.
  auto never = udp_query(ep, "www.test.", rr::AAAA, {.edns = true});
  CHECK(never.rcode() == rcode::SERVFAIL);

  env.unbound.start();
  auto fresh = fresh_answer(ep, "short.stale.example.");
  INFO("after unbound is back: " << fresh.summary());
  REQUIRE(fresh.texts(rr::A) == std::vector<std::string>{"192.0.2.60"});
  CHECK(fresh.first(rr::A)->ttl <= kShortTtl);
  CHECK_FALSE(ede_of(fresh).present);
}

TEST_CASE("serve-stale: a silent upstream, REFUSED or SERVFAIL get the stale answer; a slow one its fresh answer",
          "[integration][cache][stale]") {
  enum Mode { Answer, Silent, Refused, ServFail, Slow };
  std::atomic<int> mode{Answer};
  FakeUpstream up([&](const UpstreamQuery& q) {
    switch (mode.load()) {
      case Answer: return std::vector<Reply>{{make_response(q.wire, rcode::NOERROR, {{rr::A, 1, a_rdata("192.0.2.61")}})}};
      case Slow:
        return std::vector<Reply>{
            {make_response(q.wire, rcode::NOERROR, {{rr::A, 1, a_rdata("192.0.2.61")}}), ms(kStaleAfterMs / 4)}};
      case Refused: return std::vector<Reply>{{make_response(q.wire, rcode::REFUSED)}};
      case ServFail: return std::vector<Reply>{{make_response(q.wire, rcode::SERVFAIL)}};
      default: return std::vector<Reply>{};
    }
  });
  TempDir dir;
  HushOptions o;
  o.upstreams = {up.endpoint()};
  o.probe_with_query = false;
  o.upstream_timeout_ms = 3000;  // far beyond the client response timer
  o.extra_config = "[cache]\nstale_answer_after_ms = " + std::to_string(kStaleAfterMs) + "\n";
  Hush hush(dir.path() / "hush", o);
  const auto ep = hush.v4();

  const std::vector<std::pair<Mode, std::string>> cases = {
      {Silent, "silent.example."}, {Refused, "refused.example."}, {ServFail, "servfail.example."}};
  const std::string slow = "slow.example.";
  for (const auto& [m, name] : cases) {
    auto first = udp_query(ep, name, rr::A, {.edns = true});
    INFO(name << " first: " << first.summary());
    REQUIRE(first.texts(rr::A) == std::vector<std::string>{"192.0.2.61"});
  }
  REQUIRE(udp_query(ep, slow, rr::A, {.edns = true}).texts(rr::A) == std::vector<std::string>{"192.0.2.61"});
  wait_past_ttl(Clock::now(), 1);

  // An upstream slower than usual but within the client response timer:
  // its fresh answer, never the stale one.
  mode = Slow;
  auto fresh_slow = udp_query(ep, slow, rr::A, {.edns = true});
  INFO("slow upstream: " << fresh_slow.summary());
  REQUIRE(fresh_slow.texts(rr::A) == std::vector<std::string>{"192.0.2.61"});
  CHECK_FALSE(ede_of(fresh_slow).present);
  CHECK(fresh_slow.first(rr::A)->ttl <= 1);

  for (const auto& [m, name] : cases) {
    mode = m;
    const auto t0 = Clock::now();
    auto stale = udp_query(ep, name, rr::A, {.edns = true}, 5000ms);
    const ms took = elapsed_since(t0);
    INFO(name << " after " << took.count() << " ms\n" << hush.log());
    expect_stale(stale, "192.0.2.61");
    // Silent: the client response timer answers, long before the upstream timeout.
    if (m == Silent) {
      CHECK(took >= ms(kStaleAfterMs - 50));
      CHECK(took < ms(kStaleAfterMs + 1500));
    }
  }

  mode = Answer;
  for (const auto& [m, name] : cases) {
    auto fresh = fresh_answer(ep, name);
    INFO(name << " once the upstream answers: " << fresh.summary());
    REQUIRE(fresh.texts(rr::A) == std::vector<std::string>{"192.0.2.61"});
    CHECK_FALSE(ede_of(fresh).present);
    CHECK(fresh.first(rr::A)->ttl <= 1);
  }
}

TEST_CASE("prefetch: a popular answer is refreshed before it expires, counted, and not logged",
          "[integration][cache][prefetch]") {
  constexpr uint32_t kTtl = 8;  // its last tenth: the final 800 ms
  FakeUpstream up([&](const UpstreamQuery& q) {
    return std::vector<Reply>{{make_response(q.wire, rcode::NOERROR, {{rr::A, kTtl, a_rdata("192.0.2.62")}})}};
  });
  TempDir dir;
  const uint16_t http_port = pick_free_port();
  HushOptions o;
  o.upstreams = {up.endpoint()};
  o.probe_with_query = false;
  o.use_config_file = true;
  o.extra_args = {"--http", "127.0.0.1:" + std::to_string(http_port)};
  Hush hush(dir.path() / "hush", o);
  const auto ep = hush.v4();
  REQUIRE(wait_until([&] { return metric(http_port, "hush_cache_prefetches_total") == 0; }, 5000ms));

  const std::string name = "popular.example.";
  REQUIRE(udp_query(ep, name, rr::A).texts(rr::A) == std::vector<std::string>{"192.0.2.62"});
  const auto got = Clock::now();
  // Two hits early in its life make it popular; none of them prefetches.
  for (int i = 0; i < 2; ++i) REQUIRE(!udp_query(ep, name, rr::A).answer.empty());
  CHECK(up.count(name) == 1);

  // 0.7 s before expiry, within the last tenth: answered from the cache at
  // once, and the refresh goes upstream in the background.
  wait_for(got + 7300ms);
  auto late = udp_query(ep, name, rr::A);
  INFO("near expiry: " << late.summary());
  REQUIRE(late.texts(rr::A) == std::vector<std::string>{"192.0.2.62"});
  CHECK(late.first(rr::A)->ttl <= 1);
  CHECK(wait_until([&] { return up.count(name) == 2; }, 3000ms));
  CHECK(metric(http_port, "hush_cache_prefetches_total") == 1);

  // Past the first answer's expiry the refreshed one is served from the
  // cache: no client waits for the upstream, and no second prefetch.
  wait_for(got + std::chrono::seconds(kTtl) + 300ms);
  auto after = udp_query(ep, name, rr::A);
  INFO("after the first TTL: " << after.summary());
  REQUIRE(after.texts(rr::A) == std::vector<std::string>{"192.0.2.62"});
  CHECK(after.first(rr::A)->ttl >= 1);
  CHECK(up.count(name) == 2);
  CHECK(metric(http_port, "hush_cache_prefetches_total") == 1);

  // The five client queries are in the query log; the prefetch is not.
  const std::string data_dir = hush.data_dir().string();
  auto rows = [&] {
    auto r = run_command({hush_binary(), "log", "search", "--domain", "popular.example", "--data-dir", data_dir}, 5s);
    size_t n = 0;
    for (const std::string& line : lines(r.out)) n += line.find("popular.example") != std::string::npos;
    return n;
  };
  CHECK(wait_until([&] { return rows() >= 5; }, 10s, 200ms));
  CHECK(rows() == 5);
}

// Upstream queries share a few pooled sockets per server: many questions in
// flight at once all get their own answers, spoofed answers are still
// dropped when queries share a socket, sockets are replaced as they wear out,
// and hush's descriptors stay few under load.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "dns_client.hpp"
#include "fake_upstream.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

// Sends a query for each name from one UDP socket, keeping at most `window`
// unanswered, and collects the answers by ID (index i has ID i). Like a
// stub resolver it asks again after a second without an answer (a burst can
// overflow a socket buffer on the way), at most three times. Bounded by
// `timeout` in all; `sample` runs every few milliseconds meanwhile.
std::vector<std::optional<Message>> burst(const Endpoint& ep, const std::vector<std::string>& names, size_t window,
                                          ms timeout, const std::function<void()>& sample = {}) {
  REQUIRE(names.size() <= 65536);
  std::vector<std::optional<Message>> answers(names.size());
  std::vector<Clock::time_point> asked(names.size());
  std::vector<int> tries(names.size(), 0);
  int fd = connected_udp(ep);
  auto ask = [&](size_t i) {
    QueryOpts o;
    o.id = static_cast<uint16_t>(i);
    Bytes q = make_query(names[i], rr::A, o);
    REQUIRE(send(fd, q.data(), q.size(), 0) == static_cast<ssize_t>(q.size()));
    asked[i] = Clock::now();
    ++tries[i];
  };
  const auto deadline = Clock::now() + timeout;
  size_t sent = 0, answered = 0, oldest = 0;
  Bytes buf(65535);
  for (int iter = 0; iter < 10000000 && answered < names.size() && Clock::now() < deadline; ++iter) {
    while (sent < names.size() && sent - answered < window) ask(sent++);
    while (oldest < sent && answers[oldest]) ++oldest;
    for (size_t i = oldest; i < sent; ++i)
      if (!answers[i] && tries[i] < 3 && Clock::now() - asked[i] > 1000ms) ask(i);
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5) > 0) {
      ssize_t n = recv(fd, buf.data(), buf.size(), 0);
      if (n >= 12) {
        Message m = parse_message(Bytes(buf.begin(), buf.begin() + n));
        if (m.id < names.size() && !answers[m.id]) {
          answers[m.id] = std::move(m);
          ++answered;
        }
      }
    }
    if (sample) sample();
  }
  close(fd);
  return answers;
}

}  // namespace

TEST_CASE("many different questions in flight at once all get their own answers, descriptors stay few",
          "[integration][upstream][pool]") {
  Env env;
  const pid_t pid = env.hush.pid();
  const size_t before = open_descriptors(pid);
  std::vector<std::string> names;
  for (int i = 0; i < 4000; ++i) names.push_back("pool" + std::to_string(i) + ".wild.test.");
  size_t most = before;
  // 150 unanswered at a time: one socket per query would mean ~150 more
  // descriptors; the pools are 4 sockets per worker plus the few retired
  // ones still waiting for their last answers.
  auto answers = burst(env.ep(), names, 150, 60000ms, [&] { most = std::max(most, open_descriptors(pid)); });
  size_t good = 0;
  std::string bad;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& m = answers[i];
    if (m && m->rcode() == rcode::NOERROR && m->qname == names[i] &&
        m->texts(rr::A) == std::vector<std::string>{zone::kWildA})
      ++good;
    else if (bad.size() < 500)
      bad += " " + names[i] + ": " + (m ? m->summary() : std::string("no answer")) + ";";
  }
  INFO("descriptors before " << before << ", most during the load " << most << "; wrong:" << bad << "\n"
                             << env.logs());
  CHECK(good == names.size());
  CHECK(most - before <= 40);
  CHECK(env.hush.running());
}

TEST_CASE("with many queries on one socket, answers with another query's ID, a wrong ID or from a wrong port are "
          "dropped",
          "[integration][upstream][pool]") {
  // Every query's ID and question, as the upstream saw them, so a spoof can
  // carry the ID of a query still waiting on the same socket.
  std::mutex mu;
  std::map<uint16_t, std::vector<UpstreamQuery>> by_port;
  FakeUpstream up([&](const UpstreamQuery& q) {
    const auto evil = std::vector<Answer>{{rr::A, 300, a_rdata("6.6.6.6")}};
    std::vector<Reply> r;
    {
      std::lock_guard lk(mu);
      auto& seen = by_port[q.src_port];
      // 1. this question with the IDs of earlier queries from the same port,
      //    which are still waiting (their answers come 300 ms after them)
      for (auto it = seen.rbegin(); it != seen.rend() && r.size() < 3; ++it)
        if (it->id != q.id) r.push_back({make_response_for(it->id, q.qname, q.qtype, 0, evil), 0ms});
      seen.push_back(q);
    }
    // 2. a wrong ID
    r.push_back({make_response_for(q.id ^ 0x5A5A, q.qname, q.qtype, 0, evil), 10ms});
    // 3. a correct answer from another source port
    r.push_back({make_response(q.wire, 0, evil), 20ms, true});
    // 4. the genuine answer, last
    r.push_back({make_response(q.wire, 0, {{rr::A, 300, a_rdata("192.0.2.77")}}), 300ms});
    return r;
  });
  FakeEnv env({up.endpoint()});
  std::vector<std::string> names;
  for (int i = 0; i < 200; ++i) names.push_back("spoofpool" + std::to_string(i) + ".example.");
  auto answers = burst(env.hush.v4(), names, 200, 20000ms);
  size_t genuine = 0;
  std::string bad;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& m = answers[i];
    if (m && m->rcode() == rcode::NOERROR && m->qname == names[i] &&
        m->texts(rr::A) == std::vector<std::string>{"192.0.2.77"})
      ++genuine;
    else if (bad.size() < 500)
      bad += " " + names[i] + ": " + (m ? m->summary() : std::string("no answer")) + ";";
  }
  size_t shared_ports = 0;
  {
    std::lock_guard lk(mu);
    for (auto& [port, qs] : by_port) shared_ports += qs.size() > 1;
  }
  INFO("wrong:" << bad << "\nports carrying more than one query: " << shared_ports);
  // The test means something only if queries did share sockets.
  CHECK(shared_ports >= 1);
  CHECK(genuine == names.size());
}

TEST_CASE("upstream sockets are replaced after a number of queries and after a while",
          "[integration][upstream][pool]") {
  FakeUpstream up([](const UpstreamQuery& q) { return answer_a(q, "192.0.2.10"); });
  FakeEnv env({up.endpoint()});
  std::vector<std::string> names;
  for (int i = 0; i < 1280; ++i) names.push_back("rot" + std::to_string(i) + ".example.");
  auto answers = burst(env.hush.v4(), names, 50, 20000ms);
  CHECK(std::all_of(answers.begin(), answers.end(), [](const auto& m) { return m && m->rcode() == rcode::NOERROR; }));
  auto qs = up.queries();
  REQUIRE(qs.size() >= names.size());
  std::map<uint16_t, size_t> per_port;
  for (auto& q : qs) ++per_port[q.src_port];
  std::string seen;
  for (auto [port, n] : per_port) seen += " " + std::to_string(port) + "x" + std::to_string(n);
  INFO("port x queries:" << seen);
  // A socket carries at most 128 queries, so 1,280 need at least 10 sockets
  // (one fewer should the kernel hand a closed socket's port out again).
  CHECK(per_port.size() >= 9);

  // After a second without queries every socket is too old: the next ones
  // leave from ports not used before (one may be, should the kernel hand a
  // closed socket's port out again).
  std::this_thread::sleep_for(1200ms);
  for (int i = 0; i < 4; ++i) {
    auto m = udp_query(env.hush.v4(), "late" + std::to_string(i) + ".example.", rr::A, {}, 3000ms);
    CHECK(m.texts(rr::A) == std::vector<std::string>{"192.0.2.10"});
  }
  auto after = up.queries();
  REQUIRE(after.size() >= qs.size() + 4);
  size_t reused = 0;
  for (size_t i = qs.size(); i < after.size(); ++i) reused += per_port.count(after[i].src_port);
  CHECK(reused <= 1);
}

TEST_CASE("a closed upstream port fails every query waiting on its sockets at once, not at the timeout",
          "[integration][upstream][pool]") {
  TempDir dir;
  HushOptions o;
  o.upstreams = {Endpoint{"127.0.0.1", pick_free_port()}};
  o.upstream_timeout_ms = 5000;
  o.probe_with_query = false;
  Hush hush(dir.path() / "hush", o);
  std::vector<std::string> names;
  for (int i = 0; i < 100; ++i) names.push_back("refused" + std::to_string(i) + ".example.");
  const auto t0 = Clock::now();
  // Many at once, so several share a socket when the ICMP error comes back.
  auto answers = burst(hush.v4(), names, 100, 20000ms);
  const auto took = std::chrono::duration_cast<ms>(Clock::now() - t0);
  size_t servfail = 0;
  for (const auto& m : answers) servfail += m && m->rcode() == rcode::SERVFAIL;
  INFO("took " << took.count() << " ms; " << hush.log());
  CHECK(servfail == names.size());
  // Two attempts of 5 s each would take 10 s.
  CHECK(took < 3000ms);
}

// Upstreams that answer with garbage over UDP, or break the TCP retry after a
// truncated answer (close mid-answer, a length prefix promising more than
// follows, never answering): the client gets SERVFAIL with an Extended DNS
// Error in bounded time, or the next upstream's answer; hush keeps serving,
// closes every socket it opened, and answers again once the upstream behaves.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <random>
#include <thread>

#include "dns_client.hpp"
#include "fake_upstream.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

// hush's upstream timeout here: short, so that failures come quickly.
constexpr int kTimeoutMs = 300;
// One upstream is asked twice (hush's minimum number of attempts), each
// attempt bounded by the timeout; the rest is slack for a loaded machine and
// sanitizer builds.
constexpr ms kServfailBound{2 * kTimeoutMs + 2500};

// What each descriptor is, for failure messages.
std::string describe_fds(pid_t pid) {
  std::string out;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    out += " " + it->path().filename().string() + "->" + fs::read_symlink(it->path(), ec).string();
  return out;
}

// The count once hush has opened what it opens after its first answers
// (the query log, the dashboard's port): unchanged for a second, or the
// count after 8 s.
size_t settled_fds(pid_t pid) {
  size_t last = open_descriptors(pid);
  auto since = Clock::now();
  for (int i = 0; i < 80 && Clock::now() - since < 1000ms; ++i) {
    std::this_thread::sleep_for(100ms);
    size_t now = open_descriptors(pid);
    if (now != last) since = Clock::now();
    last = now;
  }
  return last;
}

// hush closes a failed attempt's socket once libuv has let go of it: wait
// (bounded) for the count to come back.
bool fds_back_to(pid_t pid, size_t baseline) {
  return wait_until([&] { return open_descriptors(pid) <= baseline; }, 3000ms);
}

Bytes good_answer(const UpstreamQuery& q) { return make_response(q.wire, rcode::NOERROR, {{rr::A, 300, a_rdata("192.0.2.61")}}); }

// Asks `name` with EDNS (so a failure carries its EDE) and checks for
// SERVFAIL with EDE 22 "no reachable authority" within kServfailBound.
void expect_servfail(const Endpoint& ep, const std::string& name, const std::string& what) {
  QueryOpts o;
  o.edns = true;
  auto t0 = Clock::now();
  auto m = udp_query(ep, name, rr::A, o, 10000ms);
  auto took = elapsed_since(t0);
  INFO(what << ": " << m.summary() << " after " << took.count() << " ms");
  CHECK(m.rcode() == rcode::SERVFAIL);
  CHECK(m.qname == name);
  CHECK(m.answer.empty());
  CHECK(took <= kServfailBound);
  REQUIRE(m.opt);
  const Bytes* ede = m.opt->option(kEdnsOptionEde);
  REQUIRE(ede);
  REQUIRE(ede->size() >= 2);
  CHECK(((*ede)[0] << 8 | (*ede)[1]) == 22);
  UNSCOPED_INFO(what << ": SERVFAIL after " << took.count() << " ms");
}

void expect_answer(const Endpoint& ep, const std::string& name, const std::string& what) {
  auto t0 = Clock::now();
  auto m = udp_query(ep, name, rr::A, {}, 5000ms);
  INFO(what << ": " << m.summary() << " after " << elapsed_since(t0).count() << " ms");
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK(m.texts(rr::A) == std::vector<std::string>{"192.0.2.61"});
}

// Good answers for 100 questions from as many client sockets: both workers
// fill their pools of upstream sockets (opened as queries need them), so
// the descriptor count after this is the steady one a leak would grow from.
void warm_up(const Endpoint& ep) {
  for (int i = 0; i < 100; ++i) expect_answer(ep, "warm" + std::to_string(i) + ".example.", "warm-up");
}

// Stops hush with SIGTERM: it must exit within the bound (nothing left
// waiting on a broken upstream) and, in sanitizer builds, without a report.
void expect_clean_stop(Hush& hush) {
  REQUIRE(kill(hush.pid(), SIGTERM) == 0);
  CHECK(wait_until([&] { return !hush.running(); }, 10000ms));
  std::string log = hush.log();
  INFO(log);
  CHECK(log.find("Sanitizer") == std::string::npos);
  CHECK(log.find("runtime error") == std::string::npos);
}

// Garbage in answer to `q`, by kind.
enum class Garbage {
  RandomBytes,        // 64 random bytes
  RandomAfterId,      // our ID, then random bytes
  CutHeader,          // the first 7 bytes of a good answer
  HeaderOnly,         // a header promising a question that is not there
  WrongQuestion,      // our ID, a good answer for another name
  NotResponse,        // our query sent back (QR clear)
  RecordCut,          // a good answer with its A record's data cut short
  ExtraCount,         // ANCOUNT 5, one record present
  OwnerLoop,          // the answer's owner name is a compression pointer to itself
  RdlengthPastEnd,    // RDLENGTH larger than the rest of the message
};

const std::vector<std::pair<Garbage, const char*>> kGarbage = {
    {Garbage::RandomBytes, "random bytes"},
    {Garbage::RandomAfterId, "random bytes after the right ID"},
    {Garbage::CutHeader, "a header cut at 7 bytes"},
    {Garbage::HeaderOnly, "a bare header promising a question"},
    {Garbage::WrongQuestion, "an answer to another question"},
    {Garbage::NotResponse, "the query sent back"},
    {Garbage::RecordCut, "an A record cut short"},
    {Garbage::ExtraCount, "ANCOUNT 5 with one record"},
    {Garbage::OwnerLoop, "a compression loop in an answer's owner"},
    {Garbage::RdlengthPastEnd, "RDLENGTH past the end"},
};

Bytes garbage(Garbage kind, const UpstreamQuery& q) {
  std::mt19937 rng(0x5eed);
  auto random_bytes = [&](size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    return b;
  };
  Bytes good = good_answer(q);
  switch (kind) {
    case Garbage::RandomBytes:
      return random_bytes(64);
    case Garbage::RandomAfterId: {
      Bytes b = random_bytes(64);
      b[0] = good[0];
      b[1] = good[1];
      return b;
    }
    case Garbage::CutHeader:
      return Bytes(good.begin(), good.begin() + 7);
    case Garbage::HeaderOnly:
      return Bytes(good.begin(), good.begin() + 12);
    case Garbage::WrongQuestion:
      return make_response_for(q.id, "other.example.", q.qtype, rcode::NOERROR, {{rr::A, 300, a_rdata("6.6.6.6")}});
    case Garbage::NotResponse:
      return q.wire;
    case Garbage::RecordCut:
      return Bytes(good.begin(), good.end() - 2);
    case Garbage::ExtraCount:
      good[7] = 5;
      return good;
    case Garbage::OwnerLoop: {
      // The record starts right after the question; point its owner there.
      size_t at = good.size() - 16;  // owner(2) type class ttl rdlength(10) rdata(4)
      good[at] = static_cast<uint8_t>(0xC0 | (at >> 8));
      good[at + 1] = static_cast<uint8_t>(at);
      return good;
    }
    case Garbage::RdlengthPastEnd:
      good[good.size() - 5] = 0x40;  // RDLENGTH 4 -> 64, with 4 bytes left
      return good;
  }
  return {};
}

}  // namespace

TEST_CASE("UDP garbage from the only upstream: SERVFAIL with EDE in bounded time, then recovery",
          "[integration][upstream][faults]") {
  std::atomic<int> mode{-1};  // index into kGarbage; -1 answers well
  FakeUpstream up([&](const UpstreamQuery& q) {
    int m = mode.load();
    if (m < 0) return std::vector<Reply>{{good_answer(q)}};
    return std::vector<Reply>{{garbage(kGarbage[size_t(m)].first, q)}};
  });
  FakeEnv env({up.endpoint()}, kTimeoutMs);
  const auto ep = env.hush.v4();
  expect_answer(ep, "before.example.", "before any garbage");
  warm_up(ep);
  const size_t baseline = settled_fds(env.hush.pid());
  const std::string before = describe_fds(env.hush.pid());

  for (size_t i = 0; i < kGarbage.size(); ++i) {
    mode = int(i);
    expect_servfail(ep, "garbage" + std::to_string(i) + ".example.", kGarbage[i].second);
  }
  INFO("descriptors before:" << before << "\nafter:" << describe_fds(env.hush.pid()));
  CHECK(fds_back_to(env.hush.pid(), baseline));

  mode = -1;
  expect_answer(ep, "after.example.", "the upstream behaves again");
  expect_clean_stop(env.hush);
}

TEST_CASE("UDP garbage from the first upstream: the second one answers", "[integration][upstream][faults]") {
  std::atomic<int> mode{0};
  FakeUpstream bad([&](const UpstreamQuery& q) {
    return std::vector<Reply>{{garbage(kGarbage[size_t(mode.load())].first, q)}};
  });
  FakeUpstream good([](const UpstreamQuery& q) { return std::vector<Reply>{{good_answer(q)}}; });
  FakeEnv env({bad.endpoint(), good.endpoint()}, kTimeoutMs);
  for (size_t i = 0; i < kGarbage.size(); ++i) {
    mode = int(i);
    const std::string name = "next" + std::to_string(i) + ".example.";
    auto t0 = Clock::now();
    expect_answer(env.hush.v4(), name, kGarbage[i].second);
    // At most one timeout on the bad one (it may be skipped after a failure).
    CHECK(elapsed_since(t0) <= ms(kTimeoutMs + 2500));
  }
  CHECK(good.queries().size() >= kGarbage.size());
}

namespace {

// What the upstream does over TCP after telling hush (over UDP) that the
// answer was truncated.
enum class TcpFault {
  CloseAtOnce,          // accept, read the query, close without a byte
  CloseAfterPrefix,     // the length prefix only, then close
  CloseAfterHalf,       // the prefix and half the message, then close
  LongerPrefixClose,    // a prefix 100 bytes longer than the message, then close
  LongerPrefixOpen,     // the same, but the connection stays open
  Silent,               // never answers; the connection stays open
  GarbageFrame,         // a whole frame of random bytes after our ID
};

const std::vector<std::pair<TcpFault, const char*>> kTcpFaults = {
    {TcpFault::CloseAtOnce, "TCP closed without an answer"},
    {TcpFault::CloseAfterPrefix, "TCP closed after the length prefix"},
    {TcpFault::CloseAfterHalf, "TCP closed after half the message"},
    {TcpFault::LongerPrefixClose, "a length prefix longer than what follows, then closed"},
    {TcpFault::LongerPrefixOpen, "a length prefix longer than what follows, left open"},
    {TcpFault::Silent, "TCP never answered"},
    {TcpFault::GarbageFrame, "a whole TCP frame of garbage"},
};

std::vector<Reply> tcp_fault(TcpFault f, const UpstreamQuery& q) {
  Bytes good = good_answer(q);
  auto prefixed = [&](size_t claimed, size_t sent) {
    Bytes b(2 + sent);
    b[0] = static_cast<uint8_t>(claimed >> 8);
    b[1] = static_cast<uint8_t>(claimed);
    std::copy_n(good.begin(), sent, b.begin() + 2);
    return b;
  };
  switch (f) {
    case TcpFault::CloseAtOnce:
      return {Reply{{}, 0ms, false, true, true}};
    case TcpFault::CloseAfterPrefix:
      return {Reply{prefixed(good.size(), 0), 0ms, false, true, true}};
    case TcpFault::CloseAfterHalf:
      return {Reply{prefixed(good.size(), good.size() / 2), 0ms, false, true, true}};
    case TcpFault::LongerPrefixClose:
      return {Reply{prefixed(good.size() + 100, good.size()), 0ms, false, true, true}};
    case TcpFault::LongerPrefixOpen:
      return {Reply{prefixed(good.size() + 100, good.size()), 0ms, false, true, false}};
    case TcpFault::Silent:
      return {};
    case TcpFault::GarbageFrame:
      return {Reply{garbage(Garbage::RandomAfterId, q)}};
  }
  return {};
}

}  // namespace

TEST_CASE("TCP retry after TC breaks mid-answer: SERVFAIL with EDE in bounded time, no leak, recovery",
          "[integration][upstream][faults][tcp]") {
  std::atomic<int> mode{-1};  // index into kTcpFaults; -1 answers well over TCP
  FakeUpstream up([&](const UpstreamQuery& q) {
    if (!q.tcp) {
      Bytes tc = make_response(q.wire, rcode::NOERROR);
      tc[2] |= 0x02;  // TC: ask again over TCP
      return std::vector<Reply>{{tc}};
    }
    int m = mode.load();
    if (m < 0) return std::vector<Reply>{{good_answer(q)}};
    return tcp_fault(kTcpFaults[size_t(m)].first, q);
  });
  FakeEnv env({up.endpoint()}, kTimeoutMs);
  const auto ep = env.hush.v4();
  expect_answer(ep, "tcp-before.example.", "a good answer over TCP");
  warm_up(ep);
  const size_t baseline = settled_fds(env.hush.pid());
  const std::string before = describe_fds(env.hush.pid());

  for (size_t i = 0; i < kTcpFaults.size(); ++i) {
    mode = int(i);
    const std::string name = "tcpfault" + std::to_string(i) + ".example.";
    expect_servfail(ep, name, kTcpFaults[i].second);
    size_t tcp = 0;
    for (auto& q : up.queries())
      if (q.tcp && lower(q.qname) == name) ++tcp;
    CHECK(tcp >= 1);  // the fault really was met over TCP
  }

  // Many questions at once against a silent TCP side: each fails alone.
  mode = int(std::find_if(kTcpFaults.begin(), kTcpFaults.end(), [](auto& f) { return f.first == TcpFault::Silent; }) -
             kTcpFaults.begin());
  std::vector<std::future<Message>> many;
  for (int i = 0; i < 20; ++i)
    many.push_back(std::async(std::launch::async, [ep, i] {
      QueryOpts o;
      o.edns = true;
      return udp_query(ep, "many" + std::to_string(i) + ".example.", rr::A, o, 10000ms);
    }));
  for (auto& f : many) CHECK(f.get().rcode() == rcode::SERVFAIL);

  INFO("descriptors before:" << before << "\nafter:" << describe_fds(env.hush.pid()));
  CHECK(fds_back_to(env.hush.pid(), baseline));

  mode = -1;
  expect_answer(ep, "tcp-after.example.", "the upstream behaves again");
  expect_clean_stop(env.hush);
}

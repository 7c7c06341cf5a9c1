#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "dns/wire.hpp"
#include "querylog/queue.hpp"

using namespace hush;
using namespace hush::querylog;

namespace {
Event event(std::string_view name) {  // the view must outlive the Event
  Event e;
  e.time_us = 1;
  e.name = name;
  return e;
}

// Answer to "a.test A": a CNAME to b.test (compressed), then two A records.
std::vector<uint8_t> cname_answer() {
  std::vector<uint8_t> m = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0,
                            1, 'a', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};
  const uint8_t cname[] = {0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, 'B', 0xc0, 14};
  m.insert(m.end(), cname, cname + sizeof cname);
  for (uint8_t last : {1, 2}) {
    const uint8_t a[] = {0xc0, 36, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, last};
    m.insert(m.end(), a, a + sizeof a);
  }
  return m;
}
}  // namespace

TEST_CASE("a full ring drops and counts instead of waiting") {
  LogQueue q(2, 8);
  Producer& p = q.producer(0);
  int accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += p.log(event("n" + std::to_string(i) + ".test"));
  CHECK(accepted == 8);
  CHECK(p.dropped() == 12);
  CHECK(q.producer(1).dropped() == 0);
  CHECK(q.dropped() == 12);

  std::vector<std::string> names;
  CHECK(q.drain([&](const Record& r) { names.emplace_back(r.name()); }, 5) == 5);
  CHECK(names.front() == "n0.test");
  CHECK(names.back() == "n4.test");
  // Room again: the producer accepts without any other coordination.
  CHECK(p.log(event("again.test")));
  names.clear();
  CHECK(q.drain([&](const Record& r) { names.emplace_back(r.name()); }, 100) == 4);
  CHECK(names.back() == "again.test");
}

TEST_CASE("one producer thread per ring, one consumer: nothing lost or reordered") {
  constexpr int kPerWorker = 200000;
  LogQueue q(2, 1024);
  std::atomic<int> done{0};
  auto produce = [&](int worker) {
    Producer& p = q.producer(size_t(worker));
    for (int i = 0; i < kPerWorker; ++i) {
      Event e = event("x");
      e.latency_us = uint32_t(i);
      e.qtype = uint16_t(worker);
      while (!p.log(e)) std::this_thread::yield();  // only the test retries; a worker would drop
    }
    ++done;
  };
  std::thread a(produce, 0), b(produce, 1);
  int next[2] = {0, 0};
  bool ordered = true;
  while (done < 2 || next[0] + next[1] < 2 * kPerWorker) {
    q.drain([&](const Record& r) {
      ordered = ordered && int(r.latency_us) == next[r.qtype];
      ++next[r.qtype];
    }, 4096);
  }
  a.join();
  b.join();
  CHECK(ordered);
  CHECK(next[0] == kPerWorker);
  CHECK(next[1] == kPerWorker);
}

TEST_CASE("a record takes only the bytes it uses; long ones fill the ring's bytes before its count") {
  LogQueue q(1, 64);
  Producer& p = q.producer(0);
  // Short records: the count is the bound.
  int accepted = 0;
  for (int i = 0; i < 100; ++i) accepted += p.log(event("s" + std::to_string(i) + ".test"));
  CHECK(accepted == 64);
  CHECK(q.drain([](const Record&) {}, 1000) == 64);

  // Records of the largest size: the bytes (64 x 128) run out first, and
  // every record that did not fit is counted.
  std::string name(kMaxName, 'n'), reason(kMaxReason, 'r');
  Event e = event(name);
  e.reason = reason;
  e.status = Status::Blocked;
  accepted = 0;
  for (int i = 0; i < 64; ++i) accepted += p.log(e);
  CHECK(accepted >= int((64 * 128 - sizeof(Record)) / (sizeof(RecordHead) + kMaxName + kMaxReason)));
  CHECK(accepted < 64 / 2);
  CHECK(p.dropped(Status::Blocked) == uint64_t(64 - accepted));
  int whole = 0;
  q.drain([&](const Record& r) { whole += r.name() == name && r.reason() == reason; }, 1000);
  CHECK(whole == accepted);
}

TEST_CASE("records of every length come out whole across many laps of the ring") {
  LogQueue q(1, 16);  // 2 KiB: a lap every few records
  Producer& p = q.producer(0);
  std::vector<std::string> names;
  for (size_t len = 1; len <= kMaxName; len += 7) names.push_back(std::string(len, char('a' + len % 26)));
  uint32_t sent = 0, seen = 0, attempt = 0;
  bool intact = true;
  for (int lap = 0; lap < 50; ++lap) {
    for (const std::string& n : names) {
      Event e = event(n);
      e.reason = std::string_view(n).substr(0, n.size() % kMaxReason);
      e.upstream = "192.0.2.53:53";
      e.latency_us = sent;
      if (p.log(e)) ++sent;
      // 0 to 3 records taken after each, so records start at every offset
      // with the ring anywhere from empty to full
      q.drain([&](const Record& r) {
        const std::string& want = names[(r.name_len - 1) / 7];
        intact = intact && r.latency_us == seen++ && r.name() == want &&
                 r.reason() == std::string_view(want).substr(0, want.size() % kMaxReason) &&
                 r.upstream() == "192.0.2.53:53";
      }, attempt++ % 4);
    }
  }
  q.drain([&](const Record& r) { intact = intact && r.latency_us == seen++; }, 1000);
  CHECK(intact);
  CHECK(seen == sent);
  CHECK(sent > 1000);
}

TEST_CASE("fill copies the event inline and summarizes the answer") {
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:192.168.1.20", &mapped.sin6_addr);
  auto answer = cname_answer();
  Event e;
  e.time_us = 42;
  e.client = reinterpret_cast<const sockaddr*>(&mapped);
  e.transport = Transport::Tcp;
  e.name = "a.test";
  e.qtype = 1;
  e.status = Status::Forwarded;
  e.reason = "forwarded";
  e.answer = answer.data();
  e.answer_len = answer.size();
  e.upstream = "9.9.9.9:53";
  e.latency_us = 1234;
  Record r;
  fill(r, e);
  CHECK(r.family == AF_INET);  // a v4-mapped client is the IPv4 client
  CHECK(r.client_text() == "192.168.1.20");
  CHECK(r.name() == "a.test");
  CHECK(r.reason() == "forwarded");
  CHECK(answer_text(r.answer()) == "CNAME b.test, 192.0.2.1, 192.0.2.2");
  CHECK(r.rcode == 0);
  CHECK(r.transport == Transport::Tcp);
  CHECK(r.upstream() == "9.9.9.9:53");

  std::string long_name(300, 'x');
  e.name = long_name;
  answer[3] = 0x83;  // NXDOMAIN
  answer.resize(answer.size() - 5);  // last record cut short
  e.answer_len = answer.size();
  fill(r, e);
  CHECK(r.name() == long_name.substr(0, kMaxName));
  CHECK(r.rcode == dns::rcode::NxDomain);
  CHECK(answer_text(r.answer()) == "CNAME b.test, 192.0.2.1");
  CHECK(r.upstream() == "9.9.9.9:53");  // the texts after a cut one are intact
}

TEST_CASE("fill sets every byte of the address, over whatever the ring's bytes held") {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "192.168.1.20", &a.sin_addr);
  Record r;
  std::memset(static_cast<void*>(&r), 0xab, sizeof r);
  Event e = event("a.test");
  e.client = reinterpret_cast<const sockaddr*>(&a);
  fill(r, e);
  const uint8_t want[16] = {192, 168, 1, 20};
  CHECK(r.family == AF_INET);
  CHECK(std::memcmp(r.addr, want, sizeof want) == 0);  // the writer keys addresses by all 16 bytes
  std::memset(static_cast<void*>(&r), 0xab, sizeof r);
  e.client = nullptr;
  fill(r, e);
  CHECK(r.family == 0);
  CHECK(std::memcmp(r.addr, std::array<uint8_t, 16>{}.data(), 16) == 0);
}

TEST_CASE("a batch keeps each record's texts") {
  Batch b;
  Record r;
  r.time_us = 7;
  r.set_texts("one.test", "forwarded", "", "9.9.9.9:53");
  b.add(r);
  r.time_us = 8;
  r.set_texts("two.test", "ads: ||two.test^", std::string_view("A\x01\x02\x03\x04", 5), "");
  b.add(r);
  REQUIRE(b.size() == 2);
  CHECK(b[0].head.time_us == 7);
  CHECK(b[0].texts.name() == "one.test");
  CHECK(b[0].texts.upstream() == "9.9.9.9:53");
  CHECK(b[1].texts.reason() == "ads: ||two.test^");
  CHECK(answer_text(b[1].texts.answer()) == "1.2.3.4");
  CHECK(b[1].texts.upstream().empty());
  b.clear();
  CHECK(b.empty());
}

TEST_CASE("answer items read back as text; damaged items end the text") {
  CHECK(answer_text(std::string_view("A\xc0\x00\x02\x01" "C\x06" "b.test", 13)) == "192.0.2.1, CNAME b.test");
  CHECK(answer_text(std::string("T\x0a") + "10.0.0.1 x") == "10.0.0.1 x");
  CHECK(answer_text(std::string_view("A\x01\x02", 3)).empty());            // cut short
  CHECK(answer_text(std::string_view("A\x01\x02\x03\x04Z", 6)) == "1.2.3.4");  // unknown kind
  CHECK(answer_text(std::string_view("C\x09" "b.test", 8)).empty());           // length past the end
}

TEST_CASE("summaries stop before overflowing the field") {
  std::vector<uint8_t> m = {0, 1, 0x81, 0x80, 0, 1, 0, 8, 0, 0, 0, 0, 1, 'a', 0, 0, 28, 0, 1};
  for (int i = 0; i < 8; ++i) {
    const uint8_t rr[] = {0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16};
    m.insert(m.end(), rr, rr + sizeof rr);
    const uint8_t addr[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0x10, uint8_t(i)};
    m.insert(m.end(), addr, addr + 16);  // "2001:db8:1:2::100N", 18 characters
  }
  char out[kMaxAnswer];
  uint16_t rcode = 1;
  size_t n = summarize_answer(m.data(), m.size(), out, sizeof out, rcode);
  CHECK(rcode == 0);
  CHECK(n == 3 * 17);  // three AAAA items fit, a fourth would not
  std::string text = answer_text({out, n});
  CHECK(text.rfind("2001:db8:1:2::1002") != std::string::npos);
  CHECK(text.find("2001:db8:1:2::1003") == std::string::npos);
  CHECK(summarize_answer(m.data(), 5, out, sizeof out, rcode) == 0);
  CHECK(rcode == 0xffff);
}

#include <catch2/catch.hpp>

#include <climits>

#include "alerts/dispatcher.hpp"

using namespace hush::alerts;

namespace {
struct Fake {
  int64_t now = 1000000;
  std::vector<std::pair<std::string, Message>> sent;
  std::string fail;  // the error the next sends return
  Dispatcher::Hooks hooks() {
    Dispatcher::Hooks h;
    h.now_ms = [this] { return now; };
    h.send = [this](const SinkSettings& s, const Message& m) {
      sent.emplace_back(s.name, m);
      return fail;
    };
    return h;
  }
};
SinkSettings sink(const std::string& name, std::vector<std::string> events = {}) {
  SinkSettings s;
  s.name = name;
  s.kind = "webhook";
  s.url = "http://127.0.0.1:1/";
  s.events = std::move(events);
  return s;
}
Event event(Kind k, const std::string& key) {
  Event e;
  e.kind = k;
  e.key = key;
  e.title = key;
  return e;
}
}  // namespace

TEST_CASE("an event goes once to each sink that wants it; a repeat goes nowhere") {
  Fake f;
  Dispatcher d({sink("all"), sink("devices", {"new_device"})}, Limits{}, f.hooks());
  CHECK(d.wanted(Kind::FirstContact));
  d.post(event(Kind::FirstContact, "first_contact:1:google"));
  d.post(event(Kind::NewDevice, "new_device:mac:1"));
  d.step();
  REQUIRE(f.sent.size() == 3);
  d.post(event(Kind::FirstContact, "first_contact:1:google"));
  d.step();
  CHECK(f.sent.size() == 3);
  CHECK(d.counts().duplicates == 1);
  CHECK(d.counts().sent == 3);
  auto st = d.status();
  REQUIRE(st.size() == 2);
  CHECK(st[0].sent == 2);
  CHECK(st[1].sent == 1);
  CHECK(st[1].state == "ok");
}

TEST_CASE("the queue is bounded: a full one drops and counts") {
  Fake f;
  Limits l;
  l.queue = 4;
  Dispatcher d({sink("a")}, l, f.hooks());
  for (int i = 0; i < 6; ++i) d.post(event(Kind::NewDevice, std::to_string(i)));
  CHECK(d.counts().dropped == 2);
  CHECK(d.counts().posted == 4);
}

TEST_CASE("a failing sink is retried on the fake clock and shows why") {
  Fake f;
  Limits l;
  l.backoff_first_ms = 2000;
  Dispatcher d({sink("down")}, l, f.hooks());
  f.fail = "Couldn't connect to server";
  d.post(event(Kind::DiskLow, "disk_low:1"));
  int64_t next = d.step();
  CHECK(next == f.now + 2000);
  CHECK(d.status()[0].state == "retrying");
  CHECK(d.status()[0].last_error == "Couldn't connect to server");
  f.now += 1000;
  d.step();
  CHECK(f.sent.size() == 1);
  f.now += 1000;
  f.fail = "";
  d.step();
  CHECK(f.sent.size() == 2);
  CHECK(d.status()[0].state == "ok");
  CHECK(d.step() == INT64_MAX);
}

TEST_CASE("a burst of events reaches a sink as singles up to the burst, then one digest") {
  Fake f;
  Limits l;
  l.burst = 2;
  Dispatcher d({sink("a")}, l, f.hooks());
  for (int i = 0; i < 30; ++i) d.post(event(Kind::FirstContact, "k" + std::to_string(i)));
  d.step();
  REQUIRE(f.sent.size() == 1);
  CHECK(f.sent[0].second.digest());
  CHECK(f.sent[0].second.events.size() + f.sent[0].second.more == 30);
}

TEST_CASE("new sinks (SIGHUP): an unchanged sink keeps its counts, a changed one starts afresh") {
  Fake f;
  Dispatcher d({sink("kept", {"new_device"}), sink("moved", {"new_device"})}, Limits{}, f.hooks());
  CHECK(!d.wanted(Kind::DiskLow));
  d.post(event(Kind::NewDevice, "new_device:1"));
  d.step();
  REQUIRE(f.sent.size() == 2);
  CHECK(!d.set_sinks({sink("kept", {"new_device"}), sink("moved", {"new_device"})}));

  SinkSettings moved = sink("moved", {"new_device", "disk_low"});
  moved.url = "http://127.0.0.1:2/";
  REQUIRE(d.set_sinks({sink("kept", {"new_device"}), moved}));
  // Asked before the thread's next round: the detectors look at once.
  CHECK(d.wanted(Kind::DiskLow));
  d.post(event(Kind::DiskLow, "disk_low:1"));
  d.step();
  REQUIRE(f.sent.size() == 3);
  CHECK(f.sent[2].first == "moved");
  auto st = d.status();
  REQUIRE(st.size() == 2);
  CHECK(st[0].sent == 1);  // kept from before
  CHECK(st[1].sent == 1);  // afresh

  REQUIRE(d.set_sinks({}));
  CHECK(!d.wanted(Kind::Test));
  d.post(event(Kind::NewDevice, "new_device:2"));
  d.step();
  CHECK(f.sent.size() == 3);
  CHECK(d.status().empty());
}

#include <catch2/catch.hpp>

#include <climits>

#include "alerts/deliver.hpp"
#include "alerts/health.hpp"
#include "alerts/outbox.hpp"

using namespace hush::alerts;

namespace {
Event event(const std::string& key) {
  Event e;
  e.kind = Kind::FirstContact;
  e.key = key;
  e.title = "title " + key;
  e.text = "text " + key;
  return e;
}
SinkSettings webhook() {
  SinkSettings s;
  s.name = "hook";
  s.kind = "webhook";
  s.url = "http://127.0.0.1:1/";
  return s;
}
}  // namespace

TEST_CASE("a key is sent once within the window, again after it") {
  Limits l;
  l.dedupe_window_ms = 1000;
  Dedupe d(l);
  CHECK(d.first("a", 0));
  CHECK_FALSE(d.first("a", 500));
  CHECK(d.first("b", 500));
  CHECK(d.first("a", 1001));
  CHECK_FALSE(d.first("a", 1500));
}

TEST_CASE("de-duplication remembers a bounded number of keys, the oldest going first") {
  Limits l;
  l.dedupe_keys = 3;
  Dedupe d(l);
  for (const char* k : {"a", "b", "c", "d"}) CHECK(d.first(k, 10));
  CHECK(d.size() <= 3);
  CHECK_FALSE(d.first("d", 11));
  CHECK(d.first("a", 12));  // forgotten to make room
}

TEST_CASE("events within the burst go one by one; a larger burst becomes one digest") {
  Limits l;
  l.burst = 3;
  l.refill_ms = 10000;
  l.digest_lines = 4;
  Outbox o(webhook(), l);
  int64_t now = 1000000;
  for (int i = 0; i < 2; ++i) o.add(event("s" + std::to_string(i)));
  for (int i = 0; i < 2; ++i) {
    auto m = o.take(now);
    REQUIRE(m);
    CHECK_FALSE(m->digest());
    CHECK(m->title == "title s" + std::to_string(i));
    o.done("", now);
  }
  // One token is left; seven at once become one digest that lists four.
  for (int i = 0; i < 7; ++i) o.add(event("d" + std::to_string(i)));
  auto m = o.take(now);
  REQUIRE(m);
  CHECK(m->digest());
  CHECK(m->events.size() == 4);
  CHECK(m->more == 3);
  CHECK(m->title == "hush: 7 alerts");
  CHECK(m->text.find("and 3 more") != std::string::npos);
  o.done("", now);
  CHECK(o.status().sent == 3);
  CHECK(o.status().digests == 1);
  // The bucket is empty: the next event waits for a token.
  o.add(event("late"));
  CHECK_FALSE(o.take(now + 5000));
  CHECK(o.next_due(now + 5000) > now + 5000);
  CHECK(o.next_due(now + 5000) <= now + 10001);
  auto late = o.take(now + 10001);
  REQUIRE(late);
  CHECK(late->title == "title late");
}

TEST_CASE("a failed delivery is retried with doubling back-off, then given up") {
  Limits l;
  l.retries = 3;
  l.backoff_first_ms = 1000;
  l.backoff_max_ms = 3000;
  Outbox o(webhook(), l);
  int64_t now = 5000000;
  o.add(event("x"));
  auto m = o.take(now);
  REQUIRE(m);
  o.done("HTTP 500", now);
  CHECK(o.status().state == "retrying");
  CHECK(o.status().last_error == "HTTP 500");
  CHECK(o.status().next_retry_ms == now + 1000);
  CHECK_FALSE(o.take(now + 999));
  for (int64_t wait : {1000, 2000, 3000}) {  // 4000 capped at 3000
    int64_t due = o.next_due(now);
    CHECK(due == now + wait);
    now = due;
    m = o.take(now);
    REQUIRE(m);
    CHECK(m->title == "title x");
    o.done("connection refused", now);
  }
  CHECK(o.status().state == "failed");
  CHECK(o.status().failed == 1);
  CHECK(o.next_due(now) == INT64_MAX);
  // A later event is tried afresh and clears the state.
  o.add(event("y"));
  m = o.take(now + 1);
  REQUIRE(m);
  CHECK(m->attempt == 0);
  o.done("", now + 1);
  CHECK(o.status().state == "ok");
  CHECK(o.status().last_ok_ms == now + 1);
}

TEST_CASE("a full outbox drops and counts") {
  Limits l;
  l.outbox = 2;
  Outbox o(webhook(), l);
  CHECK(o.add(event("a")));
  CHECK(o.add(event("b")));
  CHECK_FALSE(o.add(event("c")));
  CHECK(o.status().dropped == 1);
  CHECK(o.status().pending == 2);
}

TEST_CASE("sink settings are checked with clear messages") {
  SinkSettings s = webhook();
  CHECK(check(s, 0).empty());
  s.url = "ftp://x";
  REQUIRE(check(s, 0).size() == 1);
  CHECK(check(s, 0)[0].find("alerts.sink[0] (hook): url: expected http://") == 0);
  s = webhook();
  s.events = {"first_contact", "nonsense"};
  REQUIRE(check(s, 1).size() == 1);
  CHECK(check(s, 1)[0].find("unknown event 'nonsense'") != std::string::npos);
  s = webhook();
  s.kind = "pager";
  CHECK(check(s, 0)[0].find("kind: expected") != std::string::npos);
  SinkSettings mail;
  mail.kind = "email";
  mail.url = "smtp://mail.example.net:587";
  mail.from = "hush@example.net";
  mail.to = {"me@example.net"};
  CHECK(check(mail, 0).empty());
  mail.plain = true;
  CHECK(check(mail, 0).size() == 1);  // plain only to loopback
  mail.url = "smtp://127.0.0.1:2525";
  CHECK(check(mail, 0).empty());
  mail.to = {"nobody"};
  CHECK(check(mail, 0).size() == 1);
  mail.to = {"me@example.net"};
  mail.ca_file = "/nonexistent/ca.pem";
  REQUIRE(check(mail, 0).size() == 1);
  CHECK(check(mail, 0)[0].find("ca_file: /nonexistent/ca.pem cannot be read") != std::string::npos);
}

TEST_CASE("a sink gets the kinds it asked for, and always the test") {
  SinkSettings s = webhook();
  CHECK(s.wants(Kind::DiskLow));
  s.events = {"new_device"};
  CHECK(s.wants(Kind::NewDevice));
  CHECK_FALSE(s.wants(Kind::FirstContact));
  CHECK(s.wants(Kind::Test));
}

TEST_CASE("the webhook's JSON names the event and its fields; a digest lists them") {
  Event e = event("k");
  e.fields = {{"device", "tv"}, {"company", "Samsung"}};
  e.time_ms = 1700000000123;
  Message one = digest_of({e}, Limits{});
  std::string body = webhook_body(one);
  CHECK(body.find("\"event\":\"first_contact\"") != std::string::npos);
  CHECK(body.find("\"company\":\"Samsung\"") != std::string::npos);
  CHECK(body.find("\"time\":1700000000") != std::string::npos);
  Message two = digest_of({e, event("j")}, Limits{});
  body = webhook_body(two);
  CHECK(body.find("\"event\":\"digest\"") != std::string::npos);
  CHECK(body.find("\"key\":\"j\"") != std::string::npos);
}

TEST_CASE("all upstreams failing needs failures, no answers, and time") {
  UpstreamHealth h(30000);
  CHECK(h.update({10, 5}, {0, 0}, 0) == 0);
  CHECK(h.update({10, 5}, {3, 0}, 10000) == 0);       // failing from here
  CHECK(h.update({10, 5}, {3, 0}, 30000) == 0);       // no traffic: still failing, not yet long
  CHECK(h.update({10, 5}, {9, 4}, 40000) == 10000);   // 30 s on
  CHECK(h.update({10, 6}, {9, 4}, 45000) == 0);       // an answer ends it
  CHECK(h.update({10, 6}, {9, 5}, 50000) == 0);
}

TEST_CASE("the disk filling up alerts once below the line, again only after it rose a tenth above") {
  DiskHealth d;
  CHECK_FALSE(d.update(5000, 1024));
  CHECK(d.update(1000, 1024));        // below: once
  CHECK_FALSE(d.update(900, 1024));   // still low: no repeat
  CHECK_FALSE(d.update(1100, 1024));  // over the line, not a tenth over
  CHECK_FALSE(d.update(1000, 1024));
  CHECK_FALSE(d.update(1200, 1024));  // a tenth over: the spell ends
  CHECK(d.update(1000, 1024));
}

TEST_CASE("a subscription is failing after a day of failed updates since its last good copy") {
  constexpr int64_t kDay = 86400, kNow = 10 * kDay;
  CHECK_FALSE(subscription_failing(false, kNow - 5 * kDay, 0, kNow));        // the last update worked
  CHECK_FALSE(subscription_failing(true, kNow - kDay + 60, 0, kNow));        // failing for under a day
  CHECK(subscription_failing(true, kNow - kDay, 0, kNow));
  CHECK_FALSE(subscription_failing(true, 0, kNow - 3600, kNow));             // added an hour ago, never downloaded
  CHECK(subscription_failing(true, 0, kNow - 2 * kDay, kNow));
}

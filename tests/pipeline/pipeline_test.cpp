// Whole-query scenarios through the pipeline with a fake clock and canned
// upstream replies: query, expected answer, time passing.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "pipeline/pipeline.hpp"
#include "support/wire_builder.hpp"

using namespace hush;
using namespace hush::test;

namespace {
std::shared_ptr<const blocklists::Policy> policy_denying(std::vector<std::string> deny,
                                                        std::vector<std::string> allow = {}) {
  blocklists::PolicyConfig pc;
  for (auto& d : deny) pc.deny.push_back({d, {"default"}});
  for (auto& a : allow) pc.allow.push_back({a, {"default"}});
  pc.clients.push_back({"10.0.0.0/8", {"kids"}, ""});
  return blocklists::Policy::build(pc, nullptr);
}

AccessSettings home_networks() {
  std::vector<std::string> errors;
  AccessSettings a;
  a.allow = parse_networks(default_allowed_networks(), "test", errors);
  REQUIRE(errors.empty());
  return a;
}

void set_client(QueryContext& ctx, const char* ip) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ctx.client.addr);
  v4->sin_family = AF_INET;
  REQUIRE(inet_pton(AF_INET, ip, &v4->sin_addr) == 1);
}

struct Scenario {
  explicit Scenario(cache::TtlLimits limits = {}) : cache(1000, limits) {}
  cache::Cache cache;
  Counters counters;
  PolicyStore policies;
  AccessSettings access = home_networks();
  RateLimiter limiter;
  LocalStore local;
  std::vector<upstream::ForwardZone> forwards;
  Pipeline pipeline{cache, counters, policies, BlockSettings{}, access, limiter, local, forwards};
  uint8_t out[65535];

  // Asks as 192.168.1.10 unless the context already names a client.
  Verdict ask(const std::vector<uint8_t>& msg, uint64_t now, QueryContext& ctx,
              Transport t = Transport::Udp) {
    if (ctx.client.addr.ss_family == 0) set_client(ctx, "192.168.1.10");
    ctx.msg = msg.data();
    ctx.len = msg.size();
    ctx.now_ms = now;
    ctx.client.transport = t;
    ctx.out = out;
    ctx.out_cap = t == Transport::Udp ? 1232 : sizeof out;
    return pipeline.on_query(ctx);
  }
};
}  // namespace

TEST_CASE("a miss forwards, the reply is cached, and later hits count the TTL down") {
  Scenario s;
  QueryContext first;
  REQUIRE(s.ask(make_query("www.test.", LDNS_RR_TYPE_A, 1), 10'000, first) == Verdict::Forward);
  CHECK(first.outcome == Outcome::Forwarded);

  auto reply = make_reply("www.test.", LDNS_RR_TYPE_A, 999, LDNS_RCODE_NOERROR,
                          {"www.test. 300 IN A 192.0.2.1"}, {}, 1232);
  cache::Entry prepared;
  REQUIRE(s.pipeline.on_reply(first.key_view(), first.q, first.route, reply.data(), reply.size(), 10'000, prepared));
  upstream::Waiter w{first.client, first.q, 10'000};
  size_t n = s.pipeline.answer_waiter(w, prepared, s.out, sizeof s.out);
  auto p = parse(s.out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_id(p.get()) == 1);
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0)) == 300);

  // 42 seconds later, from another client with another ID and letter case.
  QueryContext later;
  REQUIRE(s.ask(make_query("WWW.TEST.", LDNS_RR_TYPE_A, 2), 52'000, later) == Verdict::Answer);
  CHECK(later.outcome == Outcome::Cached);
  p = parse(s.out, later.out_len);
  REQUIRE(p);
  CHECK(ldns_pkt_id(p.get()) == 2);
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0)) == 258);
  CHECK(s.out[13] == 'W');

  // After the TTL the entry is gone and the question goes upstream again.
  QueryContext expired;
  CHECK(s.ask(make_query("www.test.", LDNS_RR_TYPE_A, 3), 311'000, expired) == Verdict::Forward);
  CHECK(s.counters.cache_hits.load() == 1);
  CHECK(s.counters.cache_misses.load() == 2);
}

TEST_CASE("malformed queries are answered or dropped before any other stage") {
  Scenario s;
  QueryContext qr;
  auto response = make_reply("a.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR, {});
  CHECK(s.ask(response, 0, qr) == Verdict::Drop);

  QueryContext badvers;
  auto q = make_query("a.test.", LDNS_RR_TYPE_A, 5, 1232);
  q[q.size() - 5] = 1;  // OPT TTL field: EDNS version 1
  REQUIRE(s.ask(q, 0, badvers) == Verdict::Answer);
  auto p = parse(s.out, badvers.out_len);
  REQUIRE(p);
  CHECK(ldns_pkt_edns_extended_rcode(p.get()) == 1);
  CHECK(s.counters.badvers.load() == 1);
  CHECK(s.counters.dropped.load() == 1);
}

TEST_CASE("answers from upstream respect each waiter's transport") {
  Scenario s;
  QueryContext ctx;
  REQUIRE(s.ask(make_query("big.test.", LDNS_RR_TYPE_TXT, 1), 0, ctx) == Verdict::Forward);
  std::vector<std::string> txt;
  for (int i = 0; i < 4; ++i) txt.push_back("big.test. 60 IN TXT \"" + std::string(200, 'y') + "\"");
  auto reply = make_reply("big.test.", LDNS_RR_TYPE_TXT, 1, LDNS_RCODE_NOERROR, txt);
  cache::Entry prepared;
  REQUIRE(s.pipeline.on_reply(ctx.key_view(), ctx.q, ctx.route, reply.data(), reply.size(), 0, prepared));

  upstream::Waiter udp{ctx.client, ctx.q, 0};
  auto p = parse(s.out, s.pipeline.answer_waiter(udp, prepared, s.out, sizeof s.out));
  REQUIRE(p);
  CHECK(ldns_pkt_tc(p.get()));

  upstream::Waiter tcp = udp;
  tcp.client.transport = Transport::Tcp;
  p = parse(s.out, s.pipeline.answer_waiter(tcp, prepared, s.out, sizeof s.out));
  REQUIRE(p);
  CHECK_FALSE(ldns_pkt_tc(p.get()));
  CHECK(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())) == 4);

  p = parse(s.out, s.pipeline.answer_failed(udp, s.out, sizeof s.out));
  REQUIRE(p);
  CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_SERVFAIL);
}


TEST_CASE("a denied name gets the sinkhole answer with EDE 15 naming the list") {
  Scenario s;
  s.policies.publish(policy_denying({"||tracker.test^"}));
  QueryContext a;
  REQUIRE(s.ask(make_query("x.Tracker.test.", LDNS_RR_TYPE_A, 4, 1232), 0, a) == Verdict::Answer);
  CHECK(a.outcome == Outcome::Blocked);
  CHECK(a.reason == "denylist");
  auto p = parse(s.out, a.out_len);
  REQUIRE(p);
  CHECK(first_answer(p.get()) == "0.0.0.0");
  CHECK(ede_code(p.get()) == 15);

  QueryContext aaaa;
  REQUIRE(s.ask(make_query("tracker.test.", LDNS_RR_TYPE_AAAA, 5, 1232), 0, aaaa) == Verdict::Answer);
  p = parse(s.out, aaaa.out_len);
  REQUIRE(p);
  CHECK(first_answer(p.get()) == "::");

  QueryContext mx;
  REQUIRE(s.ask(make_query("tracker.test.", LDNS_RR_TYPE_MX, 6), 0, mx) == Verdict::Answer);
  p = parse(s.out, mx.out_len);
  REQUIRE(p);
  CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_NOERROR);
  CHECK(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())) == 0);
  REQUIRE(ldns_rr_list_rr_count(ldns_pkt_authority(p.get())) == 1);
  CHECK(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_authority(p.get()), 0)) == LDNS_RR_TYPE_SOA);

  QueryContext other;
  CHECK(s.ask(make_query("fine.test.", LDNS_RR_TYPE_A, 7), 0, other) == Verdict::Forward);
  CHECK(s.counters.blocked.load() == 3);
}

TEST_CASE("special names are answered NXDOMAIN with a SOA") {
  Scenario s;
  s.policies.publish(policy_denying({}));
  QueryContext ctx;
  REQUIRE(s.ask(make_query("use-application-dns.net.", LDNS_RR_TYPE_A, 1), 0, ctx) == Verdict::Answer);
  auto p = parse(s.out, ctx.out_len);
  REQUIRE(p);
  CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_NXDOMAIN);
  CHECK(ldns_rr_list_rr_count(ldns_pkt_authority(p.get())) == 1);
}

TEST_CASE("a CNAME chain that reaches a blocked name is blocked, from upstream and from cache") {
  Scenario s;
  s.policies.publish(policy_denying({"||tracker.test^"}));
  QueryContext first;
  REQUIRE(s.ask(make_query("shop.test.", LDNS_RR_TYPE_A, 1, 1232), 0, first) == Verdict::Forward);
  auto reply = make_reply("shop.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR,
                          {"shop.test. 300 IN CNAME metrics.shop.test.",
                           "metrics.shop.test. 300 IN CNAME eu.tracker.test.",
                           "eu.tracker.test. 300 IN A 192.0.2.66"});
  cache::Entry prepared;
  REQUIRE(s.pipeline.on_reply(first.key_view(), first.q, first.route, reply.data(), reply.size(), 0, prepared));
  CHECK(prepared.cname_targets == std::vector<std::string>{"metrics.shop.test", "eu.tracker.test"});
  upstream::Waiter w{first.client, first.q, 0, first.groups, true};
  auto p = parse(s.out, s.pipeline.answer_waiter(w, prepared, s.out, sizeof s.out));
  REQUIRE(p);
  CHECK(first_answer(p.get()) == "0.0.0.0");
  CHECK(ede_code(p.get()) == 15);

  QueryContext again;
  REQUIRE(s.ask(make_query("shop.test.", LDNS_RR_TYPE_A, 2, 1232), 10, again) == Verdict::Answer);
  CHECK(again.outcome == Outcome::Blocked);
  p = parse(s.out, again.out_len);
  REQUIRE(p);
  CHECK(first_answer(p.get()) == "0.0.0.0");
}

TEST_CASE("an explicitly allowed name is not blocked through its CNAMEs") {
  Scenario s;
  s.policies.publish(policy_denying({"||tracker.test^"}, {"shop.test"}));
  QueryContext first;
  REQUIRE(s.ask(make_query("shop.test.", LDNS_RR_TYPE_A, 1), 0, first) == Verdict::Forward);
  auto reply = make_reply("shop.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR,
                          {"shop.test. 300 IN CNAME eu.tracker.test.", "eu.tracker.test. 300 IN A 192.0.2.66"});
  cache::Entry prepared;
  REQUIRE(s.pipeline.on_reply(first.key_view(), first.q, first.route, reply.data(), reply.size(), 0, prepared));
  upstream::Waiter w{first.client, first.q, 0, first.groups, first.decision.action != blocklists::Action::Allow};
  auto p = parse(s.out, s.pipeline.answer_waiter(w, prepared, s.out, sizeof s.out));
  REQUIRE(p);
  CHECK(first_answer(p.get()) == "eu.tracker.test.");
}

TEST_CASE("a swapped policy applies to the next query") {
  Scenario s;
  s.policies.publish(policy_denying({}));
  QueryContext before;
  CHECK(s.ask(make_query("ads.test.", LDNS_RR_TYPE_A, 1), 0, before) == Verdict::Forward);
  s.policies.publish(policy_denying({"ads.test"}));
  QueryContext after;
  CHECK(s.ask(make_query("ads.test.", LDNS_RR_TYPE_A, 2), 0, after) == Verdict::Answer);
  CHECK(after.outcome == Outcome::Blocked);
}

TEST_CASE("blocking modes answer as configured") {
  struct Case {
    dns::BlockMode mode;
    ldns_pkt_rcode rcode;
    std::string answer;
  };
  for (const Case& c : {Case{dns::BlockMode::NxDomain, LDNS_RCODE_NXDOMAIN, ""},
                        Case{dns::BlockMode::NoData, LDNS_RCODE_NOERROR, ""},
                        Case{dns::BlockMode::Ip, LDNS_RCODE_NOERROR, "192.0.2.53"}}) {
    cache::Cache cache{10, {}};
    Counters counters;
    PolicyStore policies;
    policies.publish(policy_denying({"ads.test"}));
    BlockSettings settings;
    settings.answer.mode = c.mode;
    settings.answer.ttl = 42;
    uint8_t ip[4] = {192, 0, 2, 53};
    std::memcpy(settings.answer.ipv4, ip, 4);
    AccessSettings access = home_networks();
    RateLimiter limiter;
    LocalStore local;
    std::vector<upstream::ForwardZone> forwards;
    Pipeline pipeline{cache, counters, policies, settings, access, limiter, local, forwards};
    auto msg = make_query("ads.test.", LDNS_RR_TYPE_A, 1);
    uint8_t out[1232];
    QueryContext ctx;
    set_client(ctx, "192.168.1.10");
    ctx.msg = msg.data();
    ctx.len = msg.size();
    ctx.out = out;
    ctx.out_cap = sizeof out;
    REQUIRE(pipeline.on_query(ctx) == Verdict::Answer);
    auto p = parse(out, ctx.out_len);
    REQUIRE(p);
    CHECK(ldns_pkt_get_rcode(p.get()) == c.rcode);
    CHECK(first_answer(p.get()) == c.answer);
    ldns_rr_list* section = c.answer.empty() ? ldns_pkt_authority(p.get()) : ldns_pkt_answer(p.get());
    CHECK(ldns_rr_ttl(ldns_rr_list_rr(section, 0)) == 42);
  }
}

TEST_CASE("clients in another group are not blocked by default-group rules") {
  Scenario s;
  s.policies.publish(policy_denying({"ads.test"}));
  auto msg = make_query("ads.test.", LDNS_RR_TYPE_A, 1);
  QueryContext ctx;
  set_client(ctx, "10.1.2.3");
  CHECK(s.ask(msg, 0, ctx) == Verdict::Forward);
}

TEST_CASE("clients outside the allowed networks are refused or ignored") {
  Scenario s;
  QueryContext outside;
  set_client(outside, "203.0.113.9");
  REQUIRE(s.ask(make_query("a.test.", LDNS_RR_TYPE_A, 1), 0, outside) == Verdict::Answer);
  // Strangers never reach the query log: no row, no device.
  CHECK(outside.outcome == Outcome::NotAllowed);
  CHECK_FALSE(log_status(outside.outcome));
  auto p = parse(s.out, outside.out_len);
  REQUIRE(p);
  CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_REFUSED);

  s.access.drop_refused = true;
  QueryContext dropped;
  set_client(dropped, "203.0.113.9");
  CHECK(s.ask(make_query("a.test.", LDNS_RR_TYPE_A, 2), 0, dropped) == Verdict::Drop);
  CHECK_FALSE(log_status(dropped.outcome));
  CHECK(s.counters.refused_network.load() == 2);
}

TEST_CASE("a client over its budget is refused until the next window") {
  Scenario s;
  s.access.rate_limit = 5;
  s.access.rate_window_s = 60;
  auto msg = make_query("a.test.", LDNS_RR_TYPE_A, 1);
  int forwarded = 0, refused = 0;
  for (int i = 0; i < 8; ++i) {
    QueryContext ctx;
    Verdict v = s.ask(msg, 1000, ctx);
    (v == Verdict::Forward ? forwarded : refused)++;
  }
  CHECK(forwarded == 5);
  CHECK(refused == 3);
  QueryContext other_client;
  set_client(other_client, "192.168.1.11");
  CHECK(s.ask(msg, 1000, other_client) == Verdict::Forward);
  QueryContext next_window;
  CHECK(s.ask(msg, 61'000, next_window) == Verdict::Forward);
  CHECK(s.counters.rate_limited.load() == 3);

  // Loopback is exempt unless asked for.
  for (int i = 0; i < 8; ++i) {
    QueryContext local;
    set_client(local, "127.0.0.1");
    CHECK(s.ask(msg, 1000, local) == Verdict::Forward);
  }
}

TEST_CASE("CHAOS-class questions are refused locally, never forwarded") {
  Scenario s;
  for (const char* name : {"version.bind.", "hostname.bind.", "id.server.", "anything.test."}) {
    INFO(name);
    auto msg = make_query(name, LDNS_RR_TYPE_TXT, 7);
    dns::put16(msg.data() + msg.size() - 2, dns::kClassCh);  // QCLASS, the question's last field
    QueryContext ctx;
    REQUIRE(s.ask(msg, 0, ctx) == Verdict::Answer);
    auto p = parse(s.out, ctx.out_len);
    REQUIRE(p);
    CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_REFUSED);
    CHECK(ldns_pkt_ancount(p.get()) == 0);
  }
  CHECK(s.counters.cache_misses.load() == 0);
}

TEST_CASE("ANY is answered locally with one HINFO record") {
  Scenario s;
  QueryContext ctx;
  REQUIRE(s.ask(make_query("example.test.", LDNS_RR_TYPE_ANY, 1), 0, ctx) == Verdict::Answer);
  auto p = parse(s.out, ctx.out_len);
  REQUIRE(p);
  REQUIRE(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())) == 1);
  CHECK(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0)) == LDNS_RR_TYPE_HINFO);
  CHECK(ctx.out_len < 100);
}

namespace {
std::shared_ptr<const local::Data> home_data(std::vector<std::string> records) {
  local::Settings settings;
  settings.records = std::move(records);
  std::vector<local::LoadError> errors;
  auto d = local::load(settings, errors);
  REQUIRE(errors.empty());
  return d;
}
}  // namespace

TEST_CASE("local records are answered authoritatively, before the lists") {
  Scenario s;
  s.policies.publish(policy_denying({"||lan^"}));
  s.local.publish(home_data({"nas.lan A 192.168.1.10"}));
  QueryContext ctx;
  REQUIRE(s.ask(make_query("NAS.lan.", LDNS_RR_TYPE_A, 1), 0, ctx) == Verdict::Answer);
  CHECK(ctx.outcome == Outcome::Local);
  auto p = parse(s.out, ctx.out_len);
  REQUIRE(p);
  CHECK(ldns_pkt_aa(p.get()));
  CHECK(first_answer(p.get()) == "192.168.1.10");
  CHECK(s.out[13] == 'N');

  QueryContext ptr;
  REQUIRE(s.ask(make_query("10.1.168.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, 2), 0, ptr) == Verdict::Answer);
  p = parse(s.out, ptr.out_len);
  REQUIRE(p);
  CHECK(first_answer(p.get()) == "nas.lan.");
}

TEST_CASE("the local domain and private reverse zones never go upstream") {
  Scenario s;
  s.local.publish(home_data({}));
  for (const char* name : {"unknown.lan.", "laptop.", "9.9.168.192.in-addr.arpa."}) {
    INFO(name);
    QueryContext ctx;
    REQUIRE(s.ask(make_query(name, LDNS_RR_TYPE_A, 1), 0, ctx) == Verdict::Answer);
    auto p = parse(s.out, ctx.out_len);
    REQUIRE(p);
    CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_NXDOMAIN);
    REQUIRE(ldns_rr_list_rr_count(ldns_pkt_authority(p.get())) == 1);
    CHECK(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_authority(p.get()), 0)) == LDNS_RR_TYPE_SOA);
  }
  QueryContext public_ptr;
  CHECK(s.ask(make_query("8.8.8.8.in-addr.arpa.", LDNS_RR_TYPE_PTR, 1), 0, public_ptr) == Verdict::Forward);
}

TEST_CASE("forward zones route names to their own servers") {
  Scenario s;
  s.local.publish(home_data({"nas.lan A 192.168.1.10"}));
  s.forwards = {{"lan", {"192.168.1.1"}, {}}, {"168.192.in-addr.arpa", {"192.168.1.1"}, {}},
                {"corp.example", {"10.0.0.1"}, {}}};
  QueryContext dhcp_name;
  REQUIRE(s.ask(make_query("phone.lan.", LDNS_RR_TYPE_A, 1), 0, dhcp_name) == Verdict::Forward);
  CHECK(dhcp_name.route == 1);
  QueryContext reverse;
  REQUIRE(s.ask(make_query("7.1.168.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, 2), 0, reverse) == Verdict::Forward);
  CHECK(reverse.route == 2);
  QueryContext corp;
  REQUIRE(s.ask(make_query("wiki.corp.example.", LDNS_RR_TYPE_A, 3), 0, corp) == Verdict::Forward);
  CHECK(corp.route == 3);
  QueryContext internet;
  REQUIRE(s.ask(make_query("example.com.", LDNS_RR_TYPE_A, 4), 0, internet) == Verdict::Forward);
  CHECK(internet.route == 0);
  QueryContext local_first;
  CHECK(s.ask(make_query("nas.lan.", LDNS_RR_TYPE_A, 5), 0, local_first) == Verdict::Answer);
}

TEST_CASE("hush's own name answers with the address of the client's interface") {
  Scenario s;
  local::Settings settings;
  settings.aliases = {"pi.hole"};
  std::vector<local::LoadError> errors;
  auto data = std::const_pointer_cast<local::Data>(local::load(settings, errors));
  local::InterfaceAddress lo, wifi, wifi6;
  lo.interface = "lo";
  lo.family = AF_INET;
  lo.addr[0] = 127, lo.addr[3] = 1;
  lo.mask[0] = 255;
  wifi.interface = "wlan0";
  wifi.family = AF_INET;
  uint8_t w[4] = {192, 168, 1, 2}, m[4] = {255, 255, 255, 0};
  std::memcpy(wifi.addr, w, 4);
  std::memcpy(wifi.mask, m, 4);
  wifi6.interface = "wlan0";
  wifi6.family = AF_INET6;
  wifi6.addr[0] = 0xfd, wifi6.addr[15] = 2;
  data->interfaces = local::Interfaces({lo, wifi, wifi6});
  s.local.publish(data);

  QueryContext from_lan;
  set_client(from_lan, "192.168.1.77");
  REQUIRE(s.ask(make_query("hush.lan.", LDNS_RR_TYPE_A, 1), 0, from_lan) == Verdict::Answer);
  auto p = parse(s.out, from_lan.out_len);
  REQUIRE(p);
  CHECK(first_answer(p.get()) == "192.168.1.2");

  QueryContext v6;
  set_client(v6, "192.168.1.77");
  REQUIRE(s.ask(make_query("pi.hole.", LDNS_RR_TYPE_AAAA, 2), 0, v6) == Verdict::Answer);
  p = parse(s.out, v6.out_len);
  REQUIRE(p);
  CHECK(first_answer(p.get()) == "fd00::2");

  QueryContext from_lo;
  set_client(from_lo, "127.0.0.1");
  REQUIRE(s.ask(make_query("hush.", LDNS_RR_TYPE_A, 3), 0, from_lo) == Verdict::Answer);
  p = parse(s.out, from_lo.out_len);
  REQUIRE(p);
  CHECK(first_answer(p.get()) == "127.0.0.1");
}

TEST_CASE("single labels other than address questions are top-level domains and go upstream") {
  Scenario s;
  s.local.publish(home_data({}));
  QueryContext mx;
  CHECK(s.ask(make_query("test.", LDNS_RR_TYPE_MX, 1), 0, mx) == Verdict::Forward);
  QueryContext a;
  CHECK(s.ask(make_query("laptop.", LDNS_RR_TYPE_AAAA, 2), 0, a) == Verdict::Answer);
}

namespace {
// Forwards `name`/`type`, answers it with `records`, and returns the answer
// the waiter got; `route` stands for the forward zone the question went to.
Pkt forward_and_answer(Scenario& s, const std::string& name, ldns_rr_type type,
                       const std::vector<std::string>& records, cache::Entry& prepared, uint8_t route = 0,
                       const blocklists::Decision** blocked_by = nullptr) {
  QueryContext ctx;
  REQUIRE(s.ask(make_query(name, type, 7, 1232), 0, ctx) == Verdict::Forward);
  auto reply = make_reply(name, type, 7, LDNS_RCODE_NOERROR, records, {}, 1232);
  REQUIRE(s.pipeline.on_reply(ctx.key_view(), ctx.q, route, reply.data(), reply.size(), 0, prepared));
  upstream::Waiter w{ctx.client, ctx.q, 0};
  return parse(s.out, s.pipeline.answer_waiter(w, prepared, s.out, sizeof s.out, blocked_by));
}
}  // namespace

TEST_CASE("rebinding: a public name with a private address is answered blocked, from the cache too") {
  Scenario s;
  cache::Entry prepared;
  const blocklists::Decision* blocked_by = nullptr;
  auto p = forward_and_answer(s, "evil.example.", LDNS_RR_TYPE_A, {"evil.example. 300 IN A 192.168.1.1"}, prepared,
                              0, &blocked_by);
  REQUIRE(p);
  CHECK(prepared.rebind);
  CHECK(first_answer(p.get()) == "0.0.0.0");
  CHECK(ede_code(p.get()) == 15);
  REQUIRE(blocked_by);
  CHECK(blocked_by->list == "rebind");
  CHECK(s.counters.rebind.load() == 1);

  QueryContext again;
  REQUIRE(s.ask(make_query("evil.example.", LDNS_RR_TYPE_A, 8, 1232), 1'000, again) == Verdict::Answer);
  CHECK(again.outcome == Outcome::Blocked);
  CHECK(again.decision.list == "rebind");
  p = parse(s.out, again.out_len);
  REQUIRE(p);
  CHECK(first_answer(p.get()) == "0.0.0.0");
  CHECK(ede_code(p.get()) == 15);
  CHECK(s.counters.rebind.load() == 2);
}

TEST_CASE("rebinding: which addresses count as private") {
  struct Case {
    const char* record;
    bool rebind;
  };
  for (const Case& c : {Case{"a.example. 60 IN A 10.1.2.3", true}, Case{"a.example. 60 IN A 172.16.0.1", true},
                        Case{"a.example. 60 IN A 172.31.255.255", true}, Case{"a.example. 60 IN A 127.0.0.1", true},
                        Case{"a.example. 60 IN A 169.254.1.1", true}, Case{"a.example. 60 IN A 0.0.0.0", true},
                        Case{"a.example. 60 IN A 100.64.0.1", true}, Case{"a.example. 60 IN A 100.128.0.1", false},
                        Case{"a.example. 60 IN A 172.32.0.1", false}, Case{"a.example. 60 IN A 192.0.2.1", false},
                        Case{"a.example. 60 IN A 8.8.8.8", false}}) {
    Scenario s;
    cache::Entry prepared;
    forward_and_answer(s, "a.example.", LDNS_RR_TYPE_A, {c.record}, prepared);
    INFO(c.record);
    CHECK(prepared.rebind == c.rebind);
  }
  for (const Case& c : {Case{"a.example. 60 IN AAAA ::1", true}, Case{"a.example. 60 IN AAAA ::", true},
                        Case{"a.example. 60 IN AAAA fe80::1", true}, Case{"a.example. 60 IN AAAA fd00::10", true},
                        Case{"a.example. 60 IN AAAA fc00::1", true}, Case{"a.example. 60 IN AAAA ::ffff:192.168.0.1", true},
                        Case{"a.example. 60 IN AAAA ::ffff:8.8.8.8", false}, Case{"a.example. 60 IN AAAA 2001:db8::1", false},
                        Case{"a.example. 60 IN AAAA ::2", false}}) {
    Scenario s;
    cache::Entry prepared;
    forward_and_answer(s, "a.example.", LDNS_RR_TYPE_AAAA, {c.record}, prepared);
    INFO(c.record);
    CHECK(prepared.rebind == c.rebind);
  }
  // Behind a CNAME, the address still counts.
  Scenario s;
  cache::Entry prepared;
  forward_and_answer(s, "www.example.", LDNS_RR_TYPE_A,
                     {"www.example. 60 IN CNAME lan.example.", "lan.example. 60 IN A 192.168.0.2"}, prepared);
  CHECK(prepared.rebind);
}

TEST_CASE("rebinding: allowed names, forward zones and switching it off let private addresses through") {
  const std::string record = "plex.direct. 60 IN A 192.168.1.20";
  {
    Scenario s;
    s.pipeline.set_rebind({true, {"plex.direct"}});
    cache::Entry prepared;
    auto p = forward_and_answer(s, "abc.plex.direct.", LDNS_RR_TYPE_A, {"abc." + record}, prepared);
    CHECK_FALSE(prepared.rebind);
    CHECK(first_answer(p.get()) == "192.168.1.20");
    cache::Entry other;
    forward_and_answer(s, "notplex.direct.", LDNS_RR_TYPE_A, {"notplex.direct. 60 IN A 192.168.1.20"}, other);
    CHECK(other.rebind);
  }
  {
    Scenario s;
    cache::Entry prepared;
    auto p = forward_and_answer(s, "router.corp.", LDNS_RR_TYPE_A, {"router.corp. 60 IN A 10.0.0.1"}, prepared, 1);
    CHECK_FALSE(prepared.rebind);
    CHECK(first_answer(p.get()) == "10.0.0.1");
  }
  {
    Scenario s;
    s.pipeline.set_rebind({false, {}});
    cache::Entry prepared;
    forward_and_answer(s, "evil.example.", LDNS_RR_TYPE_A, {"evil.example. 60 IN A 127.0.0.1"}, prepared);
    CHECK_FALSE(prepared.rebind);
    CHECK(s.counters.rebind.load() == 0);
  }
}

namespace {
// A query with EDNS carrying a Client Subnet option for IPv4 `addr`/`source`.
std::vector<uint8_t> query_with_subnet(uint16_t id, std::vector<uint8_t> addr, uint8_t source) {
  auto q = make_query("cdn.example.", LDNS_RR_TYPE_A, id, 1232);
  std::vector<uint8_t> opt{0, 8, 0, uint8_t(4 + addr.size()), 0, 1, source, 0};
  opt.insert(opt.end(), addr.begin(), addr.end());
  q.insert(q.end(), opt.begin(), opt.end());
  q[q.size() - opt.size() - 1] = uint8_t(opt.size());  // OPT RDLEN
  return q;
}
}  // namespace

TEST_CASE("Client Subnet: dropped by default; when forwarded, cut and part of the cache key") {
  Scenario s;
  QueryContext plain, a, b, c;
  REQUIRE(s.ask(make_query("cdn.example.", LDNS_RR_TYPE_A, 1, 1232), 0, plain) == Verdict::Forward);
  REQUIRE(s.ask(query_with_subnet(2, {198, 51, 100, 77}, 32), 0, a) == Verdict::Forward);
  CHECK(a.q.ecs.family == 0);
  CHECK(a.key_view() == plain.key_view());

  s.pipeline.set_client_subnet({true, 24, 56});
  REQUIRE(s.ask(query_with_subnet(3, {198, 51, 100, 77}, 32), 0, a) == Verdict::Forward);
  REQUIRE(s.ask(query_with_subnet(4, {198, 51, 100, 1}, 32), 0, b) == Verdict::Forward);
  REQUIRE(s.ask(query_with_subnet(5, {203, 0, 113}, 24), 0, c) == Verdict::Forward);
  CHECK(a.q.ecs.family == 1);
  CHECK(a.q.ecs.source == 24);
  CHECK(a.q.ecs.addr[2] == 100);
  CHECK(a.q.ecs.addr[3] == 0);
  CHECK(a.key_view() != plain.key_view());
  CHECK(a.key_view() == b.key_view());  // the same /24
  CHECK(a.key_view() != c.key_view());
}

TEST_CASE("with DNSSEC validation, CD questions are cached apart and AD goes only to DO or AD clients") {
  Scenario s;
  s.pipeline.validate_answers(true);
  QueryContext plain;
  REQUIRE(s.ask(make_query("www.test.", LDNS_RR_TYPE_A, 1), 10'000, plain) == Verdict::Forward);
  CHECK(plain.validate);

  auto cd_query = make_query("www.test.", LDNS_RR_TYPE_A, 2);
  cd_query[3] |= 0x10;
  QueryContext cd;
  REQUIRE(s.ask(cd_query, 10'000, cd) == Verdict::Forward);
  CHECK_FALSE(cd.validate);
  CHECK(cd.key_view() != plain.key_view());

  // A validated (secure) answer is stored with AD.
  auto reply = make_reply("www.test.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR, {"www.test. 300 IN A 192.0.2.1"});
  reply[3] |= 0x20;
  cache::Entry prepared;
  REQUIRE(s.pipeline.on_reply(plain.key_view(), plain.q, plain.route, reply.data(), reply.size(), 10'000, prepared));
  upstream::Waiter w{plain.client, plain.q, 10'000};
  size_t n = s.pipeline.answer_waiter(w, prepared, s.out, sizeof s.out);
  auto p = parse(s.out, n);
  REQUIRE(p);
  CHECK_FALSE(ldns_pkt_ad(p.get()));  // asked without DO and AD (RFC 6840 5.8)

  auto ad_query = make_query("www.test.", LDNS_RR_TYPE_A, 3);
  ad_query[3] |= 0x20;
  QueryContext with_ad;
  REQUIRE(s.ask(ad_query, 11'000, with_ad) == Verdict::Answer);
  auto cached = parse(s.out, with_ad.out_len);
  REQUIRE(cached);
  CHECK(ldns_pkt_ad(cached.get()));

  // The CD question is not answered from the validated entry.
  QueryContext cd_again;
  CHECK(s.ask(cd_query, 11'000, cd_again) == Verdict::Forward);
}

// Whole-query scenarios through the pipeline with a fake clock and canned
// upstream replies: query, expected answer, time passing.
#include <catch2/catch.hpp>

#include "pipeline.hpp"
#include "wire_builder.hpp"

using namespace hush;
using namespace hush::test;

namespace {
struct Scenario {
  cache::Cache cache{1000, {}};
  Counters counters;
  Pipeline pipeline{cache, counters};
  uint8_t out[65535];

  Verdict ask(const std::vector<uint8_t>& msg, uint64_t now, QueryContext& ctx,
              Transport t = Transport::Udp) {
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
  REQUIRE(s.pipeline.on_reply(first.key_view(), reply.data(), reply.size(), 10'000, prepared));
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
  REQUIRE(s.pipeline.on_reply(ctx.key_view(), reply.data(), reply.size(), 0, prepared));

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

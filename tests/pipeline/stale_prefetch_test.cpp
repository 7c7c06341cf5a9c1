// Serve-stale (RFC 8767) and prefetch through the pipeline, with a fake
// clock and canned upstream replies.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "pipeline/pipeline.hpp"
#include "support/wire_builder.hpp"

using namespace hush;
using namespace hush::test;

namespace {
struct Stale {
  cache::Cache cache;
  Counters counters;
  PolicyStore policies;
  AccessSettings access;
  RateLimiter limiter;
  LocalStore local;
  std::vector<upstream::ForwardZone> forwards;
  Pipeline pipeline{cache, counters, policies, BlockSettings{}, access, limiter, local, forwards};
  uint8_t out[65535];

  explicit Stale(uint32_t stale_max_s = 86400) : cache(1000, limits(stale_max_s)) {
    std::vector<std::string> errors;
    access.allow = parse_networks(default_allowed_networks(), "test", errors);
    REQUIRE(errors.empty());
  }
  static cache::TtlLimits limits(uint32_t stale_max_s) {
    cache::TtlLimits l;
    l.stale_max = stale_max_s;
    return l;
  }

  Verdict ask(const std::string& name, uint64_t now, QueryContext& ctx, uint16_t id = 1) {
    query_ = make_query(name, LDNS_RR_TYPE_A, id, 1232);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ctx.client.addr);
    v4->sin_family = AF_INET;
    REQUIRE(inet_pton(AF_INET, "192.168.1.10", &v4->sin_addr) == 1);
    ctx.msg = query_.data();
    ctx.len = query_.size();
    ctx.now_ms = now;
    ctx.client.transport = Transport::Udp;
    ctx.out = out;
    ctx.out_cap = 1232;
    return pipeline.on_query(ctx);
  }
  // Asks `name` (a miss) and stores the upstream's reply with one A record.
  void store(const std::string& name, uint32_t ttl, uint64_t now, const std::string& addr = "192.0.2.1") {
    QueryContext ctx;
    REQUIRE(ask(name, now, ctx) == Verdict::Forward);
    reply(ctx, {name + " " + std::to_string(ttl) + " IN A " + addr}, now);
  }
  cache::Entry reply(const QueryContext& ctx, const std::vector<std::string>& answer, uint64_t now) {
    auto r = make_reply(std::string(ctx.q.name_view()) + ".", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR, answer);
    cache::Entry prepared;
    REQUIRE(pipeline.on_reply(ctx.key_view(), ctx.q, ctx.route, r.data(), r.size(), now, prepared));
    return prepared;
  }
  upstream::Waiter waiter(const QueryContext& ctx) {
    return {ctx.client, ctx.q, ctx.now_ms, ctx.groups, ctx.decision.action != blocklists::Action::Allow};
  }

 private:
  std::vector<uint8_t> query_;
};

uint32_t first_ttl(ldns_pkt* p) { return ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)); }
}  // namespace

TEST_CASE("an expired name is forwarded with its stale answer ready: TTL 30 and EDE 3") {
  Stale s;
  s.store("www.test", 10, 0);
  QueryContext ctx;
  REQUIRE(s.ask("www.test", 60'000, ctx, 7) == Verdict::Forward);
  CHECK(ctx.stale);
  CHECK(ctx.outcome == Outcome::Forwarded);

  size_t n = s.pipeline.answer_stale(ctx.key_view(), s.waiter(ctx), 60'000, s.out, sizeof s.out);
  auto p = parse(s.out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_id(p.get()) == 7);
  CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_NOERROR);
  CHECK(first_answer(p.get()) == "192.0.2.1");
  CHECK(first_ttl(p.get()) == Pipeline::kStaleTtl);
  CHECK(ede_code(p.get()) == 3);
  CHECK(s.counters.stale_answers.load() == 1);
}

TEST_CASE("a fresh upstream answer replaces the stale one and carries no EDE") {
  Stale s;
  s.store("www.test", 10, 0);
  QueryContext ctx;
  REQUIRE(s.ask("www.test", 60'000, ctx) == Verdict::Forward);
  REQUIRE(ctx.stale);
  cache::Entry fresh = s.reply(ctx, {"www.test. 300 IN A 192.0.2.9"}, 60'500);
  auto p = parse(s.out, s.pipeline.answer_waiter(s.waiter(ctx), fresh, s.out, sizeof s.out));
  REQUIRE(p);
  CHECK(first_answer(p.get()) == "192.0.2.9");
  CHECK(first_ttl(p.get()) == 300);
  CHECK(ede_code(p.get()) == 0);
  // The entry is fresh again, so there is nothing stale to serve and the next question is a hit.
  CHECK(s.pipeline.answer_stale(ctx.key_view(), s.waiter(ctx), 60'600, s.out, sizeof s.out) == 0);
  QueryContext again;
  CHECK(s.ask("www.test", 61'000, again) == Verdict::Answer);
  CHECK(again.outcome == Outcome::Cached);
  CHECK(s.counters.stale_answers.load() == 0);
}

TEST_CASE("past stale_max nothing stale is kept") {
  Stale s(60);
  s.store("www.test", 10, 0);
  QueryContext ctx;
  REQUIRE(s.ask("www.test", 70'000, ctx) == Verdict::Forward);
  CHECK_FALSE(ctx.stale);
  CHECK(s.pipeline.answer_stale(ctx.key_view(), s.waiter(ctx), 70'000, s.out, sizeof s.out) == 0);
}

TEST_CASE("a name blocked since it was cached gets the sinkhole answer, never the stale one") {
  Stale s;
  s.store("ads.test", 10, 0);
  blocklists::PolicyConfig pc;
  pc.deny.push_back({"||ads.test^", {"default"}});
  s.policies.publish(blocklists::Policy::build(pc, nullptr));
  QueryContext ctx;
  REQUIRE(s.ask("ads.test", 60'000, ctx) == Verdict::Answer);
  CHECK(ctx.outcome == Outcome::Blocked);
  CHECK_FALSE(ctx.stale);
}

TEST_CASE("a stale answer whose CNAME chain reaches a blocked name is blocked") {
  Stale s;
  QueryContext first;
  REQUIRE(s.ask("shop.test", 0, first) == Verdict::Forward);
  s.reply(first, {"shop.test. 10 IN CNAME eu.tracker.test.", "eu.tracker.test. 10 IN A 192.0.2.66"}, 0);
  blocklists::PolicyConfig pc;
  pc.deny.push_back({"||tracker.test^", {"default"}});
  s.policies.publish(blocklists::Policy::build(pc, nullptr));
  QueryContext ctx;
  REQUIRE(s.ask("shop.test", 60'000, ctx) == Verdict::Forward);
  REQUIRE(ctx.stale);
  const blocklists::Decision* blocked = nullptr;
  auto p = parse(s.out, s.pipeline.answer_stale(ctx.key_view(), s.waiter(ctx), 60'000, s.out, sizeof s.out,
                                                &blocked));
  REQUIRE(p);
  CHECK(blocked != nullptr);
  CHECK(first_answer(p.get()) == "0.0.0.0");
  CHECK(ede_code(p.get()) == 15);
  CHECK(s.counters.stale_answers.load() == 0);
}

TEST_CASE("a popular cached name is prefetched once near expiry, answered from cache meanwhile") {
  Stale s;
  s.cache.set_prefetch({8});
  s.store("www.test", 100, 0);
  QueryContext early;
  REQUIRE(s.ask("www.test", 10'000, early) == Verdict::Answer);
  CHECK_FALSE(early.prefetch);

  QueryContext late;
  REQUIRE(s.ask("www.test", 95'000, late) == Verdict::Answer);
  CHECK(late.outcome == Outcome::Cached);
  CHECK(late.prefetch);
  CHECK(s.cache.prefetch_inflight() == 1);

  QueryContext later;
  REQUIRE(s.ask("www.test", 96'000, later) == Verdict::Answer);
  CHECK_FALSE(later.prefetch);

  // The prefetch's answer refreshes the entry; the slot is freed by its asker.
  s.reply(late, {"www.test. 100 IN A 192.0.2.2"}, 96'500);
  s.pipeline.prefetch_done();
  CHECK(s.cache.prefetch_inflight() == 0);
  QueryContext after;
  REQUIRE(s.ask("www.test", 150'000, after) == Verdict::Answer);
  auto p = parse(s.out, after.out_len);
  REQUIRE(p);
  CHECK(first_answer(p.get()) == "192.0.2.2");
}

TEST_CASE("a prefetch slot claimed for an answer that is then blocked is given back") {
  Stale s;
  s.cache.set_prefetch({8});
  QueryContext first;
  REQUIRE(s.ask("shop.test", 0, first) == Verdict::Forward);
  s.reply(first, {"shop.test. 100 IN CNAME eu.tracker.test.", "eu.tracker.test. 100 IN A 192.0.2.66"}, 0);
  QueryContext hit;
  REQUIRE(s.ask("shop.test", 1'000, hit) == Verdict::Answer);
  blocklists::PolicyConfig pc;
  pc.deny.push_back({"||tracker.test^", {"default"}});
  s.policies.publish(blocklists::Policy::build(pc, nullptr));
  QueryContext late;
  REQUIRE(s.ask("shop.test", 95'000, late) == Verdict::Answer);
  CHECK(late.outcome == Outcome::Blocked);
  CHECK_FALSE(late.prefetch);
  CHECK(s.cache.prefetch_inflight() == 0);
}

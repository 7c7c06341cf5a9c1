#include "pipeline/pipeline.hpp"

#include <algorithm>
#include <cstring>

#include "dns/answer.hpp"
#include "dns/rebind.hpp"
#include "local/answer.hpp"

namespace hush {

using dns::ParseStatus;

namespace {

// The verdict of rebinding protection, logged as "rebind: ..." like a list's.
const blocklists::Decision kRebind{blocklists::Action::Block, blocklists::Forced::None, "rebind",
                                   "private address from upstream"};

// `name` is `zone` or one of its subdomains (both lower-case, no final dot).
bool in_zone(std::string_view name, std::string_view zone) {
  if (name.size() == zone.size()) return name == zone;
  return name.size() > zone.size() && name.substr(name.size() - zone.size()) == zone &&
         name[name.size() - zone.size() - 1] == '.';
}

}  // namespace

Verdict Pipeline::on_query(QueryContext& ctx) {
  // parse: first, so every later stage sees one well-formed question and
  // malformed input is answered (or dropped) before it can cost anything.
  ParseStatus status = dns::parse_query(ctx.msg, ctx.len, ctx.q);
  if (status != ParseStatus::Ok) return reject(ctx, status);
  counters_.add(counters_.qtypes[qtype_slot(ctx.q.qtype)]);

  // access: right after parsing, so a client outside the allowed networks or
  // over its budget costs nothing more and never reaches cache or upstream.
  Verdict verdict;
  if (refused(ctx, verdict)) return verdict;

  // chaos: CH-class questions (version.bind, hostname.bind, id.server) would
  // otherwise reach the upstream and tell anyone its software and version.
  if (ctx.q.qclass == dns::kClassCh) {
    answer_chaos(ctx);
    return Verdict::Answer;
  }

  // local: the home's own names come before any list, so a blocklist can
  // never break the NAS, and they never reach the internet's resolvers.
  if (answer_local(ctx)) return Verdict::Answer;

  // policy: before the cache, so a name blocked since it was cached is never
  // served from the cache, and a blocked name costs no cache lookup.
  if (check_policy(ctx)) return Verdict::Answer;

  // any: answered here, minimally (RFC 8482), so hush cannot be used to
  // amplify traffic towards a forged source address.
  if (ctx.q.qtype == dns::type::ANY) {
    answer_any(ctx);
    return Verdict::Answer;
  }

  // cache: a fresh stored answer, with its TTLs counted down; its CNAME
  // chain is checked against the policy as on the way in from upstream.
  key_for(ctx);
  if (validating_ && !ctx.q.cd()) ctx.validate = ctx.route == 0;
  if (serve_cached(ctx)) return Verdict::Answer;

  // upstream: last, because it is the only stage that costs a round trip.
  counters_.add(counters_.cache_misses);
  ctx.outcome = Outcome::Forwarded;
  ctx.reason = "forwarded";
  return Verdict::Forward;
}

Verdict Pipeline::reject(QueryContext& ctx, ParseStatus status) {
  ctx.reason = dns::to_string(status);
  uint16_t rc = 0;
  switch (status) {
    case ParseStatus::Ok:
    case ParseStatus::Drop:
      counters_.add(counters_.dropped);
      ctx.outcome = Outcome::Dropped;
      return Verdict::Drop;
    case ParseStatus::FormErr:
      counters_.add(counters_.formerr);
      rc = dns::rcode::FormErr;
      break;
    case ParseStatus::NotImp:
      counters_.add(counters_.notimp);
      rc = dns::rcode::NotImp;
      break;
    case ParseStatus::BadVers:
      counters_.add(counters_.badvers);
      rc = dns::rcode::BadVers;
      break;
  }
  ctx.outcome = Outcome::Error;
  ctx.out_len = dns::write_error(ctx.q, rc, ctx.out, ctx.out_cap);
  // FORMERR replies carry no OPT: the client's OPT may be what was malformed.
  if (status == ParseStatus::FormErr) ctx.q.has_edns = false;
  ctx.out_len = dns::finish(ctx.out, ctx.out_len, ctx.out_cap, ctx.q, rc, nullptr,
                            limit_for(ctx.q, ctx.client.transport));
  return Verdict::Answer;
}

bool Pipeline::refused(QueryContext& ctx, Verdict& verdict) {
  const auto* client = reinterpret_cast<const sockaddr*>(&ctx.client.addr);
  bool outside = !blocklists::cidr_list_contains(access_.allow, client);
  bool limited = !outside && (access_.limit_loopback || !is_loopback(client)) &&
                 limiter_.over(client, access_.rate_limit, access_.rate_window_s, ctx.now_ms);
  if (!outside && !limited) return false;
  counters_.add(outside ? counters_.refused_network : counters_.rate_limited);
  ctx.outcome = outside ? Outcome::NotAllowed : Outcome::Refused;
  ctx.reason = outside ? "client network not allowed" : "rate limit";
  if (access_.drop_refused && outside) {
    verdict = Verdict::Drop;
    return true;
  }
  ctx.out_len = dns::write_error(ctx.q, dns::rcode::Refused, ctx.out, ctx.out_cap);
  ctx.out_len = dns::finish(ctx.out, ctx.out_len, ctx.out_cap, ctx.q, dns::rcode::Refused, nullptr,
                            limit_for(ctx.q, ctx.client.transport));
  verdict = Verdict::Answer;
  return true;
}

uint8_t Pipeline::route_for(std::string_view name) const {
  // The longest matching forward zone wins, so "10.in-addr.arpa" can go to
  // one server and "1.10.in-addr.arpa" to another.
  uint8_t best = 0;
  size_t best_len = 0;
  for (size_t i = 0; i < forwards_.size(); ++i) {
    const std::string& d = forwards_[i].domain;
    if (in_zone(name, d) && d.size() >= best_len) {
      best = uint8_t(i + 1);
      best_len = d.size();
    }
  }
  return best;
}

bool Pipeline::answer_local(QueryContext& ctx) {
  std::string_view name = ctx.q.name_view();
  ctx.route = forwards_.empty() ? 0 : route_for(name);
  const local::Data* data = local_.refresh();
  if (!data) return false;
  for (const std::string& own : data->own_names)
    if (name == own) {
      answer_own_name(ctx, *data);
      return true;
    }
  // Like dnsmasq's domain-needed: a bare host name asked as an address is a
  // home device, never sent out; other types of single labels are top-level
  // domains ("com NS") and go upstream as usual.
  bool single_label = name.find('.') == std::string_view::npos;
  if (single_label && ctx.q.qtype != dns::type::A && ctx.q.qtype != dns::type::AAAA) return false;
  if (!data->zone.covers(name)) return false;
  local::Zone::Lookup l = data->zone.find(name, ctx.q.qtype);
  if (l.kind == local::Zone::Kind::NotLocal) return false;
  // A forward zone's server knows the names we do not, e.g. the router's DHCP names.
  if (l.kind == local::Zone::Kind::NxDomain && ctx.route != 0) return false;
  uint16_t rc = 0;
  size_t n = local::write_answer(ctx.q, l, data->ttl, ctx.out, ctx.out_cap, &rc);
  if (n == 0) return false;
  ctx.out_len = dns::finish(ctx.out, n, ctx.out_cap, ctx.q, rc, nullptr, limit_for(ctx.q, ctx.client.transport));
  ctx.outcome = Outcome::Local;
  ctx.reason = l.kind == local::Zone::Kind::Answer ? "local record" : "local zone";
  counters_.add(counters_.local);
  return true;
}

void Pipeline::answer_own_name(QueryContext& ctx, const local::Data& data) {
  int family = ctx.q.qtype == dns::type::A ? AF_INET : ctx.q.qtype == dns::type::AAAA ? AF_INET6 : 0;
  local::Zone::Lookup l;
  l.apex = data.zone.domain();
  l.kind = local::Zone::Kind::NoData;
  std::vector<local::Record> addrs;
  if (family) {
    const auto* client = reinterpret_cast<const sockaddr*>(&ctx.client.addr);
    for (const local::InterfaceAddress* a : data.interfaces.for_client(client, family)) {
      local::Record r;
      r.type = ctx.q.qtype;
      r.ttl = data.ttl;
      r.rdata.assign(a->addr, a->addr + (family == AF_INET ? 4 : 16));
      addrs.push_back(std::move(r));
    }
  }
  for (const local::Record& r : addrs) l.answer.push_back({&r, ""});
  if (!addrs.empty()) l.kind = local::Zone::Kind::Answer;
  uint16_t rc = 0;
  size_t n = local::write_answer(ctx.q, l, data.ttl, ctx.out, ctx.out_cap, &rc);
  ctx.out_len = dns::finish(ctx.out, n, ctx.out_cap, ctx.q, rc, nullptr, limit_for(ctx.q, ctx.client.transport));
  ctx.outcome = Outcome::Local;
  ctx.reason = "hush's own name";
  counters_.add(counters_.local);
}

void Pipeline::answer_chaos(QueryContext& ctx) {
  ctx.out_len = dns::write_error(ctx.q, dns::rcode::Refused, ctx.out, ctx.out_cap);
  ctx.out_len = dns::finish(ctx.out, ctx.out_len, ctx.out_cap, ctx.q, dns::rcode::Refused, nullptr,
                            limit_for(ctx.q, ctx.client.transport));
  ctx.outcome = Outcome::Local;
  ctx.reason = "CHAOS class not served";
  counters_.add(counters_.local);
}

void Pipeline::answer_any(QueryContext& ctx) {
  // RFC 8482 4.2: one synthesized HINFO record with CPU "RFC8482".
  static constexpr uint8_t kHinfo[] = {0xC0, 12, 0, 13, 0, 1, 0, 0, 0x0E, 0x10, 0, 9,
                                       7, 'R', 'F', 'C', '8', '4', '8', '2', 0};
  size_t n = dns::write_error(ctx.q, dns::rcode::NoError, ctx.out, ctx.out_cap);
  if (n + sizeof kHinfo <= ctx.out_cap) {
    std::memcpy(ctx.out + n, kHinfo, sizeof kHinfo);
    n += sizeof kHinfo;
    dns::put16(ctx.out + 6, 1);
  }
  ctx.out_len = dns::finish(ctx.out, n, ctx.out_cap, ctx.q, dns::rcode::NoError, nullptr,
                            limit_for(ctx.q, ctx.client.transport));
  ctx.outcome = Outcome::Local;
  ctx.reason = "ANY (RFC 8482)";
}

bool Pipeline::check_policy(QueryContext& ctx) {
  const blocklists::Policy* policy = policy_.refresh();
  if (block_store_) {
    const BlockSettings* b = block_store_->refresh();
    if (b && b != block_seen_) {  // a reload published new settings
      block_ = *b;
      block_seen_ = b;
    }
  }
  ctx.decision = {};
  if (!policy || !block_.enabled) return false;
  const auto* client = reinterpret_cast<const sockaddr*>(&ctx.client.addr);
  ctx.groups = policy->groups_for(client, ctx.client.id.view());
  ctx.decision = policy->decide(ctx.q.name_view(), ctx.q.qtype, ctx.groups, client);
  if (ctx.decision.action != blocklists::Action::Block) return false;
  counters_.add(counters_.blocked);
  ctx.outcome = Outcome::Blocked;
  ctx.reason = ctx.decision.list;
  ctx.out_len = write_blocked(ctx.q, ctx.decision, ctx.client.transport, ctx.out, ctx.out_cap);
  return ctx.out_len > 0;
}

const blocklists::Decision* Pipeline::blocked_target(const cache::Entry& e, const dns::Query& q,
                                                     blocklists::GroupMask groups,
                                                     const sockaddr* client) {
  const blocklists::Policy* policy = policy_.get();
  if (!policy || !block_.enabled || !block_.cname_inspection) return nullptr;
  for (const std::string& target : e.cname_targets) {
    target_decision_ = policy->decide(target, q.qtype, groups, client);
    if (target_decision_.action == blocklists::Action::Block) return &target_decision_;
  }
  return nullptr;
}

size_t Pipeline::write_blocked(const dns::Query& q, const blocklists::Decision& d, Transport t,
                               uint8_t* out, size_t cap) {
  dns::BlockAnswer how = block_.answer;
  if (d.forced == blocklists::Forced::NxDomain) how.mode = dns::BlockMode::NxDomain;
  uint16_t rc = 0;
  size_t n = dns::write_blocked(q, how, out, cap, &rc);
  if (n == 0) return 0;
  // Copied rather than formatted: snprintf took ~0.7% of hush's CPU on the
  // all-blocked benchmark.
  if (d.list.data() == kRebind.list.data()) {
    static constexpr dns::Ede kRebindEde{dns::ede::Blocked, "rebinding protection: private address for a public name"};
    return dns::finish(out, n, cap, q, rc, &kRebindEde, limit_for(q, t));
  }
  constexpr std::string_view kPrefix = "blocked by ";
  const size_t list_len = std::min(d.list.size(), sizeof ede_text_ - kPrefix.size());
  std::memcpy(ede_text_, kPrefix.data(), kPrefix.size());
  std::memcpy(ede_text_ + kPrefix.size(), d.list.data(), list_len);
  dns::Ede ede{dns::ede::Blocked, {ede_text_, kPrefix.size() + list_len}};
  return dns::finish(out, n, cap, q, rc, &ede, limit_for(q, t));
}

void Pipeline::key_for(QueryContext& ctx) {
  ctx.key_len = cache::make_key(ctx.q.qname_wire, ctx.q.qname_wire_len, ctx.q.qtype,
                                ctx.q.qclass, ctx.q.do_bit, ctx.key);
  // Unvalidated answers for CD clients live under their own key, so a bogus
  // answer one of them was given is never served to the others.
  if (validating_ && ctx.q.cd()) ctx.key[ctx.key_len - 1] |= 2;
  dns::ClientSubnet& ecs = ctx.q.ecs;
  if (!ecs.family) return;
  // Privacy first: a client's subnet leaves only when configured, and only
  // cut to the configured prefix.
  if (!subnet_.forward) {
    ecs.family = 0;
    return;
  }
  dns::truncate_subnet(ecs, subnet_.prefix_v4, subnet_.prefix_v6);
  // The answer may depend on the subnet, so the subnet is part of the key:
  // other subnets neither share the cached answer nor join the question in
  // flight. A key with no room for it (names near 255 octets) asks without.
  size_t extra = 2 + ecs.addr_len();
  if (ctx.key_len + extra > sizeof ctx.key) {
    ecs.family = 0;
    return;
  }
  char* k = ctx.key + ctx.key_len;
  k[0] = char(ecs.family);
  k[1] = char(ecs.source);
  std::memcpy(k + 2, ecs.addr, ecs.addr_len());
  ctx.key_len += extra;
}

bool Pipeline::serve_cached(QueryContext& ctx) {
  size_t limit = std::min(ctx.out_cap, limit_for(ctx.q, ctx.client.transport));
  const blocklists::Decision* blocked = nullptr;
  bool inspect = ctx.decision.action != blocklists::Action::Allow;
  const auto* client = reinterpret_cast<const sockaddr*>(&ctx.client.addr);
  cache::Lookup found;
  bool hit = cache_.with_fresh(ctx.key_view(), ctx.now_ms, [&](const cache::Entry& e, uint32_t age) {
    if (e.rebind) blocked = &kRebind;
    if (inspect && !blocked && !e.cname_targets.empty()) blocked = blocked_target(e, ctx.q, ctx.groups, client);
    if (blocked) return;
    ctx.out_len = dns::write_stored(e.wire.data(), e.wire.size(), e.ttl_offsets.data(),
                                    e.ttl_offsets.size(), age, ctx.q, ctx.out, limit);
  }, &found);
  ctx.stale = found.stale;
  // A refresh is only worth its round trip for an answer that was served.
  ctx.prefetch = found.prefetch && hit && !blocked && ctx.out_len > 0;
  if (found.prefetch && !ctx.prefetch) cache_.prefetch_done();
  if (hit && blocked) {
    counters_.add(counters_.blocked);
    if (blocked == &kRebind) counters_.add(counters_.rebind);
    ctx.decision = *blocked;
    ctx.outcome = Outcome::Blocked;
    ctx.reason = blocked->list;
    ctx.out_len = write_blocked(ctx.q, *blocked, ctx.client.transport, ctx.out, ctx.out_cap);
    return ctx.out_len > 0;
  }
  if (!hit || ctx.out_len == 0) return false;
  counters_.add(counters_.cache_hits);
  ctx.out_len = dns::finish(ctx.out, ctx.out_len, ctx.out_cap, ctx.q,
                            dns::rcode_of(dns::get16(ctx.out + 2)), nullptr, limit);
  ctx.outcome = Outcome::Cached;
  ctx.reason = "cache";
  return true;
}

bool Pipeline::on_reply(std::string_view key, const dns::Query& q, uint8_t route, const uint8_t* reply,
                        size_t len, uint64_t now_ms, cache::Entry& prepared) {
  if (!cache::prepare(reply, len, cache_.limits(), now_ms, prepared)) return false;
  // rebind: judged once here, so the cached copy carries the verdict and no
  // later answer from it needs the check again.
  prepared.rebind = rebind_.protect && dns::answers_private_address(prepared.wire.data(), prepared.wire.size()) &&
                    !rebind_exempt(q.name_view(), route);
  if (prepared.cacheable) cache_.insert(key, prepared);
  return true;
}

bool Pipeline::rebind_exempt(std::string_view name, uint8_t route) {
  // A forward zone's server (the router) and local zones are there to
  // answer with the home's own addresses.
  if (route != 0) return true;
  for (const std::string& allowed : rebind_.allow)
    if (in_zone(name, allowed)) return true;
  const local::Data* data = local_.refresh();
  return data && data->zone.covers(name);
}

size_t Pipeline::answer_waiter(const upstream::Waiter& w, const cache::Entry& e, uint8_t* out,
                               size_t cap, const blocklists::Decision** blocked_by) {
  if (blocked_by) *blocked_by = nullptr;
  if (e.rebind) {
    counters_.add(counters_.blocked);
    counters_.add(counters_.rebind);
    if (blocked_by) *blocked_by = &kRebind;
    return write_blocked(w.query, kRebind, w.client.transport, out, cap);
  }
  // inspect: the upstream's answer may lead, through CNAMEs, to a tracker's
  // name; each waiter is checked with its own groups.
  if (w.inspect && !e.cname_targets.empty()) {
    const auto* client = reinterpret_cast<const sockaddr*>(&w.client.addr);
    if (const blocklists::Decision* d = blocked_target(e, w.query, w.groups, client)) {
      counters_.add(counters_.blocked);
      if (blocked_by) *blocked_by = d;
      return write_blocked(w.query, *d, w.client.transport, out, cap);
    }
  }
  size_t limit = std::min(cap, limit_for(w.query, w.client.transport));
  size_t n = dns::write_stored(e.wire.data(), e.wire.size(), e.ttl_offsets.data(),
                               e.ttl_offsets.size(), 0, w.query, out, limit);
  if (n == 0) return 0;
  return dns::finish(out, n, cap, w.query, dns::rcode_of(dns::get16(out + 2)), nullptr, limit);
}

size_t Pipeline::answer_failed(const upstream::Waiter& w, uint8_t* out, size_t cap, const dns::Ede* ede) const {
  static constexpr dns::Ede kNoAnswer{dns::ede::NoReachableAuthority, "no upstream answered"};
  size_t n = dns::write_error(w.query, dns::rcode::ServFail, out, cap);
  return dns::finish(out, n, cap, w.query, dns::rcode::ServFail, ede ? ede : &kNoAnswer,
                     limit_for(w.query, w.client.transport));
}

size_t Pipeline::answer_stale(std::string_view key, const upstream::Waiter& w, uint64_t now_ms,
                              uint8_t* out, size_t cap, const blocklists::Decision** blocked_by) {
  static constexpr dns::Ede ede{dns::ede::StaleAnswer, "Stale Answer"};
  if (blocked_by) *blocked_by = nullptr;
  const blocklists::Decision* blocked = nullptr;
  const auto* client = reinterpret_cast<const sockaddr*>(&w.client.addr);
  size_t limit = std::min(cap, limit_for(w.query, w.client.transport));
  size_t n = 0;
  bool kept = cache_.with_stale(key, now_ms, [&](const cache::Entry& e) {
    if (e.rebind) blocked = &kRebind;
    if (w.inspect && !blocked && !e.cname_targets.empty()) blocked = blocked_target(e, w.query, w.groups, client);
    if (blocked) return;
    n = dns::write_stored(e.wire.data(), e.wire.size(), e.ttl_offsets.data(), e.ttl_offsets.size(), 0,
                          w.query, out, limit);
    // write_stored copies a message that fits as it is, so its TTLs sit at the same offsets.
    if (n == e.wire.size())
      for (uint16_t off : e.ttl_offsets) dns::put32(out + off, kStaleTtl);
  });
  if (!kept) return 0;
  if (blocked) {
    counters_.add(counters_.blocked);
    if (blocked == &kRebind) counters_.add(counters_.rebind);
    if (blocked_by) *blocked_by = blocked;
    return write_blocked(w.query, *blocked, w.client.transport, out, cap);
  }
  if (n == 0) return 0;
  counters_.add(counters_.stale_answers);
  return dns::finish(out, n, cap, w.query, dns::rcode_of(dns::get16(out + 2)), &ede, limit);
}

size_t Pipeline::limit_for(const dns::Query& q, Transport t) {
  if (t != Transport::Udp) return 65535;
  return q.has_edns ? std::min<size_t>(q.udp_size, dns::kOwnUdpSize) : 512;
}

}  // namespace hush

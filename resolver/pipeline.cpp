#include "pipeline.hpp"

#include <algorithm>

#include "dns/answer.hpp"

namespace hush {

using dns::ParseStatus;

Verdict Pipeline::on_query(QueryContext& ctx) {
  // parse: first, so every later stage sees one well-formed question and
  // malformed input is answered (or dropped) before it can cost anything.
  ParseStatus status = dns::parse_query(ctx.msg, ctx.len, ctx.q);
  if (status != ParseStatus::Ok) return reject(ctx, status);

  // cache: a fresh stored answer, with its TTLs counted down.
  ctx.key_len = cache::make_key(ctx.q.qname_wire, ctx.q.qname_wire_len, ctx.q.qtype,
                                ctx.q.qclass, ctx.q.do_bit, ctx.key);
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

bool Pipeline::serve_cached(QueryContext& ctx) {
  size_t limit = std::min(ctx.out_cap, limit_for(ctx.q, ctx.client.transport));
  bool hit = cache_.with_fresh(ctx.key_view(), ctx.now_ms, [&](const cache::Entry& e, uint32_t age) {
    ctx.out_len = dns::write_stored(e.wire.data(), e.wire.size(), e.ttl_offsets.data(),
                                    e.ttl_offsets.size(), age, ctx.q, ctx.out, limit);
  });
  if (!hit || ctx.out_len == 0) return false;
  counters_.add(counters_.cache_hits);
  ctx.out_len = dns::finish(ctx.out, ctx.out_len, ctx.out_cap, ctx.q,
                            dns::rcode_of(dns::get16(ctx.out + 2)), nullptr, limit);
  ctx.outcome = Outcome::Cached;
  ctx.reason = "cache";
  return true;
}

bool Pipeline::on_reply(std::string_view key, const uint8_t* reply, size_t len, uint64_t now_ms,
                        cache::Entry& prepared) {
  if (!cache::prepare(reply, len, cache_.limits(), now_ms, prepared)) return false;
  if (prepared.cacheable) cache_.insert(key, prepared);
  return true;
}

size_t Pipeline::answer_waiter(const upstream::Waiter& w, const cache::Entry& e, uint8_t* out,
                               size_t cap) const {
  size_t limit = std::min(cap, limit_for(w.query, w.client.transport));
  size_t n = dns::write_stored(e.wire.data(), e.wire.size(), e.ttl_offsets.data(),
                               e.ttl_offsets.size(), 0, w.query, out, limit);
  if (n == 0) return 0;
  return dns::finish(out, n, cap, w.query, dns::rcode_of(dns::get16(out + 2)), nullptr, limit);
}

size_t Pipeline::answer_failed(const upstream::Waiter& w, uint8_t* out, size_t cap) const {
  static constexpr dns::Ede ede{dns::ede::NoReachableAuthority, "no upstream answered"};
  size_t n = dns::write_error(w.query, dns::rcode::ServFail, out, cap);
  return dns::finish(out, n, cap, w.query, dns::rcode::ServFail, &ede,
                     limit_for(w.query, w.client.transport));
}

size_t Pipeline::limit_for(const dns::Query& q, Transport t) {
  if (t == Transport::Tcp) return 65535;
  return q.has_edns ? std::min<size_t>(q.udp_size, dns::kOwnUdpSize) : 512;
}

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::None: return "none";
    case Outcome::Cached: return "cached";
    case Outcome::Forwarded: return "forwarded";
    case Outcome::Blocked: return "blocked";
    case Outcome::Local: return "local";
    case Outcome::Refused: return "refused";
    case Outcome::Error: return "error";
    case Outcome::Dropped: return "dropped";
  }
  return "?";
}

}  // namespace hush

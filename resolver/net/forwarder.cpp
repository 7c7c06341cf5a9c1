#include "net/forwarder.hpp"

#include "base/address.hpp"
#include "base/log.hpp"
#include "dns/wire.hpp"
#include "upstream/attempt.hpp"
#include "upstream/check.hpp"

namespace hush::net {

namespace {
std::vector<upstream::Server> servers_of(const std::vector<sockaddr_storage>& addrs) {
  std::vector<upstream::Server> out;
  for (const sockaddr_storage& a : addrs) out.push_back({a, format_address(a)});
  return out;
}
}  // namespace

Forwarder::Forwarder(uv_loop_t* loop, const Config& cfg, int worker, upstream::SharedInflight& shared,
                     Pipeline& pipeline, Counters& counters, QueryLogger& log, Clients& clients,
                     const validate::Validator* validator)
    : loop_(loop),
      worker_(worker),
      shared_(shared),
      pipeline_(pipeline),
      counters_(counters),
      log_(log),
      clients_(clients),
      scratch_(65535) {
  std::vector<std::vector<sockaddr_storage>> routes{cfg.upstream_addrs};
  for (const upstream::ForwardZone& f : cfg.forwards) routes.push_back(f.addrs);
  for (const auto& addrs : routes) selectors_.emplace_back(servers_of(addrs));
  UpstreamIo::Events& events = *this;
  io_ = std::make_unique<UpstreamIo>(loop, events, std::move(routes), cfg.upstream.timeout_ms);
  if (validator) {
    Validations::Bounds bounds;
    bounds.timeout_ms = cfg.upstream.timeout_ms;
    validations_ = std::make_unique<Validations>(loop, *validator, cfg.upstream_addrs, bounds,
                                                 [this](Validations::Done& d) { validated(d); });
  }
}

Forwarder::~Forwarder() = default;

void Forwarder::forward(QueryContext& ctx) {
  upstream::Waiter w{ctx.client, ctx.q, ctx.now_ms, ctx.groups,
                     ctx.decision.action != blocklists::Action::Allow, uv_hrtime()};
  bool full = false;
  if (inflight_.join(ctx.key_view(), w, &full)) {
    if (full)
      answer_now(w, "too many identical questions waiting");
    else
      counters_.add(counters_.coalesced);
    return;
  }
  // Another worker may be asking this very question already.
  int owner = shared_.claim_or_join(ctx.key_view(), worker_, w);
  if (owner == upstream::SharedInflight::kFull) return answer_now(w, "too many identical questions waiting");
  if (owner != upstream::SharedInflight::kClaimed) {
    counters_.add(counters_.coalesced);
    return;
  }
  upstream::Pending& p = inflight_.start(std::string(ctx.key_view()), std::move(w));
  p.route = ctx.route;
  p.validate = ctx.validate && validations_;
  selector(p).order(now_ms(), p.order);
  counters_.add(counters_.forwarded);
  send_attempt(p, upstream::Transport::Udp);
}

void Forwarder::answer_now(const upstream::Waiter& w, const char* reason) {
  size_t n = pipeline_.answer_failed(w, scratch_.data(), scratch_.size());
  clients_.deliver(w, scratch_.data(), n);
  log_.waiter(w, Outcome::Error, reason, scratch_.data(), n, {});
}

void Forwarder::send_attempt(upstream::Pending& p, upstream::Transport transport) {
  p.sent_ms = now_ms();
  if (const char* why = io_->send(p, transport)) attempt_failed(p, why);
}

void Forwarder::on_upstream_reply(upstream::Pending& p, const uint8_t* data, size_t len) {
  const dns::Query& q = p.waiters.front().query;
  upstream::ReplyCheck check =
      upstream::check_reply(data, len, p.id, q.qname_wire, q.qname_wire_len, q.qtype, q.qclass);
  uint16_t flags = 0;
  if (check == upstream::ReplyCheck::Ok) {
    flags = dns::get16(data + 2);
  } else {
    counters_.add(counters_.upstream_rejected);
    log::debug("dropped a reply from ", selector(p).servers()[p.server()].text, " for ", q.name_view(), ": ",
               upstream::to_string(check));
  }
  upstream::Next next = upstream::judge_reply(p, check, flags);
  switch (next.step) {
    case upstream::Step::Wait:
      return;
    case upstream::Step::Retry:
      if (next.transport == upstream::Transport::Tcp) counters_.add(counters_.upstream_tcp_retries);
      return send_attempt(p, next.transport);
    case upstream::Step::Fail:
      return attempt_failed(p, next.why);
    case upstream::Step::GiveUp:
      return answer_all(p, nullptr);
    case upstream::Step::Deliver:
      return complete(p, data, len);
  }
}

void Forwarder::on_upstream_failure(upstream::Pending& p, bool timed_out, const char* why) {
  if (timed_out) {
    counters_.add(counters_.upstream_timeouts);
    // Per-upstream counters cover the default upstreams (route 0) only.
    if (p.route == 0 && p.server() < kMaxUpstreams) counters_.add(counters_.upstreams[p.server()].timeouts);
  }
  attempt_failed(p, why);
}

void Forwarder::on_upstream_stray(uint8_t route, uint8_t server, const uint8_t*, size_t) {
  counters_.add(counters_.upstream_rejected);
  log::debug("dropped a reply from ", selectors_[route].servers()[server].text, ": no query waits for its ID");
}

void Forwarder::attempt_failed(upstream::Pending& p, const char* why) {
  log::debug("upstream ", selector(p).servers()[p.server()].text, " for ", p.waiters.front().query.name_view(),
             ": ", why);
  if (p.route == 0 && p.server() < kMaxUpstreams) counters_.add(counters_.upstreams[p.server()].failures);
  upstream::Next next = upstream::next_attempt(p, selector(p), now_ms());
  if (next.step == upstream::Step::Retry)
    send_attempt(p, next.transport);
  else
    answer_all(p, nullptr);
}

void Forwarder::complete(upstream::Pending& p, const uint8_t* reply, size_t len) {
  uint32_t rtt = upstream::answered(p, selector(p), now_ms());
  if (p.route == 0) counters_.upstream_answer(p.server(), rtt);
  if (p.validate) return validate_reply(p, reply, len);
  std::vector<uint8_t> unvalidated;
  if (validations_ && (dns::get16(reply + 2) & dns::flag::AD)) {
    // hush validates: an AD bit it did not set itself is not passed on.
    unvalidated.assign(reply, reply + len);
    dns::put16(unvalidated.data() + 2, uint16_t(dns::get16(reply + 2) & ~dns::flag::AD));
    reply = unvalidated.data();
  }
  cache::Entry prepared;
  if (!pipeline_.on_reply(p.key, reply, len, now_ms(), prepared)) return attempt_failed(p, "reply cannot be served");
  answer_all(p, &prepared);
}

void Forwarder::validate_reply(upstream::Pending& p, const uint8_t* reply, size_t len) {
  const dns::Query& q = p.waiters.front().query;
  Validations::Job job{p.key, {q.qname_wire, q.qname_wire + q.qname_wire_len}, q.qtype, q.do_bit,
                       {reply, reply + len}};
  Validations::Done now;
  if (validations_->finish_now(job, now)) return validated(now);
  // The question stays in flight (identical ones keep joining it) with no
  // attempt running until the validation comes back.
  io_->cancel(p);
  static constexpr dns::Ede kBusy{dns::ede::NoReachableAuthority, "too many answers waiting for DNSSEC validation"};
  if (!validations_->submit(std::move(job))) answer_all(p, nullptr, &kBusy);
}

void Forwarder::validated(Validations::Done& d) {
  upstream::Pending* p = inflight_.find(d.key);
  if (!p) return;
  if (d.result.state == validate::State::Bogus) {
    counters_.add(counters_.dnssec_bogus);
    log::debug("DNSSEC: ", p->waiters.front().query.name_view(), " is bogus: ", d.result.why);
    std::string text = d.result.why.substr(0, 200);
    dns::Ede ede{d.result.ede, text};
    return answer_all(*p, nullptr, &ede);
  }
  counters_.add(d.result.state == validate::State::Secure ? counters_.dnssec_secure : counters_.dnssec_insecure);
  cache::Entry prepared;
  if (!pipeline_.on_reply(p->key, d.reply.data(), d.reply.size(), now_ms(), prepared)) return answer_all(*p, nullptr);
  answer_all(*p, &prepared);
}

void Forwarder::answer_all(upstream::Pending& p, const cache::Entry* prepared, const dns::Ede* failure) {
  io_->cancel(p);
  std::string key = p.key;
  std::string upstream = prepared ? selector(p).servers()[p.server()].text : std::string();
  std::vector<upstream::Waiter> waiters = inflight_.finish(key);
  std::vector<upstream::Waiter> remote = shared_.release(key);
  waiters.insert(waiters.end(), std::make_move_iterator(remote.begin()), std::make_move_iterator(remote.end()));
  uint8_t* out = scratch_.data();
  for (const upstream::Waiter& w : waiters) {
    size_t n;
    const blocklists::Decision* blocked = nullptr;
    if (prepared) {
      n = pipeline_.answer_waiter(w, *prepared, out, scratch_.size(), &blocked);
    } else {
      counters_.add(counters_.servfail);
      n = pipeline_.answer_failed(w, out, scratch_.size(), failure);
    }
    clients_.deliver(w, out, n);
    if (blocked)
      log_.blocked_waiter(w, *blocked, out, n, upstream);
    else if (prepared)
      log_.waiter(w, Outcome::Forwarded, "forwarded", out, n, upstream);
    else
      log_.waiter(w, Outcome::Error, failure ? failure->text : "no upstream answered", out, n, upstream);
  }
  clients_.question_done();
}

}  // namespace hush::net

#include "net/forwarder.hpp"

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/log.hpp"
#include "dns/wire.hpp"
#include "net/uv_owned.hpp"
#include "upstream/attempt.hpp"
#include "upstream/check.hpp"

namespace hush::net {

namespace {
// DNSSEC validation asks for keys through ldns, in plain DNS: the plain
// upstreams, else the bootstrap servers (which see only zone names).
std::vector<sockaddr_storage> plain_servers(const Config& cfg) {
  std::vector<sockaddr_storage> out;
  for (const upstream::Server& s : cfg.upstream_servers)
    if (s.transport == upstream::Transport::Udp || s.transport == upstream::Transport::Tcp) out.push_back(s.addr);
  return out.empty() ? cfg.bootstrap_addrs : out;
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
      scratch_(65535),
      stale_after_ms_(cfg.cache.stale_max ? cfg.cache.stale_answer_after_ms : 0) {
  uv_timer_init(loop, &stale_timer_);
  stale_timer_.data = this;
  std::vector<std::vector<upstream::Server>> routes{cfg.upstream_servers};
  for (const upstream::ForwardZone& f : cfg.forwards) routes.push_back(f.parsed);
  for (const auto& servers : routes) selectors_.emplace_back(servers);
  UpstreamIo::Events& events = *this;
  TlsSettings tls{cfg.upstream.tls_ca_file, cfg.bootstrap_addrs, cfg.upstream.timeout_ms,
                  cfg.upstream.tls_idle_timeout_ms};
  io_ = std::make_unique<UpstreamIo>(loop, events, std::move(routes), cfg.upstream.timeout_ms, upstream::PoolLimits{},
                                     tls);
  if (validator) {
    Validations::Bounds bounds;
    bounds.timeout_ms = cfg.upstream.timeout_ms;
    validations_ = std::make_unique<Validations>(loop, *validator, plain_servers(cfg), bounds,
                                                 [this](Validations::Done& d) { validated(d); });
  }
}

Forwarder::~Forwarder() = default;

void Forwarder::forward(QueryContext& ctx) {
  if (ctx.stale) watch_stale(ctx.key_view(), ctx.now_ms);
  ask(ctx.key_view(), ctx.route, ctx.validate,
      {ctx.client, ctx.q, ctx.now_ms, ctx.groups, ctx.decision.action != blocklists::Action::Allow, uv_hrtime()});
}

void Forwarder::prefetch(const QueryContext& ctx) {
  // Like the client's question, so the refreshed entry is what that client
  // (and everyone sharing the key) would have stored.
  upstream::Waiter w{ctx.client, ctx.q, ctx.now_ms, ctx.groups, false, uv_hrtime()};
  w.background = true;
  counters_.add(counters_.prefetches);
  ask(ctx.key_view(), ctx.route, ctx.validate, std::move(w));
}

void Forwarder::ask(std::string_view key, uint8_t route, bool validate, upstream::Waiter&& w) {
  bool full = false;
  if (inflight_.join(key, w, &full)) {
    if (full)
      answer_now(key, w, "too many identical questions waiting");
    else if (!w.background)
      counters_.add(counters_.coalesced);
    return;
  }
  // Another worker may be asking this very question already.
  int owner = shared_.claim_or_join(key, worker_, w);
  if (owner == upstream::SharedInflight::kFull) return answer_now(key, w, "too many identical questions waiting");
  if (owner != upstream::SharedInflight::kClaimed) {
    if (!w.background) counters_.add(counters_.coalesced);
    return;
  }
  bool background = w.background;
  upstream::Pending& p = inflight_.start(std::string(key), std::move(w));
  p.route = route;
  p.validate = validate && validations_;
  selector(p).order(now_ms(), p.order);
  if (!background) counters_.add(counters_.forwarded);
  send_attempt(p, selector(p).servers()[p.server()].transport);
}

void Forwarder::answer_now(std::string_view key, const upstream::Waiter& w, const char* reason) {
  if (w.background) return pipeline_.prefetch_done();
  if (serve_stale(key, w)) return;
  size_t n = pipeline_.answer_failed(w, scratch_.data(), scratch_.size());
  clients_.deliver(w, scratch_.data(), n);
  log_.waiter(w, Outcome::Error, reason, scratch_.data(), n, {});
}

bool Forwarder::serve_stale(std::string_view key, const upstream::Waiter& w) {
  const blocklists::Decision* blocked = nullptr;
  size_t n = pipeline_.answer_stale(key, w, now_ms(), scratch_.data(), scratch_.size(), &blocked);
  if (n == 0) return false;
  clients_.deliver(w, scratch_.data(), n);
  if (blocked)
    log_.blocked_waiter(w, *blocked, scratch_.data(), n, {});
  else
    log_.waiter(w, Outcome::Stale, "stale cache", scratch_.data(), n, {});
  return true;
}

void Forwarder::watch_stale(std::string_view key, uint64_t now_ms) {
  if (stale_after_ms_ == 0 || closed_ || stale_checks_.size() >= kMaxStaleChecks) return;
  stale_checks_.push_back({now_ms + stale_after_ms_, std::string(key)});
  if (stale_checks_.size() == 1) arm_stale_timer();
}

void Forwarder::arm_stale_timer() {
  if (stale_checks_.empty()) {
    uv_timer_stop(&stale_timer_);
    return;
  }
  uint64_t due = stale_checks_.front().due_ms, now = now_ms();
  uv_timer_start(&stale_timer_, [](uv_timer_t* t) { static_cast<Forwarder*>(t->data)->on_stale_timer(); },
                 due > now ? due - now : 0, 0);
}

void Forwarder::on_stale_timer() {
  uint64_t now = now_ms();
  // A check serves every waiter of its key that has waited long enough, so
  // the checks of later waiters of the same question find little to do.
  while (!stale_checks_.empty() && stale_checks_.front().due_ms <= now) {
    std::string key = std::move(stale_checks_.front().key);
    stale_checks_.pop_front();
    uint64_t cutoff = now - stale_after_ms_;
    if (upstream::Pending* p = inflight_.find(key))
      for (upstream::Waiter& w : p->waiters)
        if (!w.background && !w.served && w.received_ms <= cutoff) w.served = serve_stale(key, w);
    // Waiters this worker queued on another worker's question; taken out of
    // its claim, so if the entry is gone meanwhile they get SERVFAIL here.
    for (const upstream::Waiter& w : shared_.take_due(key, worker_, cutoff))
      if (!serve_stale(key, w)) answer_one(w, nullptr, {});
  }
  arm_stale_timer();
}

void Forwarder::close() {
  io_->close();
  if (validations_) validations_->close();
  if (closed_) return;
  closed_ = true;
  stale_checks_.clear();
  uv_close(as_handle(&stale_timer_), nullptr);
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
  tap_exchange(p, reply, len);
  if (p.validate) return validate_reply(p, reply, len);
  std::vector<uint8_t> unvalidated;
  if (validations_ && (dns::get16(reply + 2) & dns::flag::AD)) {
    // hush validates: an AD bit it did not set itself is not passed on.
    unvalidated.assign(reply, reply + len);
    dns::put16(unvalidated.data() + 2, uint16_t(dns::get16(reply + 2) & ~dns::flag::AD));
    reply = unvalidated.data();
  }
  cache::Entry prepared;
  if (!pipeline_.on_reply(p.key, p.waiters.front().query, p.route, reply, len, now_ms(), prepared)) return attempt_failed(p, "reply cannot be served");
  answer_all(p, &prepared);
}

void Forwarder::tap_exchange(const upstream::Pending& p, const uint8_t* reply, size_t len) {
  if (!log_.taps_exchanges()) return;
  const upstream::Server& server = selector(p).servers()[p.server()];
  const dns::Query& q = p.waiters.front().query;
  dnstap::Exchange x;
  if (server.addr.ss_family != AF_UNSPEC) x.server = reinterpret_cast<const sockaddr*>(&server.addr);
  x.server_text = server.text;
  static constexpr int kProtocol[] = {1, 2, 3, 4};  // Udp, Tcp, Tls, Https as the schema numbers them
  x.protocol = kProtocol[size_t(p.transport)];
  x.received_us = now_us();
  x.sent_us = x.received_us - int64_t(now_ms() - p.sent_ms) * 1000;
  x.name = q.name_view();
  x.qname_wire = q.qname_wire;
  x.qname_len = q.qname_wire_len;
  x.id = p.id;
  x.qtype = q.qtype;
  x.qclass = q.qclass;
  x.cd = p.validate;
  x.reply = reply;
  x.reply_len = len;
  log_.exchange(x);
}

namespace {
// The upstream answered, but with an error that says more about the
// upstreams than about the name: a stale answer serves the client better.
bool upstream_error(const cache::Entry& e) {
  uint8_t rc = dns::rcode_of(dns::get16(e.wire.data() + 2));
  return rc == dns::rcode::ServFail || rc == dns::rcode::Refused;
}
}  // namespace

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
  if (!pipeline_.on_reply(p->key, p->waiters.front().query, p->route, d.reply.data(), d.reply.size(), now_ms(),
                          prepared)) return answer_all(*p, nullptr);
  answer_all(*p, &prepared);
}

void Forwarder::answer_all(upstream::Pending& p, const cache::Entry* prepared, const dns::Ede* failure) {
  io_->cancel(p);
  // No upstream answered and one refused its TLS certificate: say so
  // rather than "no upstream answered".
  // (Copied: finishing the question below destroys p.)
  std::string refused_text = p.refused.substr(0, 200);
  dns::Ede refused{dns::ede::NetworkError, refused_text};
  if (!prepared && !failure && !refused_text.empty()) failure = &refused;
  std::string key = p.key;
  std::string upstream = prepared ? selector(p).servers()[p.server()].text : std::string();
  std::vector<upstream::Waiter> waiters = inflight_.finish(key);
  std::vector<upstream::Waiter> remote = shared_.release(key);
  waiters.insert(waiters.end(), std::make_move_iterator(remote.begin()), std::make_move_iterator(remote.end()));
  // A failure DNSSEC found is the answer; the upstreams failing is what a
  // stale answer is for.
  bool failed = prepared ? upstream_error(*prepared) : !failure;
  for (const upstream::Waiter& w : waiters) {
    if (w.background) {
      if (failed) counters_.add(counters_.prefetches_failed);
      pipeline_.prefetch_done();
      continue;
    }
    if (w.served || (failed && serve_stale(key, w))) continue;
    answer_one(w, prepared, upstream, failure);
  }
  clients_.question_done();
}

void Forwarder::answer_one(const upstream::Waiter& w, const cache::Entry* prepared, const std::string& upstream,
                           const dns::Ede* failure) {
  uint8_t* out = scratch_.data();
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

}  // namespace hush::net

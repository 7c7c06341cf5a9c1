#include "net/validation.hpp"

#include <chrono>
#include <ctime>

#include "dns/ldns.hpp"
#include "net/uv_owned.hpp"

namespace hush::net {

namespace {

ldns_resolver* resolver_for(const sockaddr_storage& addr, unsigned timeout_ms) {
  uint16_t port = 53;
  ldns_rdf* ip = ldns_sockaddr_storage2rdf(&addr, &port);
  if (!ip) return nullptr;
  ldns_resolver* r = ldns_resolver_new();
  ldns_resolver_push_nameserver(r, ip);
  ldns_rdf_deep_free(ip);
  ldns_resolver_set_port(r, port);
  ldns_resolver_set_recursive(r, true);
  ldns_resolver_set_dnssec(r, true);
  ldns_resolver_set_dnssec_cd(r, true);
  ldns_resolver_set_edns_udp_size(r, 1232);
  ldns_resolver_set_fallback(r, true);
  ldns_resolver_set_retry(r, 1);
  ldns_resolver_set_timeout(r, {time_t(timeout_ms / 1000), suseconds_t((timeout_ms % 1000) * 1000)});
  return r;
}

// Asks each upstream in turn; an empty answer when none answered.
std::vector<uint8_t> fetch(const std::vector<void*>& resolvers, const validate::Fetch& f) {
  ldns_rdf* name = ldns_dname_new_frm_str(f.name.c_str());
  std::vector<uint8_t> out;
  for (void* r : resolvers) {
    ldns_pkt* answer = ldns_resolver_query(static_cast<ldns_resolver*>(r), name, ldns_rr_type(f.type),
                                           LDNS_RR_CLASS_IN, LDNS_RD);
    if (!answer) continue;
    uint8_t* wire = nullptr;
    size_t len = 0;
    bool ok = ldns_pkt2wire(&wire, answer, &len) == LDNS_STATUS_OK;
    ldns_pkt_rcode rc = ldns_pkt_get_rcode(answer);
    ldns_pkt_free(answer);
    if (ok) out.assign(wire, wire + len);
    free(wire);
    if (ok && (rc == LDNS_RCODE_NOERROR || rc == LDNS_RCODE_NXDOMAIN)) break;
    out.clear();
  }
  ldns_rdf_deep_free(name);
  return out;
}

bool dnssec_type(ldns_rr_type t) {
  return t == LDNS_RR_TYPE_RRSIG || t == LDNS_RR_TYPE_NSEC || t == LDNS_RR_TYPE_NSEC3;
}

// Keeps the records of `list` a client without DO is to see; returns the count.
uint16_t strip(ldns_rr_list* list, uint16_t qtype) {
  size_t keep = 0;
  for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(list, i);
    if (dnssec_type(ldns_rr_get_type(rr)) && ldns_rr_get_type(rr) != qtype) {
      ldns_rr_free(rr);
      continue;
    }
    ldns_rr_list_set_rr(list, rr, keep++);
  }
  ldns_rr_list_set_rr_count(list, keep);
  return uint16_t(keep);
}

}  // namespace

std::vector<uint8_t> served_form(const std::vector<uint8_t>& reply, bool secure, bool do_bit, uint16_t qtype) {
  ldns_pkt* p = nullptr;
  if (ldns_wire2pkt(&p, reply.data(), reply.size()) != LDNS_STATUS_OK) return reply;
  ldns_pkt_set_ad(p, secure);
  if (!do_bit) {
    ldns_pkt_set_ancount(p, strip(ldns_pkt_answer(p), qtype));
    ldns_pkt_set_nscount(p, strip(ldns_pkt_authority(p), qtype));
    ldns_pkt_set_arcount(p, strip(ldns_pkt_additional(p), qtype));
    ldns_pkt_set_edns_do(p, false);
  }
  uint8_t* wire = nullptr;
  size_t len = 0;
  std::vector<uint8_t> out = reply;
  if (ldns_pkt2wire(&wire, p, &len) == LDNS_STATUS_OK) out.assign(wire, wire + len);
  free(wire);
  ldns_pkt_free(p);
  return out;
}

Validations::Validations(uv_loop_t* loop, const validate::Validator& validator,
                         std::vector<sockaddr_storage> upstreams, Bounds bounds, std::function<void(Done&)> on_done)
    : validator_(validator), upstreams_(std::move(upstreams)), bounds_(bounds), on_done_(std::move(on_done)) {
  uv_async_init(loop, &async_, [](uv_async_t* a) { static_cast<Validations*>(a->data)->take_done(); });
  async_.data = this;
  for (unsigned i = 0; i < bounds_.threads; ++i) threads_.emplace_back([this] { run(); });
}

Validations::~Validations() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
}

bool Validations::finish_now(const Job& job, Done& done) const {
  validate::Result r = validator_.validate(job.reply.data(), job.reply.size(), job.qname.data(), job.qname.size(),
                                           job.qtype, {}, int64_t(std::time(nullptr)));
  if (r.state == validate::State::NeedMore) return false;
  done = {job.key, r, {}};
  if (r.state != validate::State::Bogus)
    done.reply = served_form(job.reply, r.state == validate::State::Secure, job.do_bit, job.qtype);
  return true;
}

bool Validations::submit(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || jobs_.size() >= bounds_.max_queue) return false;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void Validations::close() {
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
  uv_close(as_handle(&async_), nullptr);
}

void Validations::run() {
  std::vector<void*> resolvers;
  for (const sockaddr_storage& a : upstreams_)
    if (ldns_resolver* r = resolver_for(a, bounds_.timeout_ms)) resolvers.push_back(r);
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) break;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Done d = work(job, resolvers);
    {
      std::lock_guard lock(mu_);
      done_.push_back(std::move(d));
    }
    uv_async_send(&async_);
  }
  for (void* r : resolvers) ldns_resolver_deep_free(static_cast<ldns_resolver*>(r));
}

Validations::Done Validations::work(const Job& job, const std::vector<void*>& resolvers) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(bounds_.total_ms);
  validate::Fetched fetched;
  validate::Result r;
  for (size_t fetches = 0;; ++fetches) {
    r = validator_.validate(job.reply.data(), job.reply.size(), job.qname.data(), job.qname.size(), job.qtype,
                            fetched, int64_t(std::time(nullptr)));
    if (r.state != validate::State::NeedMore) break;
    if (fetches == bounds_.max_fetches || Clock::now() >= deadline) {
      r = {validate::State::Bogus, validate::ede::NoReachableAuthority,
           fetches == bounds_.max_fetches ? "DNSSEC chain needs more than " + std::to_string(fetches) + " fetches"
                                          : "DNSSEC chain not fetched in time",
           {}};
      break;
    }
    fetched[r.fetch] = fetch(resolvers, r.fetch);
  }
  Done d{job.key, r, {}};
  if (r.state != validate::State::Bogus)
    d.reply = served_form(job.reply, r.state == validate::State::Secure, job.do_bit, job.qtype);
  return d;
}

void Validations::take_done() {
  std::vector<Done> done;
  {
    std::lock_guard lock(mu_);
    done.swap(done_);
  }
  for (Done& d : done) on_done_(d);
}

}  // namespace hush::net

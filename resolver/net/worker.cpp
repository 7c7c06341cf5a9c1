#include "net/worker.hpp"

#include <netinet/in.h>

#include <cstring>

#include "net/uv_owned.hpp"

namespace hush::net {

namespace {
TcpLimits tcp_limits(const Config& cfg) {
  unsigned threads = cfg.server.threads ? cfg.server.threads : 1;
  return {(cfg.tcp.max_connections + threads - 1) / threads, cfg.tcp.max_per_client, cfg.tcp.idle_timeout_ms};
}

void copy_address(const sockaddr* from, sockaddr_storage& to) {
  std::memcpy(&to, from, from->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
}
}  // namespace

Worker::Worker(const Config& cfg, Shared& shared, int index, ListenSockets sockets)
    : shared_(shared),
      index_(index),
      pipeline_(shared.cache, counters_, shared.policies, shared.block, cfg.access_settings, shared.limiter,
                shared.local, cfg.forwards),
      log_(shared.log_queue ? &shared.log_queue->producer(size_t(index)) : nullptr, shared.tap, size_t(index),
           shared.export_queue ? &shared.export_queue->producer(size_t(index)) : nullptr),
      forwarder_(&loop_.loop, cfg, index, shared.inflight, pipeline_, counters_, log_, *this, shared.validator),
      tcp_(&loop_.loop, tcp_limits(cfg), shared.tcp_clients, *this, counters_),
      sockets_(std::move(sockets)) {
  pipeline_.validate_answers(shared.validator != nullptr);
  uv_async_init(&loop_.loop, &stop_async_, [](uv_async_t* a) { static_cast<Worker*>(a->data)->begin_stop(); });
  stop_async_.data = this;
  uv_async_init(&loop_.loop, &mail_async_, [](uv_async_t* a) { static_cast<Worker*>(a->data)->take_mail(); });
  mail_async_.data = this;
  pipeline_.set_rebind({cfg.rebind.protect, cfg.rebind.allow});
  pipeline_.set_client_subnet({cfg.upstream.ecs == "forward", uint8_t(cfg.upstream.ecs_prefix_v4),
                               uint8_t(cfg.upstream.ecs_prefix_v6)});
}

Worker::~Worker() = default;

void Worker::stop() { uv_async_send(&stop_async_); }

void Worker::run() {
  QueryHandler& handler = *this;
  for (size_t i = 0; i < sockets_.udp.size(); ++i)
    udp_.push_back(std::make_unique<UdpListener>(&loop_.loop, sockets_.udp[i], uint32_t(i), handler, counters_));
  for (size_t i = 0; i < sockets_.tcp.size(); ++i) tcp_.listen(sockets_.tcp[i], uint32_t(i));
  for (size_t i = 0; i < sockets_.dot.size(); ++i)
    tcp_.listen(sockets_.dot[i], uint32_t(sockets_.tcp.size() + i), shared_.tls);
  for (size_t i = 0; i < sockets_.doh.size(); ++i)
    tcp_.listen(sockets_.doh[i], uint32_t(sockets_.tcp.size() + sockets_.dot.size() + i), shared_.tls, true);
  // libuv owns the descriptors now and closes them with the handles.
  sockets_.udp.clear();
  sockets_.tcp.clear();
  sockets_.dot.clear();
  sockets_.doh.clear();
  // Questions to upstreams collect in their sockets' batches, answers to
  // forwarded questions (and SERVFAILs after timeouts) in the listeners'
  // batches; each leaves in one sendmmsg per socket at the end of the loop
  // iteration that produced it: "check" runs right after the I/O callbacks,
  // "prepare" right after the timers.
  uv_check_init(&loop_.loop, &flush_check_);
  uv_prepare_init(&loop_.loop, &flush_prepare_);
  flush_check_.data = flush_prepare_.data = this;
  uv_check_start(&flush_check_, [](uv_check_t* h) { static_cast<Worker*>(h->data)->flush_batches(); });
  uv_prepare_start(&flush_prepare_, [](uv_prepare_t* h) { static_cast<Worker*>(h->data)->flush_batches(); });
  uv_run(&loop_.loop, UV_RUN_DEFAULT);
}

Handled Worker::handle(const Received& r) {
  QueryContext ctx;
  ctx.msg = r.msg;
  ctx.len = r.len;
  ctx.client.transport = r.transport;
  ctx.client.worker = uint16_t(index_);
  ctx.client.listener = r.listener;
  ctx.client.connection = r.connection;
  copy_address(r.peer, ctx.client.addr);
  ctx.client.id.set(r.client_id);
  ctx.now_ms = now_ms();
  ctx.out = r.out;
  ctx.out_cap = r.out_cap;
  Verdict verdict = pipeline_.on_query(ctx);
  switch (verdict) {
    case Verdict::Answer:
      counters_.add(counters_.answered);
      log_.answered(ctx);
      if (ctx.prefetch) forwarder_.prefetch(ctx);
      break;
    case Verdict::Forward:
      forwarder_.forward(ctx);
      break;
    case Verdict::Drop:
      log_.answered(ctx);
      break;
  }
  bool valid = ctx.outcome != Outcome::Error && ctx.outcome != Outcome::NotAllowed && verdict != Verdict::Drop;
  return {verdict, ctx.out_len, valid};
}

void Worker::deliver(const upstream::Waiter& w, const uint8_t* data, size_t len) {
  if (len == 0) return;
  counters_.add(counters_.answered);
  // Every worker has a socket on each listen address, so a UDP answer can
  // leave through this worker's socket whichever worker received the query.
  if (w.client.transport == Transport::Udp) {
    udp_[w.client.listener]->queue(w.client.addr, data, len);
    return;
  }
  if (w.client.worker == index_)
    tcp_.answer(w.client.connection, data, len);
  else
    shared_.workers[w.client.worker]->post_tcp_answer(w.client.connection, std::vector<uint8_t>(data, data + len));
}

void Worker::question_done() {
  if (stopping_) finish_stop_if_idle();
}

void Worker::flush_batches() {
  forwarder_.flush();
  for (auto& l : udp_) l->flush();
}

void Worker::post_tcp_answer(uint64_t connection, std::vector<uint8_t> answer) {
  std::lock_guard lock(mail_mu_);
  if (!mail_open_) return;
  mail_.emplace_back(connection, std::move(answer));
  uv_async_send(&mail_async_);
}

void Worker::take_mail() {
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> mail;
  {
    std::lock_guard lock(mail_mu_);
    mail.swap(mail_);
  }
  for (auto& [connection, answer] : mail) tcp_.answer(connection, answer.data(), answer.size());
}

void Worker::begin_stop() {
  if (stopping_) return;
  stopping_ = true;
  // Stop taking new queries at once; questions already upstream get their
  // answers (bounded by the upstream timeouts) before the loop ends.
  // UDP sockets stay open, without reading, to send the answers still due.
  for (auto& l : udp_) l->stop_reading();
  tcp_.stop_listening();
  finish_stop_if_idle();
}

void Worker::finish_stop_if_idle() {
  if (forwarder_.in_flight() > 0) return;
  forwarder_.close();
  flush_batches();
  if (!uv_is_closing(as_handle(&flush_check_))) uv_close(as_handle(&flush_check_), nullptr);
  if (!uv_is_closing(as_handle(&flush_prepare_))) uv_close(as_handle(&flush_prepare_), nullptr);
  tcp_.close_all();
  for (auto& l : udp_) l->close();
  if (!uv_is_closing(as_handle(&stop_async_))) uv_close(as_handle(&stop_async_), nullptr);
  {
    std::lock_guard lock(mail_mu_);
    mail_open_ = false;
  }
  if (!uv_is_closing(as_handle(&mail_async_))) uv_close(as_handle(&mail_async_), nullptr);
}

}  // namespace hush::net

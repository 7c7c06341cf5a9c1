#include "net/worker.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/address.hpp"
#include "dns/answer.hpp"
#include "base/log.hpp"
#include "querylog/record.hpp"
#include "upstream/check.hpp"

namespace hush::net {

namespace {
// libuv hands recvmmsg at most 20 datagrams, each in its own 64 KiB chunk.
constexpr size_t kRecvChunks = 20;
constexpr size_t kRecvChunkSize = 64 * 1024;
constexpr size_t kUdpBatch = 32;
// A TCP client may have this many questions waiting upstream before hush
// stops reading from it, so one connection cannot fill the in-flight table.
constexpr uint32_t kMaxTcpPending = 64;

void copy_address(const sockaddr* from, sockaddr_storage& to) {
  std::memcpy(&to, from, from->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
}

template <class T>
uv_handle_t* as_handle(T* h) {
  return reinterpret_cast<uv_handle_t*>(h);
}
}  // namespace

struct Worker::UdpBatch {
  size_t count = 0;
  mmsghdr msgs[kUdpBatch];
  iovec iov[kUdpBatch];
  sockaddr_storage addrs[kUdpBatch];
  uint8_t data[kUdpBatch][dns::kOwnUdpSize];
};

struct Worker::UdpListener {
  uv_udp_t handle;
  Worker* worker;
  uint32_t index;
  std::unique_ptr<char[]> recv_buffer{new char[kRecvChunks * kRecvChunkSize]};
  UdpBatch batch;
};

struct Worker::TcpListener {
  uv_tcp_t handle;
  Worker* worker;
  uint32_t index;
};

struct Worker::Connection {
  uv_tcp_t handle;
  uv_timer_t idle;
  Worker* worker;
  uint64_t id;
  uint32_t listener;
  sockaddr_storage peer{};
  std::vector<uint8_t> in;
  uint32_t pending = 0;
  bool reading = true;
  bool closing = false;
  int open_handles = 0;
};

namespace {
struct WriteRequest {
  uv_write_t req;
  std::vector<uint8_t> data;
};
struct UdpSendRequest {
  uv_udp_send_t req;
  std::vector<uint8_t> data;
};
}  // namespace

Worker::Worker(const Config& cfg, Shared& shared, int index, ListenSockets sockets)
    : cfg_(cfg),
      shared_(shared),
      index_(index),
      qlog_(shared.log_queue ? &shared.log_queue->producer(size_t(index)) : nullptr),
      pipeline_(shared.cache, counters_, shared.policies, shared.block, cfg.access_settings,
                shared.limiter, shared.local, cfg.forwards),
      sockets_(std::move(sockets)),
      scratch_(2 + 65535) {
  auto servers = [](const std::vector<sockaddr_storage>& addrs) {
    std::vector<upstream::Server> out;
    for (const sockaddr_storage& a : addrs) out.push_back({a, format_address(a)});
    return out;
  };
  selectors_.emplace_back(servers(cfg.upstream_addrs));
  for (const upstream::ForwardZone& f : cfg.forwards) selectors_.emplace_back(servers(f.addrs));
  unsigned threads = cfg.server.threads ? cfg.server.threads : 1;
  max_connections_ = (cfg.tcp.max_connections + threads - 1) / threads;
  uv_loop_init(&loop_);
  std::vector<std::vector<sockaddr_storage>> routes{cfg.upstream_addrs};
  for (const upstream::ForwardZone& f : cfg.forwards) routes.push_back(f.addrs);
  UpstreamIo::Events& events = *this;
  upstream_io_ = std::make_unique<UpstreamIo>(&loop_, events, std::move(routes), cfg.upstream.timeout_ms);
  uv_async_init(&loop_, &stop_async_, [](uv_async_t* a) {
    auto* w = static_cast<Worker*>(a->data);
    w->begin_stop();
  });
  stop_async_.data = this;
  uv_async_init(&loop_, &mail_async_, [](uv_async_t* a) { static_cast<Worker*>(a->data)->take_mail(); });
  mail_async_.data = this;
}

Worker::~Worker() { uv_loop_close(&loop_); }

uint64_t Worker::now_ms() const { return uv_now(const_cast<uv_loop_t*>(&loop_)); }

void Worker::stop() { uv_async_send(&stop_async_); }

void Worker::run() {
  for (size_t i = 0; i < sockets_.udp.size(); ++i) {
    auto l = std::make_unique<UdpListener>();
    l->worker = this;
    l->index = uint32_t(i);
    uv_udp_init_ex(&loop_, &l->handle, AF_UNSPEC | UV_UDP_RECVMMSG);
    l->handle.data = l.get();
    uv_udp_open(&l->handle, sockets_.udp[i]);
    uv_udp_recv_start(
        &l->handle,
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* l = static_cast<UdpListener*>(h->data);
          *buf = uv_buf_init(l->recv_buffer.get(), kRecvChunks * kRecvChunkSize);
        },
        [](uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned flags) {
          auto* l = static_cast<UdpListener*>(h->data);
          if (nread >= 0 && addr)
            l->worker->on_udp(*l, reinterpret_cast<const uint8_t*>(buf->base), size_t(nread), addr);
          // Without the chunk flag this call ends a recvmmsg batch (or was a
          // single recvmsg): send every answer of the batch in one sendmmsg.
          if (!(flags & UV_UDP_MMSG_CHUNK)) l->worker->flush_udp(*l);
        });
    udp_.push_back(std::move(l));
  }
  for (size_t i = 0; i < sockets_.tcp.size(); ++i) {
    auto l = std::make_unique<TcpListener>();
    l->worker = this;
    l->index = uint32_t(i);
    uv_tcp_init(&loop_, &l->handle);
    l->handle.data = l.get();
    uv_tcp_open(&l->handle, sockets_.tcp[i]);
    uv_listen(reinterpret_cast<uv_stream_t*>(&l->handle), 1024, [](uv_stream_t* s, int status) {
      auto* l = static_cast<TcpListener*>(s->data);
      if (status == 0) l->worker->on_accept(*l);
    });
    tcp_.push_back(std::move(l));
  }
  // libuv owns the descriptors now and closes them with the handles.
  sockets_.udp.clear();
  sockets_.tcp.clear();
  // Questions to upstreams collect in their sockets' batches, answers to
  // forwarded questions (and SERVFAILs after timeouts) in the listeners'
  // batches; each leaves in one sendmmsg per socket at the end of the loop
  // iteration that produced it: "check" runs right after the I/O callbacks,
  // "prepare" right after the timers.
  uv_check_init(&loop_, &flush_check_);
  uv_prepare_init(&loop_, &flush_prepare_);
  flush_check_.data = flush_prepare_.data = this;
  uv_check_start(&flush_check_, [](uv_check_t* h) { static_cast<Worker*>(h->data)->flush_batches(); });
  uv_prepare_start(&flush_prepare_, [](uv_prepare_t* h) { static_cast<Worker*>(h->data)->flush_batches(); });
  uv_run(&loop_, UV_RUN_DEFAULT);
}

// ---- UDP ----

void Worker::on_udp(UdpListener& l, const uint8_t* data, size_t len, const sockaddr* from) {
  counters_.add(counters_.queries_udp);
  UdpBatch& b = l.batch;
  if (b.count == kUdpBatch) flush_udp(l);
  size_t slot = b.count;
  QueryContext ctx;
  ctx.msg = data;
  ctx.len = len;
  ctx.client.transport = Transport::Udp;
  ctx.client.worker = uint16_t(index_);
  ctx.client.listener = l.index;
  copy_address(from, ctx.client.addr);
  ctx.now_ms = now_ms();
  ctx.out = b.data[slot];
  ctx.out_cap = sizeof b.data[slot];
  switch (pipeline_.on_query(ctx)) {
    case Verdict::Answer: {
      add_to_batch(b, ctx.client.addr, ctx.out_len);
      counters_.add(counters_.answered);
      log_answered(ctx);
      break;
    }
    case Verdict::Forward:
      forward(ctx);
      break;
    case Verdict::Drop:
      log_answered(ctx);
      break;
  }
}

void Worker::add_to_batch(UdpBatch& b, const sockaddr_storage& to, size_t len) {
  size_t slot = b.count++;
  b.addrs[slot] = to;
  b.iov[slot] = {b.data[slot], len};
  msghdr& m = b.msgs[slot].msg_hdr;
  m = {};
  m.msg_name = &b.addrs[slot];
  m.msg_namelen = address_length(b.addrs[slot]);
  m.msg_iov = &b.iov[slot];
  m.msg_iovlen = 1;
}

void Worker::queue_udp(uint32_t listener, const sockaddr_storage& to, const uint8_t* data, size_t len) {
  UdpListener& l = *udp_[listener];
  UdpBatch& b = l.batch;
  if (len > sizeof b.data[0]) return send_udp(listener, to, data, len);
  if (b.count == kUdpBatch) flush_udp(l);
  std::memcpy(b.data[b.count], data, len);
  add_to_batch(b, to, len);
}

void Worker::flush_batches() {
  upstream_io_->flush();
  for (auto& l : udp_) flush_udp(*l);
}

void Worker::flush_udp(UdpListener& l) {
  UdpBatch& b = l.batch;
  if (b.count == 0) return;
  uv_os_fd_t fd;
  uv_fileno(as_handle(&l.handle), &fd);
  size_t sent = 0;
  while (sent < b.count) {
    int r = ::sendmmsg(fd, b.msgs + sent, unsigned(b.count - sent), MSG_DONTWAIT);
    if (r > 0) {
      sent += size_t(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      // The message at `sent` failed for its own reason (say, an unreachable
      // address); skip it so the rest still go out.
      counters_.add(counters_.send_errors);
      ++sent;
      continue;
    }
    break;
  }
  for (size_t i = sent; i < b.count; ++i)
    send_udp(l.index, b.addrs[i], b.data[i], b.iov[i].iov_len);
  b.count = 0;
}

void Worker::send_udp(uint32_t listener, const sockaddr_storage& to, const uint8_t* data,
                      size_t len) {
  UdpListener& l = *udp_[listener];
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(const_cast<uint8_t*>(data)), unsigned(len));
  const auto* addr = reinterpret_cast<const sockaddr*>(&to);
  int r = uv_udp_try_send(&l.handle, &buf, 1, addr);
  if (r >= 0) return;
  if (r != UV_EAGAIN) {
    counters_.add(counters_.send_errors);
    return;
  }
  // The socket buffer is full: queue a copy, libuv sends it when writable.
  auto* req = new UdpSendRequest;
  req->data.assign(data, data + len);
  req->req.data = req;
  buf = uv_buf_init(reinterpret_cast<char*>(req->data.data()), unsigned(len));
  if (uv_udp_send(&req->req, &l.handle, &buf, 1, addr,
                  [](uv_udp_send_t* r, int) { delete static_cast<UdpSendRequest*>(r->data); }) != 0) {
    counters_.add(counters_.send_errors);
    delete req;
  }
}

// ---- TCP (RFC 7766) ----

std::string TcpClients::key(const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET)
    return std::string(reinterpret_cast<const char*>(&reinterpret_cast<const sockaddr_in&>(peer).sin_addr), 4);
  return std::string(reinterpret_cast<const char*>(&reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr), 16);
}

bool TcpClients::acquire(const sockaddr_storage& peer, unsigned limit) {
  std::lock_guard lock(mu_);
  unsigned& n = open_[key(peer)];
  if (n >= limit) return false;
  ++n;
  return true;
}

void TcpClients::release(const sockaddr_storage& peer) {
  std::lock_guard lock(mu_);
  auto it = open_.find(key(peer));
  if (it != open_.end() && --it->second == 0) open_.erase(it);
}

// Closes a connection that was accepted but not taken on (over a cap).
void Worker::refuse_connection(Connection* c) {
  counters_.add(counters_.tcp_refused);
  c->closing = true;
  uv_close(as_handle(&c->handle), [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
}

void Worker::on_accept(TcpListener& l) {
  auto* c = new Connection;
  c->worker = this;
  uv_tcp_init(&loop_, &c->handle);
  c->handle.data = c;
  c->open_handles = 1;
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&l.handle), reinterpret_cast<uv_stream_t*>(&c->handle)) != 0 ||
      connections_.size() >= max_connections_) {
    refuse_connection(c);
    return;
  }
  c->id = next_connection_++;
  c->listener = l.index;
  int len = sizeof c->peer;
  uv_tcp_getpeername(&c->handle, reinterpret_cast<sockaddr*>(&c->peer), &len);
  if (!shared_.tcp_clients.acquire(c->peer, cfg_.tcp.max_per_client)) {
    refuse_connection(c);
    return;
  }
  uv_tcp_nodelay(&c->handle, 1);
  connections_[c->id] = c;
  uv_timer_init(&loop_, &c->idle);
  c->idle.data = c;
  c->open_handles = 2;
  uv_timer_start(&c->idle, [](uv_timer_t* t) {
    auto* c = static_cast<Connection*>(t->data);
    // Questions still waiting upstream keep the connection open until answered.
    if (c->pending > 0)
      uv_timer_again(t);
    else
      c->worker->close_connection(*c);
  }, cfg_.tcp.idle_timeout_ms, cfg_.tcp.idle_timeout_ms);
  start_reading(*c);
}

void Worker::start_reading(Connection& c) {
  c.reading = true;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c.handle),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = static_cast<Connection*>(h->data);
        *buf = uv_buf_init(c->worker->read_buffer_, sizeof c->worker->read_buffer_);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Connection*>(s->data);
        if (nread < 0)
          c->worker->close_connection(*c);
        else if (nread > 0)
          c->worker->on_tcp_data(*c, buf->base, size_t(nread));
      });
}

void Worker::on_tcp_data(Connection& c, const char* data, size_t len) {
  c.in.insert(c.in.end(), data, data + len);
  size_t off = 0;
  // Several queries may arrive in one read and one query over several reads;
  // each complete frame is answered as soon as its answer is ready.
  while (!c.closing && c.in.size() - off >= 2) {
    size_t frame = dns::get16(&c.in[off]);
    if (c.in.size() - off - 2 < frame) break;
    counters_.add(counters_.queries_tcp);
    QueryContext ctx;
    ctx.msg = &c.in[off + 2];
    ctx.len = frame;
    ctx.client.transport = Transport::Tcp;
    ctx.client.worker = uint16_t(index_);
    ctx.client.listener = c.listener;
    ctx.client.connection = c.id;
    ctx.client.addr = c.peer;
    ctx.now_ms = now_ms();
    ctx.out = scratch_.data() + 2;
    ctx.out_cap = scratch_.size() - 2;
    switch (pipeline_.on_query(ctx)) {
      case Verdict::Answer:
        counters_.add(counters_.answered);
        send_tcp(c.id, ctx.out, ctx.out_len);
        log_answered(ctx);
        break;
      case Verdict::Forward:
        ++c.pending;
        forward(ctx);
        break;
      case Verdict::Drop:
        log_answered(ctx);
        break;
    }
    off += 2 + frame;
  }
  if (c.closing) return;
  // Only whole queries count as activity: a client trickling bytes without
  // ever finishing a message is closed at the idle timeout (slow-read).
  if (off > 0) uv_timer_again(&c.idle);
  c.in.erase(c.in.begin(), c.in.begin() + long(off));
  if (c.pending >= kMaxTcpPending && c.reading) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.handle));
    c.reading = false;
  }
}

void Worker::send_tcp(uint64_t id, const uint8_t* data, size_t len) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  auto* req = new WriteRequest;
  req->data.resize(2 + len);
  dns::put16(req->data.data(), uint16_t(len));
  std::memcpy(req->data.data() + 2, data, len);
  req->req.data = req;
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(req->data.data()), unsigned(req->data.size()));
  if (uv_write(&req->req, reinterpret_cast<uv_stream_t*>(&c.handle), &buf, 1,
               [](uv_write_t* r, int) { delete static_cast<WriteRequest*>(r->data); }) != 0) {
    counters_.add(counters_.send_errors);
    delete req;
  }
}

void Worker::close_connection(Connection& c) {
  if (c.closing) return;
  c.closing = true;
  connections_.erase(c.id);
  shared_.tcp_clients.release(c.peer);
  auto closed = [](uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    if (--c->open_handles == 0) delete c;
  };
  uv_close(as_handle(&c.handle), closed);
  uv_close(as_handle(&c.idle), closed);
}

// ---- upstream ----

void Worker::forward(QueryContext& ctx) {
  upstream::Waiter w{ctx.client, ctx.q, ctx.now_ms, ctx.groups,
                     ctx.decision.action != blocklists::Action::Allow, uv_hrtime()};
  bool full = false;
  if (inflight_.join(ctx.key_view(), w, &full)) {
    if (full) {
      size_t n = pipeline_.answer_failed(w, scratch_.data() + 2, scratch_.size() - 2);
      deliver(w, scratch_.data() + 2, n);
      log_waiter(w, Outcome::Error, "too many identical questions waiting", scratch_.data() + 2, n, {});
    } else {
      counters_.add(counters_.coalesced);
    }
    return;
  }
  // Another worker may be asking this very question already.
  int owner = shared_.inflight.claim_or_join(ctx.key_view(), index_, w);
  if (owner == upstream::SharedInflight::kFull) {
    size_t n = pipeline_.answer_failed(w, scratch_.data() + 2, scratch_.size() - 2);
    deliver(w, scratch_.data() + 2, n);
    log_waiter(w, Outcome::Error, "too many identical questions waiting", scratch_.data() + 2, n, {});
    return;
  }
  if (owner != upstream::SharedInflight::kClaimed) {
    counters_.add(counters_.coalesced);
    return;
  }
  upstream::Pending& p = inflight_.start(std::string(ctx.key_view()), std::move(w));
  p.route = ctx.route;
  selector(p).order(now_ms(), p.order);
  counters_.add(counters_.forwarded);
  send_attempt(p, false);
}

void Worker::send_attempt(upstream::Pending& p, bool tcp) {
  p.sent_ms = now_ms();
  if (const char* why = upstream_io_->send(p, tcp)) attempt_failed(p, why);
}

void Worker::on_upstream_reply(upstream::Pending& p, const uint8_t* data, size_t len) {
  const dns::Query& q = p.waiters.front().query;
  upstream::ReplyCheck check =
      upstream::check_reply(data, len, p.id, q.qname_wire, q.qname_wire_len, q.qtype, q.qclass);
  if (check != upstream::ReplyCheck::Ok) {
    counters_.add(counters_.upstream_rejected);
    log::debug("dropped a reply from ", selector(p).servers()[p.server()].text, " for ", q.name_view(),
               ": ", upstream::to_string(check));
    if (p.tcp) attempt_failed(p, "bad TCP reply");
    return;
  }
  uint16_t flags = dns::get16(data + 2);
  if ((flags & dns::flag::TC) && !p.tcp) {
    counters_.add(counters_.upstream_tcp_retries);
    send_attempt(p, true);
    return;
  }
  uint8_t rc = dns::rcode_of(flags);
  bool server_problem = rc == dns::rcode::ServFail || rc == dns::rcode::Refused ||
                        rc == dns::rcode::NotImp || rc == dns::rcode::FormErr;
  if (server_problem && p.attempt + 1 < p.max_attempts()) {
    attempt_failed(p, "answered with an error rcode");
    return;
  }
  complete(p, data, len);
}

void Worker::on_upstream_failure(upstream::Pending& p, bool timed_out, const char* why) {
  if (timed_out) {
    counters_.add(counters_.upstream_timeouts);
    // Per-upstream counters cover the default upstreams (route 0) only.
    if (p.route == 0 && p.server() < kMaxUpstreams) counters_.add(counters_.upstreams[p.server()].timeouts);
  }
  attempt_failed(p, why);
}

void Worker::on_upstream_stray(uint8_t route, uint8_t server, const uint8_t*, size_t) {
  counters_.add(counters_.upstream_rejected);
  log::debug("dropped a reply from ", selectors_[route].servers()[server].text,
             ": no query waits for its ID");
}

void Worker::attempt_failed(upstream::Pending& p, const char* why) {
  log::debug("upstream ", selector(p).servers()[p.server()].text, " for ",
             p.waiters.front().query.name_view(), ": ", why);
  selector(p).failure(p.server(), now_ms());
  if (p.route == 0 && p.server() < kMaxUpstreams) counters_.add(counters_.upstreams[p.server()].failures);
  if (++p.attempt < p.max_attempts())
    send_attempt(p, false);
  else
    fail_all(p);
}

void Worker::complete(upstream::Pending& p, const uint8_t* reply, size_t len) {
  selector(p).success(p.server(), uint32_t(now_ms() - p.sent_ms));
  if (p.route == 0) counters_.upstream_answer(p.server(), uint32_t(now_ms() - p.sent_ms));
  cache::Entry prepared;
  if (!pipeline_.on_reply(p.key, reply, len, now_ms(), prepared)) {
    attempt_failed(p, "reply cannot be served");
    return;
  }
  answer_all(p, &prepared);
}

void Worker::fail_all(upstream::Pending& p) { answer_all(p, nullptr); }

// Answers this worker's waiters and those other workers queued, from the
// prepared reply or, without one, with SERVFAIL.
void Worker::answer_all(upstream::Pending& p, const cache::Entry* prepared) {
  upstream_io_->cancel(p);
  std::string key = p.key;
  std::string upstream = prepared ? selector(p).servers()[p.server()].text : std::string();
  std::vector<upstream::Waiter> waiters = inflight_.finish(key);
  std::vector<upstream::Waiter> remote = shared_.inflight.release(key);
  waiters.insert(waiters.end(), std::make_move_iterator(remote.begin()), std::make_move_iterator(remote.end()));
  for (const upstream::Waiter& w : waiters) {
    size_t n;
    const blocklists::Decision* blocked = nullptr;
    if (prepared) {
      n = pipeline_.answer_waiter(w, *prepared, scratch_.data() + 2, scratch_.size() - 2, &blocked);
    } else {
      counters_.add(counters_.servfail);
      n = pipeline_.answer_failed(w, scratch_.data() + 2, scratch_.size() - 2);
    }
    deliver(w, scratch_.data() + 2, n);
    if (blocked)
      log_waiter(w, Outcome::Blocked, blocked_reason(*blocked), scratch_.data() + 2, n, upstream);
    else
      log_waiter(w, prepared ? Outcome::Forwarded : Outcome::Error,
                 prepared ? "forwarded" : "no upstream answered", scratch_.data() + 2, n, upstream);
  }
  if (stopping_) finish_stop_if_idle();
}

void Worker::deliver(const upstream::Waiter& w, const uint8_t* data, size_t len) {
  if (len == 0) return;
  counters_.add(counters_.answered);
  // Every worker has a socket on each listen address, so a UDP answer can
  // leave through this worker's socket whichever worker received the query.
  if (w.client.transport == Transport::Udp) {
    queue_udp(w.client.listener, w.client.addr, data, len);
    return;
  }
  if (w.client.worker == index_)
    deliver_tcp(w.client.connection, data, len);
  else
    shared_.workers[w.client.worker]->post_tcp_answer(w.client.connection,
                                                      std::vector<uint8_t>(data, data + len));
}

void Worker::deliver_tcp(uint64_t connection, const uint8_t* data, size_t len) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  send_tcp(c.id, data, len);
  --c.pending;
  if (!c.reading && c.pending < kMaxTcpPending) start_reading(c);
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
  for (auto& [connection, answer] : mail) deliver_tcp(connection, answer.data(), answer.size());
}

// ---- query log ----

std::string_view Worker::blocked_reason(const blocklists::Decision& d) {
  // "LIST: RULE" by copies, not snprintf: this runs for every blocked answer.
  size_t n = 0;
  for (std::string_view part : {d.list, std::string_view(": "), d.rule}) {
    size_t take = std::min(part.size(), sizeof reason_ - n);
    std::memcpy(reason_ + n, part.data(), take);
    n += take;
  }
  return {reason_, n};
}

void Worker::log_event(const ClientRef& client, const dns::Query& q, Outcome outcome,
                       std::string_view reason, const uint8_t* answer, size_t len,
                       std::string_view upstream, uint32_t latency_us) {
  querylog::Status status;
  switch (outcome) {
    case Outcome::Cached: status = querylog::Status::Cached; break;
    case Outcome::Forwarded: status = querylog::Status::Forwarded; break;
    case Outcome::Blocked: status = querylog::Status::Blocked; break;
    case Outcome::Local: status = querylog::Status::Local; break;
    case Outcome::Refused: status = querylog::Status::Refused; break;
    case Outcome::Error: status = querylog::Status::Error; break;
    case Outcome::None:
    case Outcome::Dropped:
    default: return;
  }
  querylog::Event e;
  e.time_us = querylog::now_us();
  e.client = reinterpret_cast<const sockaddr*>(&client.addr);
  e.transport = client.transport;
  e.name = q.name_view();
  e.qtype = q.qtype;
  e.status = status;
  e.reason = reason;
  e.answer = answer;
  e.answer_len = len;
  e.upstream = upstream;
  e.latency_us = latency_us;
  qlog_->log(e);
}

void Worker::log_answered(const QueryContext& ctx) {
  if (!qlog_) return;
  std::string_view reason =
      ctx.outcome == Outcome::Blocked ? blocked_reason(ctx.decision) : ctx.reason;
  log_event(ctx.client, ctx.q, ctx.outcome, reason, ctx.out_len ? ctx.out : nullptr, ctx.out_len, {}, 0);
}

void Worker::log_waiter(const upstream::Waiter& w, Outcome outcome, std::string_view reason,
                        const uint8_t* answer, size_t len, std::string_view upstream) {
  if (!qlog_) return;
  log_event(w.client, w.query, outcome, reason, answer, len, upstream,
            uint32_t((uv_hrtime() - w.received_ns) / 1000));
}

// ---- stopping ----

void Worker::begin_stop() {
  if (stopping_) return;
  stopping_ = true;
  // Stop taking new queries at once; questions already upstream get their
  // answers (bounded by the upstream timeouts) before the loop ends.
  // UDP sockets stay open, without reading, to send the answers still due.
  for (auto& l : udp_) {
    flush_udp(*l);
    uv_udp_recv_stop(&l->handle);
  }
  for (auto& l : tcp_) uv_close(as_handle(&l->handle), nullptr);
  finish_stop_if_idle();
}

void Worker::finish_stop_if_idle() {
  if (inflight_.size() > 0) return;
  upstream_io_->close();
  flush_batches();
  if (!uv_is_closing(as_handle(&flush_check_))) uv_close(as_handle(&flush_check_), nullptr);
  if (!uv_is_closing(as_handle(&flush_prepare_))) uv_close(as_handle(&flush_prepare_), nullptr);
  std::vector<Connection*> open;
  for (auto& [id, c] : connections_) open.push_back(c);
  for (Connection* c : open) close_connection(*c);
  for (auto& l : udp_)
    if (!uv_is_closing(as_handle(&l->handle))) uv_close(as_handle(&l->handle), nullptr);
  if (!uv_is_closing(as_handle(&stop_async_))) uv_close(as_handle(&stop_async_), nullptr);
  {
    std::lock_guard lock(mail_mu_);
    mail_open_ = false;
  }
  if (!uv_is_closing(as_handle(&mail_async_))) uv_close(as_handle(&mail_async_), nullptr);
}

}  // namespace hush::net

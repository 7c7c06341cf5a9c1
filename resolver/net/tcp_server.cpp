#include "net/tcp_server.hpp"

#include <netinet/in.h>
#include <openssl/err.h>

#include <algorithm>
#include <cstring>

#include "dns/wire.hpp"
#include "net/doh_request.hpp"
#include "net/doh_session.hpp"
#include "net/uv_owned.hpp"
#include "tls/wire_bio.hpp"

namespace hush::net {

namespace {
// A TCP client may have this many questions waiting upstream before hush
// stops reading from it, so one connection cannot fill the in-flight table.
constexpr uint32_t kMaxPending = 64;
// Answer bytes libuv may hold for a client that does not read (pipelined
// questions for cached names are answered at once, so only this bounds them).
// Reading stops above it and resumes below half of it.
constexpr size_t kMaxWriteQueue = 256 * 1024;

struct WriteRequest {
  uv_write_t req;
  std::vector<uint8_t> data;
};
}  // namespace

struct TcpServer::Listener {
  uv_tcp_t handle;
  TcpServer* server;
  uint32_t index;
  const tls::ServerContext* tls;
  bool https;
};

namespace {
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
}  // namespace

// Freed by the close callback of the last of its two handles.
struct TcpServer::Connection {
  uv_tcp_t handle;
  uv_timer_t idle;
  TcpServer* server;
  uint64_t id = 0;
  uint32_t listener = 0;
  sockaddr_storage peer{};
  // DNS over TLS: the session, reading from and writing to `wire`, so the
  // bytes still move through libuv like those of plain TCP.
  tls::Wire wire;
  std::unique_ptr<SSL, SslFree> ssl;
  const tls::ServerContext* tls = nullptr;
  bool handshake_done = false;
  std::string client_id;  // from the SNI, once the handshake is done
  // DNS over HTTPS: the HTTP session (once the handshake has chosen the
  // version) and the ids of its questions waiting upstream.
  bool https = false;
  std::unique_ptr<DohSession> doh;
  std::vector<uint64_t> requests;
  uv_shutdown_t shutdown;
  bool shutting_down = false;  // closes once its last write is out
  std::vector<uint8_t> in;
  uint32_t pending = 0;  // questions waiting upstream
  uint64_t last_query_ms = 0;  // loop time of the last valid query (or the accept)
  bool reading = true;
  bool taking_frames = false;  // take_frames() is on the stack
  bool closing = false;
  int open_handles = 0;
};

// ---- per-client cap ----

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

// ---- connections ----

TcpServer::TcpServer(uv_loop_t* loop, const TcpLimits& limits, TcpClients& clients, QueryHandler& handler,
                     Counters& counters)
    : loop_(loop), limits_(limits), clients_(clients), handler_(handler), counters_(counters), out_(65535) {}

TcpServer::~TcpServer() = default;

void TcpServer::listen(int fd, uint32_t index, const tls::ServerContext* tls, bool https) {
  auto l = std::make_unique<Listener>();
  l->server = this;
  l->index = index;
  l->tls = tls;
  l->https = https;
  uv_tcp_init(loop_, &l->handle);
  l->handle.data = l.get();
  uv_tcp_open(&l->handle, fd);
  uv_listen(as_stream(&l->handle), 1024, [](uv_stream_t* s, int status) {
    auto* l = static_cast<Listener*>(s->data);
    if (status == 0) l->server->on_accept(*l);
  });
  listeners_.push_back(std::move(l));
}

void TcpServer::on_accept(Listener& l) {
  auto c = std::make_unique<Connection>();
  c->server = this;
  uv_tcp_init(loop_, &c->handle);
  c->handle.data = c.get();
  c->open_handles = 1;
  if (uv_accept(as_stream(&l.handle), as_stream(&c->handle)) != 0) return refuse(std::move(c));
  c->id = next_connection_++;
  c->listener = l.index;
  c->last_query_ms = uv_now(loop_);
  int len = sizeof c->peer;
  uv_tcp_getpeername(&c->handle, reinterpret_cast<sockaddr*>(&c->peer), &len);
  if (!clients_.acquire(c->peer, limits_.max_per_client)) return refuse(std::move(c));
  if (connections_.size() >= limits_.max_connections) evict_idlest();
  uv_tcp_nodelay(&c->handle, 1);
  if (l.tls) {
    std::shared_ptr<SSL_CTX> ctx = l.tls->current();
    c->ssl.reset(ctx ? SSL_new(ctx.get()) : nullptr);
    if (!c->ssl) {
      counters_.add(counters_.tls_failed);
      return refuse(std::move(c));
    }
    BIO* bio = tls::wire_bio(&c->wire);
    if (!bio) {
      counters_.add(counters_.tls_failed);
      return refuse(std::move(c));
    }
    SSL_set_bio(c->ssl.get(), bio, bio);
    SSL_set_accept_state(c->ssl.get());
    if (l.https) tls::offer_https(c->ssl.get());
    c->tls = l.tls;
    c->https = l.https;
  }
  uv_timer_init(loop_, &c->idle);
  c->idle.data = c.get();
  c->open_handles = 2;
  uv_timer_start(&c->idle, [](uv_timer_t* t) {
    auto* c = static_cast<Connection*>(t->data);
    // Questions still waiting upstream keep the connection open until answered.
    if (c->pending > 0)
      uv_timer_again(t);
    else
      c->server->close(*c);
  }, limits_.idle_timeout_ms, limits_.idle_timeout_ms);
  Connection& ref = *c;
  connections_.emplace(c->id, std::move(c));
  start_reading(ref);
}

// Closes a connection that was accepted but not taken on (over a cap).
void TcpServer::refuse(std::unique_ptr<Connection> c) {
  counters_.add(counters_.tcp_refused);
  c->closing = true;
  uv_close(as_handle(&c.release()->handle), [](uv_handle_t* h) { reclaim<Connection>(h->data); });
}

// As unbound does: refusing the newcomer would let whoever holds the slots
// keep them; the idlest connection is the one least likely to be a client
// in the middle of its work. A scan, but only when every slot is taken.
void TcpServer::evict_idlest() {
  Connection* idlest = nullptr;
  for (auto& [id, c] : connections_)
    if (!idlest || c->last_query_ms < idlest->last_query_ms) idlest = c.get();
  if (!idlest) return;
  counters_.add(counters_.tcp_evicted);
  close(*idlest);
}

void TcpServer::start_reading(Connection& c) {
  c.reading = true;
  uv_read_start(
      as_stream(&c.handle),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        TcpServer* s = static_cast<Connection*>(h->data)->server;
        *buf = uv_buf_init(s->read_buffer_, sizeof s->read_buffer_);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Connection*>(s->data);
        if (nread < 0)
          c->server->close(*c);
        else if (nread > 0)
          c->server->on_data(*c, buf->base, size_t(nread));
      });
}

bool TcpServer::backlogged(Connection& c, size_t write_limit) {
  // An HTTP/1.1 client may send one whole request ahead of the one waiting.
  return c.pending >= kMaxPending || uv_stream_get_write_queue_size(as_stream(&c.handle)) > write_limit ||
         (c.doh && c.doh->buffered() > DohSession::kMaxHead + doh::kMaxMessage);
}

void TcpServer::update_reading(Connection& c) {
  if (c.shutting_down) return;
  if (c.reading && backlogged(c, kMaxWriteQueue)) {
    uv_read_stop(as_stream(&c.handle));
    c.reading = false;
  } else if (!c.reading && !backlogged(c, kMaxWriteQueue / 2)) {
    start_reading(c);
    // Frames already received get no new read event.
    take_input(c);
  }
}

void TcpServer::on_data(Connection& c, const char* data, size_t len) {
  if (c.ssl) {
    if (!decrypt(c, data, len)) return;
  } else {
    c.in.insert(c.in.end(), data, data + len);
  }
  take_input(c);
}

void TcpServer::take_input(Connection& c) {
  if (c.https)
    take_https(c);
  else
    take_frames(c);
}

bool TcpServer::decrypt(Connection& c, const char* data, size_t len) {
  // Read in full by the loop below, before `data` goes back to libuv.
  c.wire.in = reinterpret_cast<const uint8_t*>(data);
  c.wire.in_len = len;
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(c.ssl.get(), plain_buffer_, sizeof plain_buffer_);
    if (!c.handshake_done && SSL_is_init_finished(c.ssl.get())) {
      c.handshake_done = true;
      const char* sni = SSL_get_servername(c.ssl.get(), TLSEXT_NAMETYPE_host_name);
      if (sni) c.client_id = tls::client_id_from_sni(sni, c.tls->server_name());
      if (c.https) start_https(c);
    }
    if (n > 0) {
      c.in.insert(c.in.end(), plain_buffer_, plain_buffer_ + n);
      continue;
    }
    int err = SSL_get_error(c.ssl.get(), n);
    // The handshake's replies and alerts go out before anything else happens.
    flush_tls(c);
    c.wire.in = nullptr;
    c.wire.in_len = 0;
    if (err == SSL_ERROR_WANT_READ) return true;
    // A client that ends the session cleanly (close_notify) is not a failure.
    if (err != SSL_ERROR_ZERO_RETURN) counters_.add(counters_.tls_failed);
    close(c);
    return false;
  }
}

void TcpServer::flush_tls(Connection& c) {
  if (c.wire.out.empty()) return;
  // Moved out whole: the connection keeps no buffer while idle.
  write_raw(c, std::move(c.wire.out));
  c.wire.out = {};
}

void TcpServer::take_frames(Connection& c) {
  // A question answered at once from upstream (SERVFAIL) comes back through
  // answer() and update_reading() while the loop below still holds `off`.
  if (c.taking_frames) return;
  c.taking_frames = true;
  size_t off = 0;
  bool valid = false;
  // Several queries may arrive in one read and one query over several reads;
  // each complete frame is answered as soon as its answer is ready. Frames
  // past a backlog wait in `in` (at most one read more) until it drains.
  while (!c.closing && c.in.size() - off >= 2 && !backlogged(c, kMaxWriteQueue)) {
    size_t frame = dns::get16(&c.in[off]);
    if (c.in.size() - off - 2 < frame) break;
    valid |= on_frame(c, c.in.data() + off + 2, frame);
    off += 2 + frame;
  }
  c.taking_frames = false;
  if (c.closing) return;
  // Only whole valid queries count as activity: a client trickling bytes,
  // or sending errors, is closed at the idle timeout and is the first to
  // give up its slot.
  if (valid) {
    uv_timer_again(&c.idle);
    c.last_query_ms = uv_now(loop_);
  }
  c.in.erase(c.in.begin(), c.in.begin() + long(off));
  update_reading(c);
}

bool TcpServer::on_frame(Connection& c, const uint8_t* msg, size_t len) {
  counters_.add(c.ssl ? counters_.queries_dot : counters_.queries_tcp);
  // Counted before the handler runs: a forwarded question may be answered
  // (SERVFAIL) before handle() returns, through answer().
  ++c.pending;
  Handled h = handler_.handle({msg, len, c.ssl ? Transport::Dot : Transport::Tcp, c.listener, c.id,
                               reinterpret_cast<const sockaddr*>(&c.peer), out_.data(), out_.size(), c.client_id});
  if (h.verdict == Verdict::Forward) return true;
  --c.pending;
  // Nothing worth an answer (an empty or cut frame, a response, a stranger
  // with drop_refused): over TCP that is an error, and the slot is freed.
  if (h.verdict == Verdict::Drop) {
    close(c);
    return false;
  }
  send(c, out_.data(), h.out_len);
  return h.valid;
}

void TcpServer::answer(uint64_t connection, const uint8_t* data, size_t len) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return answer_https(connection, data, len);
  Connection& c = *it->second;
  send(c, data, len);
  --c.pending;
  update_reading(c);
}

void TcpServer::send(Connection& c, const uint8_t* data, size_t len) {
  std::vector<uint8_t> frame(2 + len);
  dns::put16(frame.data(), uint16_t(len));
  std::memcpy(frame.data() + 2, data, len);
  write(c, std::move(frame));
}

void TcpServer::write(Connection& c, std::vector<uint8_t> data) {
  if (!c.ssl) return write_raw(c, std::move(data));
  // The wire BIO takes any amount, so a write after the handshake (the
  // only time answers exist) completes at once.
  if (SSL_write(c.ssl.get(), data.data(), int(data.size())) <= 0) {
    counters_.add(counters_.send_errors);
    return;
  }
  flush_tls(c);
}

void TcpServer::write_raw(Connection& c, std::vector<uint8_t> data) {
  auto req = std::make_unique<WriteRequest>();
  req->data = std::move(data);
  req->req.data = req.get();
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(req->data.data()), unsigned(req->data.size()));
  auto written = [](uv_write_t* r, int) {
    // Cancelled writes of a closing connection come back before its close
    // callback frees it, so the connection is still there to look at. `r`
    // lives inside the request, so it is read before the request is freed.
    auto* c = static_cast<Connection*>(r->handle->data);
    reclaim<WriteRequest>(r->data);
    if (!c->reading && !c->closing) c->server->update_reading(*c);
  };
  if (uv_write(&req->req, as_stream(&c.handle), &buf, 1, written) != 0) {
    counters_.add(counters_.send_errors);
    return;
  }
  req.release();  // the write callback frees it
}

// ---- DNS over HTTPS ----

void TcpServer::start_https(Connection& c) {
  const unsigned char* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(c.ssl.get(), &alpn, &alpn_len);
  // The session belongs to the connection, so the connection outlives it.
  Connection* conn = &c;
  auto on_query = [this, conn](uint32_t stream, std::string_view id, const uint8_t* msg, size_t len) {
    on_https_query(*conn, stream, id, msg, len);
  };
  const bool h2 = alpn_len == 2 && std::memcmp(alpn, "h2", 2) == 0;
  c.doh = h2 ? DohSession::http2(on_query) : DohSession::http1(on_query);
}

void TcpServer::take_https(Connection& c) {
  // Answers that come back while the session is reading wait for it: its
  // output is taken once it has returned.
  if (!c.doh || c.taking_frames) return;
  c.taking_frames = true;
  const bool ok = c.in.empty() || c.doh->receive(c.in.data(), c.in.size());
  c.in.clear();
  c.taking_frames = false;
  if (c.closing) return;
  flush_https(c);
  if (!ok) close_after_writes(c);
  update_reading(c);
}

void TcpServer::on_https_query(Connection& c, uint32_t stream, std::string_view client_id, const uint8_t* msg,
                               size_t len) {
  counters_.add(counters_.queries_doh);
  const uint64_t request = next_connection_++;
  https_requests_.emplace(request, std::make_pair(c.id, stream));
  c.requests.push_back(request);
  ++c.pending;
  // The path's client ID names the device; without one, the SNI's.
  Handled h = handler_.handle({msg, len, Transport::Doh, c.listener, request,
                               reinterpret_cast<const sockaddr*>(&c.peer), out_.data(), out_.size(),
                               client_id.empty() ? std::string_view(c.client_id) : client_id});
  if (h.valid) {
    uv_timer_again(&c.idle);
    c.last_query_ms = uv_now(loop_);
  }
  if (h.verdict == Verdict::Forward) return;
  --c.pending;
  https_requests_.erase(request);
  c.requests.erase(std::find(c.requests.begin(), c.requests.end(), request));
  // Nothing worth a DNS answer (a response, cut short, a stranger with
  // drop_refused): an HTTP error on this stream, the others go on.
  if (h.verdict == Verdict::Drop)
    c.doh->reject(stream, 400, "not a DNS query");
  else
    c.doh->answer(stream, out_.data(), h.out_len);
}

void TcpServer::answer_https(uint64_t request, const uint8_t* data, size_t len) {
  auto r = https_requests_.find(request);
  if (r == https_requests_.end()) return;
  const uint64_t connection = r->second.first;
  const uint32_t stream = r->second.second;
  https_requests_.erase(r);
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  c.requests.erase(std::find(c.requests.begin(), c.requests.end(), request));
  --c.pending;
  c.doh->answer(stream, data, len);
  if (c.taking_frames) return;
  flush_https(c);
  if (!c.closing) update_reading(c);
}

void TcpServer::flush_https(Connection& c) {
  std::vector<uint8_t> bytes;
  c.doh->output(bytes);
  if (!bytes.empty()) write(c, std::move(bytes));
  if (c.doh->done()) close_after_writes(c);
}

void TcpServer::close_after_writes(Connection& c) {
  if (c.closing || c.shutting_down) return;
  c.shutting_down = true;
  uv_read_stop(as_stream(&c.handle));
  c.reading = false;
  if (c.ssl && SSL_shutdown(c.ssl.get()) >= 0) flush_tls(c);
  c.shutdown.data = &c;
  // uv_shutdown waits for the writes queued before it; closing the handle
  // now would cancel them.
  if (uv_shutdown(&c.shutdown, as_stream(&c.handle), [](uv_shutdown_t* req, int) {
        auto* conn = static_cast<Connection*>(req->data);
        conn->server->close(*conn);
      }) != 0)
    close(c);
}

void TcpServer::close(Connection& c) {
  if (c.closing) return;
  c.closing = true;
  clients_.release(c.peer);
  for (uint64_t request : c.requests) https_requests_.erase(request);
  auto it = connections_.find(c.id);
  // From here libuv's close callbacks own it: the last one frees it.
  it->second.release();
  connections_.erase(it);
  auto closed = [](uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    if (--c->open_handles == 0) reclaim<Connection>(c);
  };
  uv_close(as_handle(&c.handle), closed);
  uv_close(as_handle(&c.idle), closed);
}

void TcpServer::stop_listening() {
  for (auto& l : listeners_)
    if (!uv_is_closing(as_handle(&l->handle))) uv_close(as_handle(&l->handle), nullptr);
}

void TcpServer::close_all() {
  std::vector<Connection*> open;
  for (auto& [id, c] : connections_) open.push_back(c.get());
  for (Connection* c : open) close(*c);
}

}  // namespace hush::net

#include "net/tls_upstreams.hpp"

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

#include "base/address.hpp"
#include "base/log.hpp"
#include "dns/wire.hpp"
#include "net/uv_owned.hpp"
#include "tls/errors.hpp"

namespace hush::net {

struct TlsUpstreams::Server {
  const upstream::Server* config;
  uint8_t route, index;
  sockaddr_storage addr;     // config->addr, or what the bootstrap servers said config->host is
  uint64_t addr_expires_ms;  // when to look config->host up again; 0: never
  bool looking_up = false;
  std::vector<Conn*> conns;
  SSL_SESSION* session = nullptr;  // the last one the server gave, to resume
  uint32_t failures = 0;           // connects or handshakes failed in a row
  uint64_t retry_after_ms = 0;
  std::string last_error;
  bool refused = false;  // last_error is a refused certificate
  ~Server() { SSL_SESSION_free(session); }
};

struct TlsUpstreams::Conn {
  enum class State : uint8_t { LookingUp, Connecting, Handshaking, Ready, Closed };
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_timer_t idle;
  TlsUpstreams* owner;
  Server* server;
  SSL* ssl = nullptr;
  BIO* in = nullptr;   // records read from the socket, for OpenSSL
  BIO* out = nullptr;  // records OpenSSL wrote, for the socket
  State state = State::Connecting;
  bool dirty = false;
  int handles = 2;  // tcp and idle: freed once both are closed
  upstream::IdTable waiting;
  std::vector<uint8_t> early;   // queries sent before the handshake finished
  std::vector<uint8_t> frames;  // answer bytes not yet a whole message
  ~Conn() { SSL_free(ssl); }   // frees the BIOs too
};

namespace {

struct Write {
  uv_write_t req;
  std::unique_ptr<char[]> data;
};

std::string openssl_error() { return tls::error_text("connection closed during the handshake"); }

// What the certificate must carry: the name after '#' (or the server's
// name), else the address itself.
bool expect_identity(SSL* ssl, const upstream::Server& s) {
  if (!s.tls_name.empty())
    return SSL_set_tlsext_host_name(ssl, s.tls_name.c_str()) == 1 && SSL_set1_host(ssl, s.tls_name.c_str()) == 1;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (s.addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(s.addr);
    return X509_VERIFY_PARAM_set1_ip(param, reinterpret_cast<const unsigned char*>(&a.sin_addr), 4) == 1;
  }
  const auto& a = reinterpret_cast<const sockaddr_in6&>(s.addr);
  return X509_VERIFY_PARAM_set1_ip(param, reinterpret_cast<const unsigned char*>(&a.sin6_addr), 16) == 1;
}

}  // namespace

TlsUpstreams::TlsUpstreams(uv_loop_t* loop, UpstreamIo& io, UpstreamIo::Events& events, upstream::Random& random,
                           const std::vector<std::vector<upstream::Server>>& routes, const TlsSettings& settings)
    : loop_(loop), io_(io), events_(events), random_(random),
      bootstrap_(loop, settings.bootstrap, settings.bootstrap_timeout_ms, random),
      idle_ms_(settings.idle_timeout_ms) {
  for (size_t r = 0; r < routes.size(); ++r) {
    servers_.emplace_back(routes[r].size(), nullptr);
    for (size_t i = 0; i < routes[r].size(); ++i)
      if (routes[r][i].transport == upstream::Transport::Tls)
        servers_[r][i] = new Server{&routes[r][i], uint8_t(r), uint8_t(i), routes[r][i].addr, 0};
  }
  const std::string& ca_file = settings.ca_file;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    ctx_error_ = "TLS: " + openssl_error();
    return;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  bool loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx) == 1
                                : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) == 1;
  if (!loaded) {
    ctx_error_ = "TLS: cannot load the CA certificates" + (ca_file.empty() ? "" : " of " + ca_file) + ": " +
                 openssl_error();
    log::error(ctx_error_);
    SSL_CTX_free(ctx);
    return;
  }
  // Sessions are kept per server (on_new_session), not in OpenSSL's cache.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  ctx_ = ctx;
}

TlsUpstreams::~TlsUpstreams() {
  for (auto& route : servers_)
    for (Server* s : route) delete s;
  SSL_CTX_free(ctx_);
}

int TlsUpstreams::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* c = static_cast<Conn*>(SSL_get_app_data(ssl));
  if (!c || c->state == Conn::State::Closed) return 0;
  SSL_SESSION_free(c->server->session);
  c->server->session = session;
  return 1;  // the reference is ours now
}

const char* TlsUpstreams::send(upstream::Pending& p, uint8_t* frame, size_t len) {
  Server* s = servers_[p.route][p.server()];
  if (!s) return "not a tls:// upstream";
  if (!ctx_) return ctx_error_.c_str();
  const char* why = nullptr;
  Conn* c = pick(*s, &why);
  if (!c) {
    // Backing off after a refused certificate: the question's extended
    // error says so if no other upstream answers.
    if (s->refused && why == s->last_error.c_str()) p.refused = s->config->text + ": " + s->last_error;
    return why;
  }
  p.id = c->waiting.add(&p, random_);
  p.io = c;
  dns::put16(frame + 2, p.id);
  if (c->state != Conn::State::Ready) {
    c->early.insert(c->early.end(), frame, frame + len);
    return nullptr;
  }
  ERR_clear_error();
  // Memory BIOs take every write whole.
  if (SSL_write(c->ssl, frame, int(len)) <= 0) {
    c->waiting.remove(p.id);
    p.io = nullptr;
    failed(*c, "TLS write failed: " + openssl_error(), false);
    return "TLS write failed";
  }
  uv_timer_stop(&c->idle);
  mark_dirty(*c);
  return nullptr;
}

TlsUpstreams::Conn* TlsUpstreams::pick(Server& s, const char** why) {
  Conn* best = nullptr;
  for (Conn* c : s.conns)
    if (c->waiting.size() < kPipelined && (!best || c->waiting.size() < best->waiting.size())) best = c;
  // A connection with queries waiting still beats the round trips of a new
  // one, until it is half full.
  bool may_open = s.conns.size() < kConnections && uv_now(loop_) >= s.retry_after_ms;
  if (best && (!may_open || best->waiting.size() < kPipelined / 2)) return best;
  if (!may_open) {
    *why = s.conns.size() < kConnections ? s.last_error.c_str() : "every TLS connection to the server is full";
    return nullptr;
  }
  Conn* fresh = open(s, why);
  return fresh ? fresh : best;
}

TlsUpstreams::Conn* TlsUpstreams::open(Server& s, const char** why) {
  auto* c = new Conn;  // freed by the close callback of its last handle
  c->owner = this;
  c->server = &s;
  uv_tcp_init(loop_, &c->tcp);
  uv_timer_init(loop_, &c->idle);
  c->tcp.data = c->idle.data = c->connect.data = c;
  c->ssl = SSL_new(ctx_);
  c->in = BIO_new(BIO_s_mem());
  c->out = BIO_new(BIO_s_mem());
  SSL_set_bio(c->ssl, c->in, c->out);
  SSL_set_connect_state(c->ssl);
  SSL_set_app_data(c->ssl, c);
  if (s.session) SSL_set_session(c->ssl, s.session);
  s.conns.push_back(c);
  uv_timer_start(&c->idle, on_timer, kHandshakeMs, 0);
  if (!expect_identity(c->ssl, *s.config)) {
    failed(*c, "TLS: cannot set the name to verify", false);
    *why = s.last_error.c_str();
    return nullptr;
  }
  bool stale = !s.config->host.empty() && (s.addr.ss_family == AF_UNSPEC || uv_now(loop_) >= s.addr_expires_ms);
  if (!stale) return connect(*c, why) ? c : nullptr;
  c->state = Conn::State::LookingUp;
  if (!s.looking_up) look_up(s);
  return c;
}

void TlsUpstreams::look_up(Server& s) {
  s.looking_up = true;
  bootstrap_.lookup(s.config->host, s.config->port, [this, &s](const Bootstrap::Result& r) {
    s.looking_up = false;
    if (r.error.empty()) {
      s.addr = r.addr;
      s.addr_expires_ms = uv_now(loop_) + uint64_t(r.ttl_s) * 1000;
      log::debug("upstream ", s.config->text, ": ", s.config->host, " is ", format_address(r.addr), " for ",
                 r.ttl_s, " s (bootstrap)");
    }
    for (Conn* c : std::vector<Conn*>(s.conns)) {
      if (c->state != Conn::State::LookingUp) continue;
      const char* why = nullptr;
      if (!r.error.empty())
        failed(*c, "cannot look up " + s.config->host + ": " + r.error, false);
      else
        connect(*c, &why);
    }
  });
}

bool TlsUpstreams::connect(Conn& c, const char** why) {
  Server& s = *c.server;
  c.state = Conn::State::Connecting;
  int r = uv_tcp_connect(&c.connect, &c.tcp, reinterpret_cast<const sockaddr*>(&s.addr),
                         [](uv_connect_t* req, int status) {
                           auto* c = static_cast<Conn*>(req->data);
                           c->owner->on_connected(*c, status);
                         });
  if (r == 0) return true;
  failed(c, std::string("TCP connect: ") + uv_strerror(r), false);
  *why = s.last_error.c_str();
  return false;
}

void TlsUpstreams::on_connected(Conn& c, int status) {
  if (c.state == Conn::State::Closed) return;
  if (status < 0) return failed(c, std::string("TCP connect: ") + uv_strerror(status), false);
  c.state = Conn::State::Handshaking;
  uv_read_start(
      as_stream(&c.tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = static_cast<Conn*>(h->data);
        *buf = uv_buf_init(c->owner->read_buffer_.get(), kReadSize);
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Conn*>(stream->data);
        if (nread != 0) c->owner->on_read(*c, nread, buf->base);
      });
  handshake(c);
}

bool TlsUpstreams::handshake(Conn& c) {
  ERR_clear_error();
  int r = SSL_do_handshake(c.ssl);
  drain(c);
  if (r != 1) {
    int e = SSL_get_error(c.ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return true;
    long verify = SSL_get_verify_result(c.ssl);
    if (verify != X509_V_OK) {
      const std::string& name = c.server->config->tls_name;
      failed(c, std::string("TLS certificate refused: ") + X509_verify_cert_error_string(verify) + " (it must carry " +
                    (name.empty() ? "the server's address" : "the name " + name) + ")",
             true);
    } else {
      failed(c, "TLS handshake failed: " + openssl_error(), false);
    }
    return false;
  }
  c.state = Conn::State::Ready;
  uv_timer_stop(&c.idle);
  c.server->failures = 0;
  c.server->retry_after_ms = 0;
  log::debug("upstream ", c.server->config->text, ": TLS ready (", SSL_get_version(c.ssl),
             SSL_session_reused(c.ssl) ? ", session resumed)" : ")");
  if (!c.early.empty()) {
    if (SSL_write(c.ssl, c.early.data(), int(c.early.size())) <= 0) {
      failed(c, "TLS write failed: " + openssl_error(), false);
      return false;
    }
    c.early.clear();
    c.early.shrink_to_fit();
    drain(c);
  }
  arm_idle(c);
  return true;
}

void TlsUpstreams::on_read(Conn& c, ssize_t nread, const char* data) {
  if (c.state == Conn::State::Closed) return;
  if (nread < 0)
    return failed(c, nread == UV_EOF ? "the server closed the connection" : uv_strerror(int(nread)), false);
  BIO_write(c.in, data, int(nread));
  if (c.state == Conn::State::Handshaking && !handshake(c)) return;
  if (c.state == Conn::State::Ready) read_answers(c);
}

void TlsUpstreams::read_answers(Conn& c) {
  char buf[16384];
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(c.ssl, buf, sizeof buf);
    if (n > 0) {
      c.frames.insert(c.frames.end(), buf, buf + n);
      continue;
    }
    int e = SSL_get_error(c.ssl, n);
    if (e == SSL_ERROR_WANT_READ) break;
    return failed(c, e == SSL_ERROR_ZERO_RETURN ? "the server closed the TLS session" : "TLS read: " + openssl_error(),
                  false);
  }
  drain(c);  // reading may have written (a key update's reply)
  deliver(c);
}

void TlsUpstreams::deliver(Conn& c) {
  size_t off = 0;
  while (c.state != Conn::State::Closed && c.frames.size() - off >= 2) {
    size_t len = dns::get16(c.frames.data() + off);
    if (c.frames.size() - off - 2 < len) break;
    const uint8_t* msg = c.frames.data() + off + 2;
    off += 2 + len;
    upstream::Pending* p = len >= 2 ? c.waiting.find(dns::get16(msg)) : nullptr;
    if (p)
      events_.on_upstream_reply(*p, msg, len);
    else
      events_.on_upstream_stray(c.server->route, c.server->index, msg, len);
  }
  if (c.state == Conn::State::Closed) return;
  c.frames.erase(c.frames.begin(), c.frames.begin() + ptrdiff_t(off));
  arm_idle(c);
}

void TlsUpstreams::arm_idle(Conn& c) {
  if (c.waiting.empty() && c.state == Conn::State::Ready) uv_timer_start(&c.idle, on_timer, idle_ms_, 0);
}

void TlsUpstreams::on_timer(uv_timer_t* t) {
  auto* c = static_cast<Conn*>(t->data);
  if (c->state != Conn::State::Ready)
    c->owner->failed(*c, "no TLS session within " + std::to_string(kHandshakeMs) + " ms", false);
  else if (c->waiting.empty())
    c->owner->close_conn(*c);
}

void TlsUpstreams::cancel(upstream::Pending& p) {
  auto* c = static_cast<Conn*>(p.io);
  c->waiting.remove(p.id);
  p.io = nullptr;
  arm_idle(*c);
}

void TlsUpstreams::mark_dirty(Conn& c) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(&c);
}

void TlsUpstreams::flush() {
  for (Conn* c : dirty_) {
    c->dirty = false;
    drain(*c);
  }
  dirty_.clear();
}

void TlsUpstreams::drain(Conn& c) {
  size_t n = BIO_ctrl_pending(c.out);
  if (n == 0 || c.state == Conn::State::Closed) return;
  auto w = std::make_unique<Write>();
  w->data.reset(new char[n]);
  BIO_read(c.out, w->data.get(), int(n));
  uv_buf_t buf = uv_buf_init(w->data.get(), unsigned(n));
  w->req.data = w.get();
  // A write that fails shows as a read error or EOF on the same socket.
  if (uv_write(&w->req, as_stream(&c.tcp), &buf, 1, [](uv_write_t* req, int) { reclaim<Write>(req->data); }) == 0)
    w.release();
}

void TlsUpstreams::failed(Conn& c, const std::string& why, bool refused) {
  if (c.state == Conn::State::Closed) return;
  Server& s = *c.server;
  bool was_ready = c.state == Conn::State::Ready;
  close_conn(c);
  s.last_error = why;
  s.refused = refused;
  if (!was_ready) {
    s.failures = std::min<uint32_t>(s.failures + 1, 8);
    s.retry_after_ms = uv_now(loop_) + (500ull << (s.failures - 1));
    // Backing off bounds this to a line per worker every back-off period.
    if (refused || s.failures == 1)
      log::warn("upstream ", s.config->text, ": ", why,
                refused ? "; this upstream is failed until its certificate is right" : "");
  }
  std::string text = why;
  for (auto [id, p] : c.waiting.entries()) {
    if (c.waiting.find(id) != p) continue;  // ended by an earlier one's consequences
    io_.cancel(*p);
    if (refused) p->refused = s.config->text + ": " + why;
    events_.on_upstream_failure(*p, false, text.c_str());
  }
}

void TlsUpstreams::close_conn(Conn& c) {
  if (c.state == Conn::State::Closed && uv_is_closing(as_handle(&c.tcp))) return;
  if (c.state == Conn::State::Ready) {
    // close_notify, sent if the socket takes it now. Without it OpenSSL
    // takes the session for a broken one and will not resume it.
    ERR_clear_error();
    SSL_shutdown(c.ssl);
    if (size_t n = BIO_ctrl_pending(c.out)) {
      std::vector<char> bytes(n);
      BIO_read(c.out, bytes.data(), int(n));
      uv_buf_t buf = uv_buf_init(bytes.data(), unsigned(n));
      uv_try_write(as_stream(&c.tcp), &buf, 1);
    }
  }
  c.state = Conn::State::Closed;
  auto& conns = c.server->conns;
  conns.erase(std::remove(conns.begin(), conns.end(), &c), conns.end());
  dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), &c), dirty_.end());
  auto done = [](uv_handle_t* h) {
    auto* c = static_cast<Conn*>(h->data);
    if (--c->handles == 0) delete c;
  };
  uv_close(as_handle(&c.tcp), done);
  uv_close(as_handle(&c.idle), done);
}

void TlsUpstreams::close() {
  bootstrap_.close();
  for (auto& route : servers_)
    for (Server* s : route)
      if (s)
        for (Conn* c : std::vector<Conn*>(s->conns)) close_conn(*c);
}

}  // namespace hush::net

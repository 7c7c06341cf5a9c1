#include "net/upstream_io.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "dns/answer.hpp"
#include "dns/wire.hpp"
#include "net/https_upstreams.hpp"
#include "net/tls_upstreams.hpp"
#include "net/uv_owned.hpp"

namespace hush::net {

namespace {
constexpr size_t kReadChunks = 20;
constexpr size_t kReadChunkSize = 64 * 1024;
// The 2-byte TCP length, a header, the longest name, type, class and OPT
// with a Client Subnet and, over TLS, padding.
constexpr size_t kQueryMax =
    2 + dns::kHeaderSize + dns::kMaxNameWire + 4 + 11 + dns::kMaxSubnetOption + dns::kMaxPadding;
// A socket's batch is sent at once when it holds this many queries.
constexpr size_t kBatchMax = 64;

size_t write_query(const upstream::Pending& p, uint8_t* out, size_t cap, size_t pad_block = 0) {
  const dns::Query& q = p.waiters.front().query;
  // The pipeline left a Client Subnet in the query only if it is to be
  // forwarded, already cut to the configured prefix. A question hush
  // validates asks for the signatures (DO), and for the data even when a
  // validating upstream finds it bogus (CD), so hush judges.
  return dns::write_upstream_query(p.id, q.qname_wire, q.qname_wire_len, q.qtype, q.qclass, q.do_bit || p.validate,
                                   q.cd() || p.validate, out, cap, &q.ecs, pad_block);
}
}  // namespace

struct UpstreamIo::Socket : upstream::PooledSocket {
  uv_udp_t handle;
  UpstreamIo* io;
  uint8_t route;
  uint8_t server;
  bool closing = false;
  bool batched = false;  // in UpstreamIo::batched_
  struct Query {
    uint16_t id;
    uint16_t len;
    uint8_t data[kQueryMax];
  };
  std::vector<Query> batch;  // to send at the next flush
};

struct UpstreamIo::TcpAttempt {
  uv_tcp_t handle;
  uv_connect_t connect;
  uv_write_t write;
  UpstreamIo* io;
  upstream::Pending* pending;  // nullptr once the attempt is over
  uint8_t query[kQueryMax];    // 2-byte length prefix, then the message
  size_t query_len = 0;
  std::vector<uint8_t> in;
};

namespace {
// A query copied aside when the socket's send buffer is full, until libuv
// has sent it.
struct QueuedSend {
  uv_udp_send_t req;
  uint8_t data[kQueryMax];
};
}  // namespace

UpstreamIo::UpstreamIo(uv_loop_t* loop, Events& events, std::vector<std::vector<upstream::Server>> routes,
                       uint32_t timeout_ms, const upstream::PoolLimits& limits, const TlsSettings& tls_settings)
    : loop_(loop),
      events_(events),
      routes_(std::move(routes)),
      timeout_ms_(std::max<uint32_t>(timeout_ms, 1)),
      read_buffer_(new char[kReadChunks * kReadChunkSize]) {
  bool tls = false, https = false;
  for (const auto& servers : routes_) {
    pools_.emplace_back(servers.size(), upstream::Pool(limits));
    for (const upstream::Server& s : servers) {
      tls = tls || s.transport == upstream::Transport::Tls;
      https = https || s.transport == upstream::Transport::Https;
    }
  }
  if (tls) tls_ = std::make_unique<TlsUpstreams>(loop_, *this, events_, random_, routes_, tls_settings);
  if (https) https_ = std::make_unique<HttpsUpstreams>(loop_, *this, events_, random_, routes_, tls_settings);
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

UpstreamIo::~UpstreamIo() = default;

const char* UpstreamIo::send(upstream::Pending& p, upstream::Transport transport) {
  cancel(p);
  p.transport = transport;
  if (const char* why = start(p)) return why;
  deadlines_.add(p, uv_now(loop_) + timeout_ms_);
  arm_timer();
  return nullptr;
}

const char* UpstreamIo::start(upstream::Pending& p) {
  switch (p.transport) {
    case upstream::Transport::Udp: return send_udp(p);
    case upstream::Transport::Tcp: return send_tcp(p);
    case upstream::Transport::Tls: return send_tls(p);
    case upstream::Transport::Https: return send_https(p);
  }
  return "unknown upstream transport";
}

void UpstreamIo::cancel(upstream::Pending& p) {
  deadlines_.remove(p);
  if (!p.io) return;
  if (p.transport == upstream::Transport::Tls) {
    tls_->cancel(p);
  } else if (p.transport == upstream::Transport::Https) {
    https_->cancel(p);
  } else if (p.transport == upstream::Transport::Tcp) {
    auto* a = static_cast<TcpAttempt*>(p.io);
    a->pending = nullptr;
    uv_close(as_handle(&a->handle), [](uv_handle_t* h) { reclaim<TcpAttempt>(h->data); });
  } else {
    auto* s = static_cast<Socket*>(p.io);
    s->waiting.remove(p.id);
    if (s->waiting.empty() && !s->retired) pools_[s->route][s->server].retire_if_worn_out(*s, uv_now(loop_));
    if (s->finished()) close_socket(*s);
  }
  p.io = nullptr;
}

void UpstreamIo::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& pools : pools_)
    for (upstream::Pool& pool : pools) pool.take_all();
  for (Socket* s : std::vector<Socket*>(sockets_)) close_socket(*s);
  if (tls_) tls_->close();
  if (https_) https_->close();
  uv_close(as_handle(&timer_), nullptr);
}

// ---- UDP ----

const char* UpstreamIo::send_udp(upstream::Pending& p) {
  uint64_t now = uv_now(loop_);
  upstream::Pool& pool = pools_[p.route][p.server()];
  upstream::Pool::Choice choice = pool.choose(random_, now);
  auto* s = static_cast<Socket*>(choice.socket);
  if (!s) {
    const char* why = nullptr;
    s = open_socket(p.route, p.server(), &why);
    if (!s) return why;
    auto* old = static_cast<Socket*>(pool.replace(choice.slot, s, now));
    if (old && old->finished()) close_socket(*old);
  }
  p.id = s->carry(&p, random_);
  p.io = s;
  if (!s->batched) {
    s->batched = true;
    batched_.push_back(s);
  }
  Socket::Query& q = s->batch.emplace_back();
  q.id = p.id;
  q.len = uint16_t(write_query(p, q.data, sizeof q.data));
  if (s->batch.size() == kBatchMax) send_batch(*s);
  return nullptr;
}

void UpstreamIo::flush() {
  if (tls_) tls_->flush();
  for (auto& pools : pools_)
    for (upstream::Pool& pool : pools) pool.next_round();
  // A failed send starts the next attempt, which may batch again: work
  // through a list of its own.
  flushing_.swap(batched_);
  for (Socket* s : flushing_) {
    s->batched = false;
    send_batch(*s);
  }
  flushing_.clear();
}

void UpstreamIo::send_batch(Socket& s) {
  size_t n = s.batch.size();
  if (n == 0 || s.closing) return;
  mmsghdr msgs[kBatchMax];
  iovec iov[kBatchMax];
  for (size_t i = 0; i < n; ++i) {
    iov[i] = {s.batch[i].data, s.batch[i].len};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  uv_os_fd_t fd;
  uv_fileno(reinterpret_cast<uv_handle_t*>(&s.handle), &fd);
  size_t sent = 0;
  std::vector<uint16_t> failed;
  int error = 0;
  bool unreachable = false;
  while (sent < n) {
    int r = ::sendmmsg(fd, msgs + sent, unsigned(n - sent), MSG_DONTWAIT);
    if (r > 0) {
      sent += size_t(r);
      continue;
    }
    if (errno == EINTR) continue;
    error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS) break;
    // An ICMP error for an earlier datagram on a connected socket is
    // reported by the next send as well as by the next read.
    if (error == ECONNREFUSED || error == EHOSTUNREACH || error == ENETUNREACH) {
      unreachable = true;
      break;
    }
    failed.push_back(s.batch[sent++].id);
  }
  if (!unreachable)
    for (size_t i = sent; i < n; ++i) {
      // The send buffer is full: libuv sends copies when there is room.
      auto q = std::make_unique<QueuedSend>();
      std::copy(s.batch[i].data, s.batch[i].data + s.batch[i].len, q->data);
      uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(q->data), s.batch[i].len);
      q->req.data = q.get();
      if (uv_udp_send(&q->req, &s.handle, &buf, 1, nullptr,
                      [](uv_udp_send_t* req, int) { reclaim<QueuedSend>(req->data); }) != 0)
        failed.push_back(s.batch[i].id);
      else
        q.release();  // the send callback frees it
    }
  s.batch.clear();
  if (!unreachable && failed.empty()) return;
  const char* why = uv_strerror(uv_translate_sys_error(error));
  if (unreachable) return socket_failed(s, why);
  for (uint16_t id : failed) {
    upstream::Pending* p = s.waiting.find(id);
    if (!p) continue;
    cancel(*p);
    events_.on_upstream_failure(*p, false, why);
  }
}

UpstreamIo::Socket* UpstreamIo::open_socket(uint8_t route, uint8_t server, const char** why) {
  const sockaddr_storage& addr = routes_[route][server].addr;
  auto owned = std::make_unique<Socket>();
  owned->io = this;
  owned->route = route;
  owned->server = server;
  int r = uv_udp_init_ex(loop_, &owned->handle, addr.ss_family | UV_UDP_RECVMMSG);
  if (r != 0) {
    *why = uv_strerror(r);
    return nullptr;
  }
  Socket* s = owned.release();  // from here the handle's close callback frees it
  s->handle.data = s;
  sockets_.push_back(s);
  // connect() takes a random free source port from the kernel and makes it
  // drop datagrams from any address or port but the server's.
  r = uv_udp_connect(&s->handle, reinterpret_cast<const sockaddr*>(&addr));
  if (r == 0)
    r = uv_udp_recv_start(
        &s->handle,
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* s = static_cast<Socket*>(h->data);
          *buf = uv_buf_init(s->io->read_buffer_.get(), kReadChunks * kReadChunkSize);
        },
        [](uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr*, unsigned) {
          auto* s = static_cast<Socket*>(h->data);
          if (s->closing) return;
          if (nread > 0)
            s->io->on_datagram(*s, reinterpret_cast<const uint8_t*>(buf->base), size_t(nread));
          // On a connected socket an ICMP "port unreachable" arrives as an
          // error here: the server is down, no need to wait for the timeouts.
          else if (nread < 0)
            s->io->socket_failed(*s, uv_strerror(int(nread)));
        });
  if (r != 0) {
    *why = uv_strerror(r);
    close_socket(*s);
    return nullptr;
  }
  return s;
}

void UpstreamIo::close_socket(Socket& s) {
  if (s.closing) return;
  s.closing = true;
  sockets_.erase(std::find(sockets_.begin(), sockets_.end(), &s));
  if (s.batched) {
    // (Not found when it is being flushed: flush() holds it until it is done.)
    if (auto it = std::find(batched_.begin(), batched_.end(), &s); it != batched_.end()) batched_.erase(it);
  }
  uv_udp_recv_stop(&s.handle);
  uv_close(as_handle(&s.handle), [](uv_handle_t* h) { reclaim<Socket>(h->data); });
}

void UpstreamIo::on_datagram(Socket& s, const uint8_t* data, size_t len) {
  upstream::Pending* p = len >= 2 ? s.waiting.find(dns::get16(data)) : nullptr;
  if (p)
    events_.on_upstream_reply(*p, data, len);
  else
    events_.on_upstream_stray(s.route, s.server, data, len);
}

void UpstreamIo::socket_failed(Socket& s, const char* why) {
  for (auto [id, p] : s.waiting.entries()) {
    // An earlier failure's consequences may have ended this attempt already.
    if (s.waiting.find(id) != p) continue;
    cancel(*p);
    events_.on_upstream_failure(*p, false, why);
  }
}

// ---- TCP ----

const char* UpstreamIo::send_tcp(upstream::Pending& p) {
  auto owned = std::make_unique<TcpAttempt>();
  owned->io = this;
  owned->pending = &p;
  p.id = random_.next16();
  size_t n = write_query(p, owned->query + 2, sizeof owned->query - 2);
  dns::put16(owned->query, uint16_t(n));
  owned->query_len = 2 + n;
  uv_tcp_init(loop_, &owned->handle);
  TcpAttempt* a = owned.release();  // from here the handle's close callback (cancel()) frees it
  a->handle.data = a;
  a->connect.data = a;
  p.io = a;
  const auto* server = reinterpret_cast<const sockaddr*>(&routes_[p.route][p.server()].addr);
  int r = uv_tcp_connect(&a->connect, &a->handle, server, [](uv_connect_t* req, int status) {
    auto* a = static_cast<TcpAttempt*>(req->data);
    a->io->on_tcp_connected(*a, status);
  });
  if (r == 0) return nullptr;
  cancel(p);
  return uv_strerror(r);
}

void UpstreamIo::on_tcp_connected(TcpAttempt& a, int status) {
  if (!a.pending) return;
  if (status < 0) return tcp_failed(a, "TCP connect failed");
  auto* stream = reinterpret_cast<uv_stream_t*>(&a.handle);
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(a.query), unsigned(a.query_len));
  uv_write(&a.write, stream, &buf, 1, nullptr);
  uv_read_start(
      stream,
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* a = static_cast<TcpAttempt*>(h->data);
        *buf = uv_buf_init(a->io->read_buffer_.get(), kReadChunkSize);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* a = static_cast<TcpAttempt*>(s->data);
        a->io->on_tcp_data(*a, nread, buf->base);
      });
}

void UpstreamIo::on_tcp_data(TcpAttempt& a, ssize_t nread, const char* data) {
  if (!a.pending) return;
  if (nread < 0) return tcp_failed(a, "TCP closed mid-answer");
  a.in.insert(a.in.end(), data, data + nread);
  if (a.in.size() < 2) return;
  size_t frame = dns::get16(a.in.data());
  if (a.in.size() - 2 < frame) return;
  events_.on_upstream_reply(*a.pending, a.in.data() + 2, frame);
}

void UpstreamIo::tcp_failed(TcpAttempt& a, const char* why) {
  upstream::Pending& p = *a.pending;
  cancel(p);
  events_.on_upstream_failure(p, false, why);
}

// ---- TLS ----

const char* UpstreamIo::send_tls(upstream::Pending& p) {
  if (!tls_) return "not a tls:// upstream";
  uint8_t frame[kQueryMax];
  size_t n = write_query(p, frame + 2, sizeof frame - 2, TlsUpstreams::kPadBlock);
  dns::put16(frame, uint16_t(n));
  return tls_->send(p, frame, 2 + n);
}

const char* UpstreamIo::send_https(upstream::Pending& p) {
  if (!https_) return "not an https:// upstream";
  uint8_t msg[kQueryMax];
  size_t n = write_query(p, msg, sizeof msg, TlsUpstreams::kPadBlock);
  return https_->send(p, msg, n);
}

// ---- timeouts ----

void UpstreamIo::arm_timer() {
  std::optional<uint64_t> next = deadlines_.next();
  // A timer set for an earlier deadline fires, finds nothing due (that
  // attempt was answered) and is set again: cheaper than restarting it on
  // every answer.
  if (!next || (timer_due_ && *timer_due_ <= *next)) return;
  uint64_t now = uv_now(loop_);
  uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<UpstreamIo*>(t->data)->on_timer(); },
                 *next > now ? *next - now : 0, 0);
  timer_due_ = next;
}

void UpstreamIo::on_timer() {
  timer_due_.reset();
  uint64_t now = uv_now(loop_);
  while (upstream::Pending* p = deadlines_.due(now)) {
    cancel(*p);
    events_.on_upstream_failure(*p, true, "timed out");
  }
  arm_timer();
}

}  // namespace hush::net

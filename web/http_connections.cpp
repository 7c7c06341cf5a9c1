#include "web/http_connections.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/log.hpp"

namespace hush::web {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool iequal_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// How far one request in `buf` has arrived. Only what is needed to know where
// it ends is read here; httplib parses it properly on the handler thread.
struct Framing {
  enum Kind { Incomplete, Complete, HeadTooLarge, BodyTooLarge, Bad, Unsupported } kind = Incomplete;
  size_t total = 0;              // head and body, when the head is complete
  bool expect_continue = false;
};

Framing frame(std::string_view buf, const HttpLimits& l) {
  Framing f;
  // Blank lines before a request line are allowed (RFC 9112 2.2).
  size_t start = 0;
  while (start < buf.size() && (buf[start] == '\r' || buf[start] == '\n')) ++start;
  size_t end = buf.find("\r\n\r\n", start);
  std::string_view head = buf.substr(start, end == std::string_view::npos ? std::string_view::npos : end + 2 - start);
  size_t lines = size_t(std::count(head.begin(), head.end(), '\n'));
  if (end == std::string_view::npos) {
    if (buf.size() > l.max_head_bytes || lines > l.max_headers + 1) f.kind = Framing::HeadTooLarge;
    return f;
  }
  if (end + 4 > l.max_head_bytes || lines > l.max_headers + 1) {
    f.kind = Framing::HeadTooLarge;
    return f;
  }
  size_t length = 0;
  bool have_length = false;
  size_t pos = head.find('\n') + 1;  // past the request line
  while (pos < head.size()) {
    size_t eol = head.find('\n', pos);
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 1;
    if (iequal_prefix(line, "content-length:")) {
      std::string_view v = trim(line.substr(15));
      if (v.empty() || v.size() > 10 || !std::all_of(v.begin(), v.end(), ::isdigit)) return {Framing::Bad};
      size_t n = std::stoul(std::string(v));
      if (have_length && n != length) return {Framing::Bad};
      length = n;
      have_length = true;
    } else if (iequal_prefix(line, "transfer-encoding:")) {
      return {Framing::Unsupported};
    } else if (iequal_prefix(line, "expect:")) {
      f.expect_continue = iequal_prefix(trim(line.substr(7)), "100-continue");
    }
  }
  if (length > l.max_body_bytes) return {Framing::BodyTooLarge};
  f.total = end + 4 + length;
  f.kind = buf.size() >= f.total ? Framing::Complete : Framing::Incomplete;
  return f;
}

struct Conn {
  ~Conn() {
    if (ssl) SSL_free(ssl);
  }
  SSL* ssl = nullptr;  // HTTPS
  int fd = -1;
  std::string peer;
  int port = 0;
  std::string buf;
  int64_t request_started = 0;  // first byte of the request being read; 0: none yet
  int64_t idle_since = 0;
  bool busy = false;            // a handler thread has it
  bool continue_sent = false;
};

// Sends what the socket takes at once, through TLS when the connection has it.
void send_now(const Conn& c, std::string_view out) {
  if (c.ssl) {
    int r = SSL_write(c.ssl, out.data(), int(out.size()));
    (void)r;
    return;
  }
  ssize_t r = ::send(c.fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)r;
}

// A short answer that ends the connection, sent as far as the socket takes
// it without waiting: the client was refused, it gets no more of our time.
void refuse(const Conn& c, int status, const char* reason, const char* message) {
  std::string body = std::string("{\"error\":\"") + message + "\"}";
  send_now(c, "HTTP/1.1 " + std::to_string(status) + " " + reason +
                  "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nConnection: close\r\n\r\n" + body);
}

}  // namespace

struct HttpConnections::Impl {
  HttpLimits limits;
  Handle handle;
  Stats& stats;
  httplib::ThreadPool pool;
  int listen_fd = -1;
  int wake[2] = {-1, -1};
  std::thread reader;
  std::atomic<bool> stopping{false};
  bool stopped = false;

  std::unordered_map<int, std::unique_ptr<Conn>> conns;  // the reader thread's only
  size_t buffered = 0;
  tls::ServerContext* tls = nullptr;
  int64_t tls_checked = 0;

  std::mutex returned_mu;
  std::vector<std::pair<int, bool>> returned;  // fd, keep open

  Impl(HttpLimits l, size_t threads, Handle h, Stats& s)
      : limits(l), handle(std::move(h)), stats(s), pool(std::max<size_t>(threads, 1)) {}

  void run();
  void accept_all();
  void read_from(Conn& c, int64_t now);
  // HTTPS: the handshake, then what has been decrypted; false when the
  // connection failed (and is closed).
  bool read_tls(Conn& c, std::string& into);
  void reload_certificate(int64_t now);
  void dispatch_if_complete(Conn& c, int64_t now);
  void take_returned(int64_t now);
  void expire(int64_t now);
  void shed_buffered();
  bool free_a_slot();
  void close_conn(int fd);
  void wake_up() {
    char b = 1;
    ssize_t r = ::write(wake[1], &b, 1);
    (void)r;
  }
};

HttpConnections::HttpConnections(HttpLimits limits, size_t threads, Handle handle)
    : impl_(std::make_unique<Impl>(limits, threads, std::move(handle), stats_)) {}

HttpConnections::~HttpConnections() { stop(); }

void HttpConnections::use_tls(tls::ServerContext* tls) { impl_->tls = tls; }

void HttpConnections::start(int listen_fd) {
  impl_->listen_fd = listen_fd;
  fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
  if (::pipe2(impl_->wake, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("http: no pipe");
  impl_->reader = std::thread([this] { impl_->run(); });
}

void HttpConnections::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->reader.joinable()) {
    impl_->stopping = true;
    impl_->wake_up();
    impl_->reader.join();
  }
  // Requests being handled finish (their writes are bounded by the write
  // timeout); then their sockets close too.
  impl_->pool.shutdown();
  for (auto& [fd, c] : impl_->conns) ::close(fd);
  impl_->conns.clear();
  for (int fd : impl_->wake)
    if (fd >= 0) ::close(fd);
  if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
  impl_->listen_fd = -1;
}

void HttpConnections::Impl::run() {
  std::vector<pollfd> fds;
  std::vector<Conn*> polled;
  while (!stopping) {
    fds.clear();
    polled.clear();
    fds.push_back({wake[0], POLLIN, 0});
    fds.push_back({listen_fd, POLLIN, 0});
    for (auto& [fd, c] : conns) {
      if (c->busy) continue;
      fds.push_back({fd, POLLIN, 0});
      polled.push_back(c.get());
    }
    // The deadlines are checked at least 10 times a second.
    int n = ::poll(fds.data(), fds.size(), 100);
    int64_t now = now_ms();
    if (n > 0) {
      if (fds[0].revents) {
        char drain[64];
        while (::read(wake[0], drain, sizeof drain) > 0) {
        }
      }
      for (size_t i = 0; i < polled.size(); ++i)
        if (fds[i + 2].revents) read_from(*polled[i], now);
      if (fds[1].revents & POLLIN) accept_all();
    }
    take_returned(now);
    expire(now);
  }
  // Idle and half-read connections close now; busy ones when their handler ends.
  std::vector<int> idle;
  for (auto& [fd, c] : conns)
    if (!c->busy) idle.push_back(fd);
  for (int fd : idle) close_conn(fd);
}

void HttpConnections::Impl::accept_all() {
  while (true) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a connection already gone
    if (conns.size() >= limits.max_connections && !free_a_slot()) {
      ++stats.refused;
      ::close(fd);
      continue;
    }
    ++stats.accepted;
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    char text[INET6_ADDRSTRLEN] = {};
    if (peer.ss_family == AF_INET6) {
      const auto& a = reinterpret_cast<const sockaddr_in6&>(peer);
      inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
      c->port = ntohs(a.sin6_port);
    } else {
      const auto& a = reinterpret_cast<const sockaddr_in&>(peer);
      inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
      c->port = ntohs(a.sin_port);
    }
    c->peer = text;
    c->idle_since = now_ms();
    if (tls) {
      reload_certificate(c->idle_since);
      std::shared_ptr<SSL_CTX> ctx = tls->current();
      c->ssl = ctx ? SSL_new(ctx.get()) : nullptr;
      if (!c->ssl) {
        ++stats.refused;
        ::close(fd);
        continue;
      }
      SSL_set_fd(c->ssl, fd);
      SSL_set_accept_state(c->ssl);
      tls::offer_https(c->ssl, false);
    }
    conns.emplace(fd, std::move(c));
  }
}

// A new client takes the slot of the connection that is slowest to finish
// its request, else the one idle longest. Busy connections are never taken:
// their requests are complete and being answered.
bool HttpConnections::Impl::free_a_slot() {
  Conn* victim = nullptr;
  auto rank = [](const Conn& c) {
    // Unfinished requests first (oldest start), then idle connections (oldest).
    return c.request_started ? std::pair{0, c.request_started} : std::pair{1, c.idle_since};
  };
  for (auto& [fd, c] : conns) {
    if (c->busy) continue;
    if (!victim || rank(*c) < rank(*victim)) victim = c.get();
  }
  if (!victim) return false;
  ++stats.evicted;
  close_conn(victim->fd);
  return true;
}

void HttpConnections::Impl::reload_certificate(int64_t now) {
  if (now - tls_checked < 2000) return;
  tls_checked = now;
  std::string error;
  switch (tls->reload(false, error)) {
    case tls::ServerContext::Reload::Reloaded:
      log::info("dashboard: certificate read again, for ", tls->subject());
      break;
    case tls::ServerContext::Reload::Failed:
      log::error("dashboard: ", error, "; the certificate in use stays");
      break;
    case tls::ServerContext::Reload::Unchanged:
      break;
  }
}

bool HttpConnections::Impl::read_tls(Conn& c, std::string& into) {
  // Records decrypted by one SSL_read may hold more than poll() will say
  // again, so read until OpenSSL wants the socket; at most what one request
  // may be, the rest stays in the socket for the next turn.
  char chunk[16384];
  while (into.size() < limits.max_head_bytes + limits.max_body_bytes) {
    int n = SSL_read(c.ssl, chunk, sizeof chunk);
    if (n > 0) {
      into.append(chunk, size_t(n));
      continue;
    }
    int err = SSL_get_error(c.ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
    close_conn(c.fd);
    return false;
  }
  return true;
}

void HttpConnections::Impl::read_from(Conn& c, int64_t now) {
  std::string got;
  if (c.ssl) {
    if (!read_tls(c, got) || got.empty()) return;
  } else {
    char chunk[16384];
    ssize_t n = ::recv(c.fd, chunk, sizeof chunk, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      close_conn(c.fd);
      return;
    }
    if (n < 0) return;
    got.assign(chunk, size_t(n));
  }
  if (c.buf.empty()) c.request_started = now;
  c.buf.append(got);
  buffered += got.size();
  dispatch_if_complete(c, now);
  if (buffered > limits.max_buffered_bytes) shed_buffered();
}

void HttpConnections::Impl::dispatch_if_complete(Conn& c, int64_t now) {
  if (c.buf.empty()) return;
  Framing f = frame(c.buf, limits);
  switch (f.kind) {
    case Framing::Incomplete:
      if (f.expect_continue && !c.continue_sent) {
        // The client waits for this before it sends the body.
        send_now(c, "HTTP/1.1 100 Continue\r\n\r\n");
        c.continue_sent = true;
      }
      return;
    case Framing::HeadTooLarge:
      refuse(c, 431, "Request Header Fields Too Large", "request head too large or too many headers");
      break;
    case Framing::BodyTooLarge:
      refuse(c, 413, "Payload Too Large", "request body too large");
      break;
    case Framing::Bad:
      refuse(c, 400, "Bad Request", "bad Content-Length");
      break;
    case Framing::Unsupported:
      refuse(c, 501, "Not Implemented", "chunked request bodies are not accepted");
      break;
    case Framing::Complete: {
      auto request = std::make_shared<std::string>(c.buf.substr(0, f.total));
      c.buf.erase(0, f.total);
      buffered -= f.total;
      c.request_started = c.buf.empty() ? 0 : now;
      c.continue_sent = false;
      c.busy = true;
      int fd = c.fd;
      HttpExchange x{fd, {}, c.peer, c.port, limits.write_timeout_ms, c.ssl};
      pool.enqueue([this, x, request]() mutable {
        x.request = *request;
        bool keep = false;
        try {
          keep = handle(x);
        } catch (...) {
          keep = false;
        }
        {
          std::lock_guard lock(returned_mu);
          returned.emplace_back(x.fd, keep);
        }
        wake_up();
      });
      return;
    }
  }
  ++stats.refused;
  close_conn(c.fd);
}

void HttpConnections::Impl::take_returned(int64_t now) {
  std::vector<std::pair<int, bool>> back;
  {
    std::lock_guard lock(returned_mu);
    back.swap(returned);
  }
  for (auto [fd, keep] : back) {
    auto it = conns.find(fd);
    if (it == conns.end()) continue;
    Conn& c = *it->second;
    c.busy = false;
    if (!keep) {
      close_conn(fd);
      continue;
    }
    c.idle_since = now;
    dispatch_if_complete(c, now);  // a pipelined request may be waiting
  }
}

void HttpConnections::Impl::expire(int64_t now) {
  std::vector<int> late;
  for (auto& [fd, c] : conns) {
    if (c->busy) continue;
    bool slow = c->request_started && now - c->request_started > limits.request_timeout_ms;
    bool idle = !c->request_started && now - c->idle_since > limits.idle_timeout_ms;
    if (slow) refuse(*c, 408, "Request Timeout", "request took too long");
    if (slow || idle) late.push_back(fd);
  }
  stats.timed_out += late.size();
  for (int fd : late) close_conn(fd);
}

// Over the budget for buffered bytes: the largest unfinished request goes.
void HttpConnections::Impl::shed_buffered() {
  while (buffered > limits.max_buffered_bytes) {
    Conn* largest = nullptr;
    for (auto& [fd, c] : conns)
      if (!c->busy && (!largest || c->buf.size() > largest->buf.size())) largest = c.get();
    if (!largest || largest->buf.empty()) return;
    ++stats.evicted;
    close_conn(largest->fd);
  }
}

void HttpConnections::Impl::close_conn(int fd) {
  auto it = conns.find(fd);
  if (it == conns.end()) return;
  buffered -= it->second->buf.size();
  ::close(fd);
  conns.erase(it);
}

}  // namespace hush::web

#include "fake_upstream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace hush_it {

namespace {

int bind_udp(uint16_t port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// End of the first question (offset just past QCLASS), or 0 if malformed.
size_t question_end(const Bytes& q) {
  if (q.size() < 12) return 0;
  size_t p = 12;
  for (int i = 0; i < 128 && p < q.size(); ++i) {
    uint8_t len = q[p];
    if (len == 0) return p + 5 <= q.size() ? p + 5 : 0;
    if (len & 0xC0) return 0;
    p += 1 + len;
  }
  return 0;
}

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

void append_answers(Bytes& b, const std::vector<Answer>& answers) {
  for (auto& [type, ttl, rdata] : answers) {
    put16(b, 0xC00C);
    put16(b, type);
    put16(b, 1);
    put16(b, static_cast<uint16_t>(ttl >> 16));
    put16(b, static_cast<uint16_t>(ttl));
    put16(b, static_cast<uint16_t>(rdata.size()));
    b.insert(b.end(), rdata.begin(), rdata.end());
  }
}

}  // namespace

Bytes make_response(const Bytes& query, int rcode, const std::vector<Answer>& answers) {
  size_t qend = question_end(query);
  if (!qend) throw std::runtime_error("make_response: cannot parse query " + hex(query));
  Bytes b;
  put16(b, wire_id(query));
  uint16_t flags = 0x8000 | 0x0080 | (query[2] & 0x01 ? 0x0100 : 0) | (rcode & 0xF);
  put16(b, flags);
  put16(b, 1);
  put16(b, static_cast<uint16_t>(answers.size()));
  put16(b, 0);
  put16(b, 0);
  b.insert(b.end(), query.begin() + 12, query.begin() + static_cast<long>(qend));
  append_answers(b, answers);
  return b;
}

Bytes make_response_for(uint16_t id, const std::string& qname, uint16_t qtype, int rcode,
                        const std::vector<Answer>& answers) {
  Bytes q;
  put16(q, id);
  put16(q, 0x0100);
  put16(q, 1);
  put16(q, 0);
  put16(q, 0);
  put16(q, 0);
  Bytes n = encode_name(qname);
  q.insert(q.end(), n.begin(), n.end());
  put16(q, qtype);
  put16(q, 1);
  return make_response(q, rcode, answers);
}

Bytes a_rdata(const std::string& ipv4) {
  Bytes b(4);
  if (inet_pton(AF_INET, ipv4.c_str(), b.data()) != 1) throw std::runtime_error("bad IPv4 " + ipv4);
  return b;
}

std::vector<Reply> answer_a(const UpstreamQuery& q, const std::string& ipv4, ms delay) {
  return {Reply{make_response(q.wire, rcode::NOERROR, {{rr::A, 300, a_rdata(ipv4)}}), delay}};
}

FakeUpstream::FakeUpstream(Handler h) : handler_(std::move(h)) {
  for (int attempt = 0; attempt < 20 && fd_ < 0; ++attempt) {
    port_ = pick_free_port();
    fd_ = bind_udp(port_);
    if (fd_ < 0) continue;
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(listen_fd_, 16) != 0) {
      if (listen_fd_ >= 0) close(listen_fd_);
      listen_fd_ = -1;
      close(fd_);
      fd_ = -1;
    }
  }
  if (fd_ < 0) throw std::runtime_error("FakeUpstream: cannot bind a UDP+TCP port");
  other_fd_ = bind_udp(0);
  if (other_fd_ < 0) throw std::runtime_error("FakeUpstream: cannot bind second socket");
  thread_ = std::thread([this] { loop(); });
}

FakeUpstream::~FakeUpstream() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (auto& c : conns_) close(c.fd);
  close(listen_fd_);
  close(fd_);
  close(other_fd_);
}

std::vector<UpstreamQuery> FakeUpstream::queries() const {
  std::lock_guard lk(mu_);
  return log_;
}

size_t FakeUpstream::count(const std::string& qname) const {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (auto& q : log_)
    if (lower(q.qname) == lower(qname)) ++n;
  return n;
}

void FakeUpstream::handle(UpstreamQuery q, int tcp_fd, const sockaddr_in& from) {
  q.id = wire_id(q.wire);
  q.src_port = ntohs(from.sin_port);
  q.tcp = tcp_fd >= 0;
  q.at = Clock::now();
  try {
    auto m = parse_message(q.wire);
    q.qname = m.qname;
    q.qtype = m.qtype;
  } catch (const std::exception&) {
    q.qname = "<unparseable>";
  }
  {
    std::lock_guard lk(mu_);
    log_.push_back(q);
  }
  std::vector<Reply> replies;
  try {
    replies = handler_(q);
  } catch (const std::exception&) {
  }
  for (auto& r : replies)
    pending_.push_back({q.at + r.delay, std::move(r.wire), r.from_other_socket, r.unframed, r.close_after, tcp_fd, from});
}

void FakeUpstream::loop() {
  Bytes buf(65535);
  // Bounded: the owner stops us; at most ~10 minutes of 20 ms polls regardless.
  for (int iter = 0; iter < 30000 && !stop_; ++iter) {
    std::vector<pollfd> fds{{fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (auto& c : conns_)
      if (c.open) fds.push_back({c.fd, POLLIN, 0});
    poll(fds.data(), fds.size(), 20);
    if (fds[0].revents & POLLIN) {
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      ssize_t n = recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n > 0) {
        UpstreamQuery q;
        q.wire.assign(buf.begin(), buf.begin() + n);
        handle(std::move(q), -1, from);
      }
    }
    if (fds[1].revents & POLLIN) {
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      int c = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&from), &flen, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c >= 0 && conns_.size() < 256) conns_.push_back({c, {}, true});
      else if (c >= 0) close(c);
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Conn* c = nullptr;
      for (auto& cc : conns_)
        if (cc.fd == fds[i].fd) c = &cc;
      if (!c) continue;
      ssize_t n = recv(c->fd, buf.data(), buf.size(), 0);
      if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) c->open = false;
        continue;
      }
      c->buf.insert(c->buf.end(), buf.begin(), buf.begin() + n);
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      getpeername(c->fd, reinterpret_cast<sockaddr*>(&from), &flen);
      for (int k = 0; k < 1000 && c->buf.size() >= 2; ++k) {
        size_t len = static_cast<size_t>(c->buf[0] << 8 | c->buf[1]);
        if (c->buf.size() < 2 + len) break;
        UpstreamQuery q;
        q.wire.assign(c->buf.begin() + 2, c->buf.begin() + 2 + static_cast<long>(len));
        c->buf.erase(c->buf.begin(), c->buf.begin() + 2 + static_cast<long>(len));
        handle(std::move(q), c->fd, from);
      }
    }
    const auto now = Clock::now();
    for (size_t i = 0; i < pending_.size();) {
      if (pending_[i].due > now) {
        ++i;
        continue;
      }
      auto& pd = pending_[i];
      if (pd.tcp_fd >= 0) {
        Bytes f = pd.unframed ? pd.wire : frame(pd.wire);
        (void)!send(pd.tcp_fd, f.data(), f.size(), MSG_NOSIGNAL);  // small: fits the socket buffer
        // shutdown, not close: the descriptor stays in conns_ for the destructor.
        if (pd.close_after) shutdown(pd.tcp_fd, SHUT_RDWR);
      } else {
        sendto(pd.other ? other_fd_ : fd_, pd.wire.data(), pd.wire.size(), 0,
               reinterpret_cast<const sockaddr*>(&pd.to), sizeof pd.to);
      }
      pending_.erase(pending_.begin() + static_cast<long>(i));
    }
  }
}

}  // namespace hush_it

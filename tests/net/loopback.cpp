#include "loopback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace hush::test {

namespace {
sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int bound(int type, uint16_t port) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(port);
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

uint16_t port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// Offset just past the question, or 0.
size_t question_end(const Bytes& q) {
  size_t p = 12;
  for (int i = 0; i < 128 && p < q.size(); ++i) {
    if (q[p] == 0) return p + 5 <= q.size() ? p + 5 : 0;
    p += 1 + q[p];
  }
  return 0;
}

bool slow_name(const Bytes& q) { return q.size() > 17 && std::memcmp(&q[13], "slow", 4) == 0; }

Bytes frame(const Bytes& m) {
  Bytes f(2 + m.size());
  f[0] = uint8_t(m.size() >> 8);
  f[1] = uint8_t(m.size());
  std::copy(m.begin(), m.end(), f.begin() + 2);
  return f;
}
}  // namespace

uint16_t id_of(const Bytes& m) { return m.size() < 2 ? 0 : uint16_t(m[0] << 8 | m[1]); }
uint16_t ancount_of(const Bytes& m) { return m.size() < 12 ? 0 : uint16_t(m[6] << 8 | m[7]); }

uint16_t free_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int tcp = bound(SOCK_STREAM, 0);
    if (tcp < 0) continue;
    uint16_t port = port_of(tcp);
    int udp = bound(SOCK_DGRAM, port);
    close(tcp);
    if (udp < 0) continue;
    close(udp);
    return port;
  }
  throw std::runtime_error("no free loopback port");
}

FakeUpstream::FakeUpstream(bool truncate_udp, milliseconds slow_delay)
    : truncate_udp_(truncate_udp), slow_delay_(slow_delay) {
  for (int attempt = 0; attempt < 50 && listen_ < 0; ++attempt) {
    udp_ = bound(SOCK_DGRAM, 0);
    if (udp_ < 0) continue;
    port_ = port_of(udp_);
    listen_ = bound(SOCK_STREAM, port_);
    if (listen_ >= 0 && ::listen(listen_, 16) == 0) break;
    if (listen_ >= 0) close(listen_);
    listen_ = -1;
    close(udp_);
  }
  if (listen_ < 0) throw std::runtime_error("FakeUpstream: no free UDP+TCP port");
  thread_ = std::thread([this] { loop(); });
}

FakeUpstream::~FakeUpstream() {
  stop_ = true;
  thread_.join();
  for (int fd : conns_) close(fd);
  close(listen_);
  close(udp_);
}

void FakeUpstream::answer(const Bytes& q, int tcp_fd, const Bytes& to) {
  size_t qend = question_end(q);
  if (q.size() < 12 || !qend) return;
  bool truncated = tcp_fd < 0 && truncate_udp_;
  Bytes r(q.begin(), q.begin() + long(qend));
  r[2] = uint8_t(0x80 | (q[2] & 0x01) | (truncated ? 0x02 : 0));
  r[3] = 0x80;  // RA, NOERROR
  r[6] = 0, r[7] = truncated ? 0 : 1;
  r[8] = r[9] = r[10] = r[11] = 0;
  if (!truncated) {
    const uint8_t rr[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 1, 0x2C, 0, 4, 192, 0, 2, 1};
    r.insert(r.end(), rr, rr + sizeof rr);
  }
  auto at = Clock::now() + (slow_name(q) ? slow_delay_ : milliseconds(0));
  due_.push_back({at, tcp_fd >= 0 ? frame(r) : r, tcp_fd, to});
}

void FakeUpstream::loop() {
  Bytes buf(65535);
  // Bounded: stopped by the destructor, and by itself after ~60 s of polls.
  for (int iter = 0; iter < 6000 && !stop_; ++iter) {
    std::vector<pollfd> fds{{udp_, POLLIN, 0}, {listen_, POLLIN, 0}};
    for (int fd : conns_) fds.push_back({fd, POLLIN, 0});
    poll(fds.data(), fds.size(), 10);
    if (fds[0].revents & POLLIN) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(udp_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n > 0) {
        ++udp_queries_;
        auto* f = reinterpret_cast<uint8_t*>(&from);
        answer(Bytes(buf.begin(), buf.begin() + n), -1, Bytes(f, f + sizeof from));
      }
    }
    if (fds[1].revents & POLLIN) {
      int c = accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) conns_.push_back(c);
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      // Small queries from a client on the same machine: one read holds the frame.
      ssize_t n = recv(fds[i].fd, buf.data(), buf.size(), 0);
      if (n <= 0) {
        std::erase(conns_, fds[i].fd);
        for (Due& d : due_)
          if (d.tcp_fd == fds[i].fd) d.tcp_fd = -2;  // nowhere to send it now
        close(fds[i].fd);
        continue;
      }
      if (n < 2) continue;
      ++tcp_queries_;
      answer(Bytes(buf.begin() + 2, buf.begin() + n), fds[i].fd, {});
    }
    auto now = Clock::now();
    for (size_t i = 0; i < due_.size();) {
      Due& d = due_[i];
      if (d.at > now) {
        ++i;
        continue;
      }
      if (d.tcp_fd >= 0)
        (void)!send(d.tcp_fd, d.wire.data(), d.wire.size(), MSG_NOSIGNAL);
      else if (d.tcp_fd == -1)
        sendto(udp_, d.wire.data(), d.wire.size(), 0, reinterpret_cast<const sockaddr*>(d.to.data()),
               socklen_t(d.to.size()));
      due_.erase(due_.begin() + long(i));
    }
  }
}

std::optional<Bytes> udp_ask(uint16_t port, const Bytes& query, milliseconds timeout) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in to = loopback(port);
  sendto(fd, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  auto deadline = Clock::now() + timeout;
  std::optional<Bytes> out;
  for (int i = 0; i < 1000 && !out; ++i) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, int(left)) <= 0) break;
    Bytes buf(65535);
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n >= 2 && id_of(buf) == id_of(query)) out = Bytes(buf.begin(), buf.begin() + n);
  }
  close(fd);
  return out;
}

TcpClient::TcpClient(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to = loopback(port);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

TcpClient::~TcpClient() {
  if (fd_ >= 0) close(fd_);
}

bool TcpClient::send_framed(const std::vector<Bytes>& msgs) {
  Bytes all;
  for (const Bytes& m : msgs) {
    Bytes f = frame(m);
    all.insert(all.end(), f.begin(), f.end());
  }
  return send(fd_, all.data(), all.size(), MSG_NOSIGNAL) == ssize_t(all.size());
}

bool TcpClient::read_exact(uint8_t* out, size_t n, Clock::time_point deadline) {
  size_t got = 0;
  for (int i = 0; i < 10000 && got < n; ++i) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd_, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, int(left)) <= 0) return false;
    ssize_t r = recv(fd_, out + got, n - got, 0);
    if (r <= 0) {
      closed_ = true;
      return false;
    }
    got += size_t(r);
  }
  return got == n;
}

std::optional<Bytes> TcpClient::read_framed(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  uint8_t len[2];
  if (!read_exact(len, 2, deadline)) return std::nullopt;
  Bytes m(size_t(len[0] << 8 | len[1]));
  if (!read_exact(m.data(), m.size(), deadline)) return std::nullopt;
  return m;
}

bool TcpClient::wait_closed(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  uint8_t byte;
  for (int i = 0; i < 1000 && !closed_; ++i)
    if (!read_exact(&byte, 1, deadline) && !closed_) return false;
  return closed_;
}

}  // namespace hush::test

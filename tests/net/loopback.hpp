// Loopback helpers for driving a real net::Worker: a scripted upstream on
// 127.0.0.1 (UDP and TCP on one port, bound to port 0) and plain-socket
// clients. Every wait has a deadline; nothing sleeps a fixed time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace hush::test {

using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Answers every question with one A record, 192.0.2.1. Names whose first
// label starts with "slow" are answered after `slow_delay`; with
// `truncate_udp` every UDP answer is empty and has TC set.
class FakeUpstream {
 public:
  explicit FakeUpstream(bool truncate_udp = false, milliseconds slow_delay = milliseconds(300));
  ~FakeUpstream();
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  uint16_t port() const { return port_; }
  int udp_queries() const { return udp_queries_; }
  int tcp_queries() const { return tcp_queries_; }

 private:
  struct Due {
    Clock::time_point at;
    Bytes wire;  // TCP: framed
    int tcp_fd;  // -1: UDP to `to`; -2: its connection has closed
    Bytes to;    // sockaddr_in, as bytes
  };
  void loop();
  void answer(const Bytes& query, int tcp_fd, const Bytes& to);

  bool truncate_udp_;
  milliseconds slow_delay_;
  uint16_t port_ = 0;
  int udp_ = -1, listen_ = -1;
  std::vector<int> conns_;
  std::vector<Due> due_;
  std::atomic<int> udp_queries_{0}, tcp_queries_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A UDP+TCP port on 127.0.0.1 that was free a moment ago (found by binding
// port 0), for a server to listen on.
uint16_t free_port();

// Sends `query` over UDP and waits for the answer with its ID.
std::optional<Bytes> udp_ask(uint16_t port, const Bytes& query, milliseconds timeout);

class TcpClient {
 public:
  explicit TcpClient(uint16_t port);
  ~TcpClient();
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;
  bool connected() const { return fd_ >= 0; }
  // Sends each message with its 2-byte length, all in one write.
  bool send_framed(const std::vector<Bytes>& msgs);
  std::optional<Bytes> read_framed(milliseconds timeout);
  // Whether the server closed the connection within `timeout`.
  bool wait_closed(milliseconds timeout);

 private:
  bool read_exact(uint8_t* out, size_t n, Clock::time_point deadline);
  int fd_ = -1;
  bool closed_ = false;
};

uint16_t id_of(const Bytes& msg);
uint16_t ancount_of(const Bytes& msg);

// Polls `pred` every few milliseconds until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred pred, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 100000; ++i) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return pred();
}

}  // namespace hush::test

// A scripted upstream DNS server on 127.0.0.1 (UDP and TCP on one port) for
// the forwarding tests: it records every query hush sends (transport, ID,
// source port, question) and answers via a handler that can delay replies,
// send several (spoofed) replies and, over UDP, send from a second socket (a
// different source port); over TCP, send broken frames and close mid-answer.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "dns_client.hpp"

namespace hush_it {

struct UpstreamQuery {
  Bytes wire;
  uint16_t id = 0;
  std::string qname;  // as received (case kept)
  uint16_t qtype = 0;
  uint16_t src_port = 0;
  bool tcp = false;
  Clock::time_point at;
};

struct Reply {
  Bytes wire;
  ms delay{0};
  bool from_other_socket = false;  // UDP: send from a second socket (other source port)
  bool unframed = false;           // TCP: send `wire` as it is, without a length prefix
  bool close_after = false;        // TCP: close the connection once this is sent
};

class FakeUpstream {
 public:
  using Handler = std::function<std::vector<Reply>(const UpstreamQuery&)>;
  explicit FakeUpstream(Handler h);
  ~FakeUpstream();
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  Endpoint endpoint() const { return {"127.0.0.1", port_}; }
  std::vector<UpstreamQuery> queries() const;
  size_t count(const std::string& qname) const;  // case-insensitive

 private:
  struct Conn {
    int fd;
    Bytes buf;
    bool open;
  };
  struct Pending {
    Clock::time_point due;
    Bytes wire;
    bool other;
    bool unframed, close_after;
    int tcp_fd;  // -1: UDP to `to`
    sockaddr_in to;
  };
  void loop();
  void handle(UpstreamQuery q, int tcp_fd, const sockaddr_in& from);
  Handler handler_;
  uint16_t port_ = 0;
  int fd_ = -1, other_fd_ = -1, listen_fd_ = -1;
  std::vector<Conn> conns_;      // loop thread only; closed in the destructor
  std::vector<Pending> pending_;  // loop thread only
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<UpstreamQuery> log_;
  std::thread thread_;
};

using Answer = std::tuple<uint16_t /*type*/, uint32_t /*ttl*/, Bytes /*rdata*/>;

// Response to `query`: same ID, QR+RA, RD copied, question section copied
// byte for byte, the given answers (owner = compression pointer to the qname).
Bytes make_response(const Bytes& query, int rcode, const std::vector<Answer>& answers = {});
// Response with an arbitrary ID and question (for spoofing tests).
Bytes make_response_for(uint16_t id, const std::string& qname, uint16_t qtype, int rcode,
                        const std::vector<Answer>& answers = {});
Bytes a_rdata(const std::string& ipv4);
// What a FakeUpstream handler returns for one A record `ipv4`, sent after `delay`.
std::vector<Reply> answer_a(const UpstreamQuery& q, const std::string& ipv4, ms delay = 0ms);

}  // namespace hush_it

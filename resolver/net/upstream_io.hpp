// The traffic of one worker with its upstream servers, on the worker's loop:
// UDP through a few pooled sockets per server (upstream::Pool says which,
// and when one is replaced), TCP (after a truncated answer) on a connection
// per attempt, and one timer for every attempt's timeout
// (upstream::Deadlines), DNS over TLS through TlsUpstreams and DNS over
// HTTPS through HttpsUpstreams. Which attempt an answer belongs to comes from the
// socket and the ID; whether it answers the question is for the caller.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "upstream/deadlines.hpp"
#include "upstream/inflight.hpp"
#include "upstream/pool.hpp"
#include "upstream/random.hpp"
#include "upstream/selector.hpp"

namespace hush::net {

class TlsUpstreams;
class HttpsUpstreams;

// For DNS over TLS and HTTPS upstreams.
struct TlsSettings {
  std::string ca_file;                      // PEM; "": the system's CA store
  std::vector<sockaddr_storage> bootstrap;  // plain servers that look up servers given by name
  uint32_t bootstrap_timeout_ms = 1500;     // per bootstrap server
  uint32_t idle_timeout_ms = 30000;         // a connection without a query waiting is closed after this
};

class UpstreamIo {
 public:
  // What the worker does with what comes back; called on the loop's thread.
  class Events {
   public:
    // A message arrived for p's current attempt.
    virtual void on_upstream_reply(upstream::Pending& p, const uint8_t* data, size_t len) = 0;
    // p's current attempt ended without an answer: it timed out, or the
    // server refused it (ICMP port unreachable, TCP reset). The attempt is
    // over already; the callee may start the next one.
    virtual void on_upstream_failure(upstream::Pending& p, bool timed_out, const char* why) = 0;
    // A datagram from server `server` of route `route` that answers no
    // query waiting on its socket (a late answer, or a spoofing attempt).
    virtual void on_upstream_stray(uint8_t route, uint8_t server, const uint8_t* data, size_t len) = 0;

   protected:
    ~Events() = default;
  };

  // routes[r][i] is server i of route r (Pending::route and
  // Pending::server()). Nothing is opened before the first send.
  UpstreamIo(uv_loop_t* loop, Events& events, std::vector<std::vector<upstream::Server>> routes,
             uint32_t timeout_ms, const upstream::PoolLimits& limits = {}, const TlsSettings& tls = {});
  ~UpstreamIo();
  UpstreamIo(const UpstreamIo&) = delete;
  UpstreamIo& operator=(const UpstreamIo&) = delete;

  // Starts p's next attempt: ends the current one, gives p a fresh random ID
  // (p.id), sends its question to server p.server() of route p.route over
  // `transport` and arms the timeout. Returns nullptr, or why nothing could
  // be sent (a transport not implemented here says so), in which case no
  // attempt of p is running. A UDP query waits in its socket's batch until
  // flush().
  const char* send(upstream::Pending& p, upstream::Transport transport);
  // Sends every batched UDP query, one sendmmsg per socket. The worker calls
  // it at the end of each loop iteration: a batch of client questions costs
  // one system call per upstream socket, not one per question.
  void flush();
  // Ends p's current attempt, if any: an answer arriving for it later is a
  // stray. Call before p is destroyed.
  void cancel(upstream::Pending& p);
  // Closes every socket and the timer. Call once nothing is in flight,
  // before the loop ends.
  void close();

 private:
  struct Socket;
  struct TcpAttempt;

  // Starts p's attempt over p.transport; as send() without the timer.
  const char* start(upstream::Pending& p);
  const char* send_udp(upstream::Pending& p);
  Socket* open_socket(uint8_t route, uint8_t server, const char** why);
  void close_socket(Socket& s);
  void send_batch(Socket& s);
  void on_datagram(Socket& s, const uint8_t* data, size_t len);
  // The socket cannot reach its server (an ICMP error): every attempt
  // waiting on it fails at once instead of at its timeout.
  void socket_failed(Socket& s, const char* why);
  const char* send_tcp(upstream::Pending& p);
  const char* send_tls(upstream::Pending& p);
  const char* send_https(upstream::Pending& p);
  void on_tcp_connected(TcpAttempt& a, int status);
  void on_tcp_data(TcpAttempt& a, ssize_t nread, const char* data);
  // Ends the attempt `a` carries and tells the worker why.
  void tcp_failed(TcpAttempt& a, const char* why);
  void arm_timer();
  void on_timer();

  uv_loop_t* loop_;
  Events& events_;
  std::vector<std::vector<upstream::Server>> routes_;
  uint32_t timeout_ms_;
  std::vector<std::vector<upstream::Pool>> pools_;  // [route][server]
  std::vector<Socket*> sockets_;                    // every open UDP socket
  std::vector<Socket*> batched_;                    // those with queries to send
  std::vector<Socket*> flushing_;
  upstream::Random random_;
  std::unique_ptr<TlsUpstreams> tls_;      // null without a tls:// server
  std::unique_ptr<HttpsUpstreams> https_;  // null without an https:// server
  upstream::Deadlines deadlines_;
  uv_timer_t timer_;
  std::optional<uint64_t> timer_due_;  // the deadline the timer is set for
  bool closed_ = false;
  // libuv's recvmmsg wants 64 KiB per datagram and reads up to 20 at a time;
  // TCP reads use the first 64 KiB. Every read is consumed before the next.
  std::unique_ptr<char[]> read_buffer_;
};

}  // namespace hush::net

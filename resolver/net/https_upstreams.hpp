// DNS over HTTPS (RFC 8484) to the https:// upstreams, on a worker's loop:
// each query an HTTP/2 POST of the wire message (application/dns-message),
// many as streams of one connection per server.
//
// Why libcurl's multi interface (driven from libuv by its socket and timer
// callbacks) rather than nghttp2 under hush's own TLS: libcurl is already a
// dependency (subscriptions) and brings HTTP/2 over nghttp2 with connection
// reuse, stream multiplexing and certificate checks done, so DoH is a
// small, checked piece of code. The measurements (docs/BENCHMARKS.md,
// "Encrypted upstreams against plain UDP"; tests/bench/upstream_tls.sh; one
// worker, cache misses, unbound 1.17 on loopback, 2,000 QPS): a DoH miss
// used to wait 40-50 ms more than a UDP one. That was not libcurl's timers
// but TCP: unbound writes an answer's HEADERS and DATA frames in two writes
// without TCP_NODELAY, so Nagle holds the DATA until the HEADERS are
// acknowledged, and Linux delays that ACK up to 40 ms. Acknowledging at
// once after each read (TCP_QUICKACK, below) takes DoH to about 1 ms over
// UDP (4.0 against 3.0 ms at 2,000 QPS; one query at a time, median 1.2
// against 0.4 ms), near DoT. What libcurl still costs is CPU: 85-115 us per
// answer against 20-70 us over DoT in the same runs (nghttp2's own client,
// h2load, 19 us per request), which on a saturated machine shows as
// queueing; a home's misses are hundreds a second. Each transfer's handle
// is reused and unchanged socket watches are skipped to keep it down.
// nghttp2 sessions on TlsUpstreams' connections remain the way to close
// the CPU gap should DoH upstreams need to be as cheap as DoT.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/bootstrap.hpp"
#include "net/upstream_io.hpp"
#include "upstream/inflight.hpp"
#include "upstream/selector.hpp"

namespace hush::net {

class HttpsUpstreams {
 public:
  static constexpr long kConnections = 2;         // per server and worker
  static constexpr size_t kStreams = 256;         // requests in flight per server and worker
  static constexpr size_t kMaxBody = 65535;       // an answer longer than a DNS message is refused

  HttpsUpstreams(uv_loop_t* loop, UpstreamIo& io, UpstreamIo::Events& events, upstream::Random& random,
                 const std::vector<std::vector<upstream::Server>>& routes, const TlsSettings& settings);
  ~HttpsUpstreams();
  HttpsUpstreams(const HttpsUpstreams&) = delete;
  HttpsUpstreams& operator=(const HttpsUpstreams&) = delete;

  // Posts `msg` (its ID is set here and stored in p.id) to server
  // p.server() of route p.route. nullptr, or why it was not sent.
  const char* send(upstream::Pending& p, uint8_t* msg, size_t len);
  void cancel(upstream::Pending& p);
  void close();

 private:
  struct Server;
  struct Request;
  struct Poll;

  void start(Request& r);
  void look_up(Server& s);
  void finished(Request& r, int code);
  void check_done();
  void end(Request& r);
  static int on_socket(void* easy, int fd, int what, void* self, void* poll);
  static int on_timer(void* multi, long timeout_ms, void* self);

  uv_loop_t* loop_;
  UpstreamIo& io_;
  UpstreamIo::Events& events_;
  upstream::Random& random_;
  Bootstrap bootstrap_;
  std::string ca_file_;
  void* multi_ = nullptr;  // CURLM
  void* headers_ = nullptr;  // curl_slist: every request's
  std::vector<void*> spare_;  // CURL handles done with, to reuse (at most kStreams)
  uv_timer_t timer_;
  std::vector<std::vector<Server*>> servers_;  // [route][server], null for a server that is not https://
  bool closed_ = false;
};

}  // namespace hush::net

// The HTTP server's sockets: one thread accepts and reads every connection
// with poll() until a whole request (head and body) has arrived, and only then
// hands it to a handler thread. A slow or silent client therefore costs a
// buffer, never a handler thread, and eight slow sockets cannot take the
// dashboard down as they could when each connection held a thread from its
// first byte.
//
// Bounds (HttpLimits): open connections, head bytes, header lines, body
// bytes, the time a whole request may take, the idle time between requests,
// and the bytes buffered over all connections. When the connection slots are
// full, a new client takes the slot of the connection whose unfinished request
// is oldest (or the longest idle one), as unbound does for TCP.
//
// HTTPS (http.tls): TLS is terminated here with OpenSSL on the same sockets,
// the handshake and reads on the reader thread, the response's writes on the
// handler thread that has the connection, so every bound above holds for
// it too (a handshake that never ends is a connection idle too long).
// cpp-httplib's SSLServer would bring back its thread per connection from
// the first byte, which is what this class exists to avoid.
#pragma once

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "tls/server_context.hpp"

namespace hush::web {

struct HttpLimits {
  size_t max_connections = 256;
  size_t max_head_bytes = 16 * 1024;      // request line and headers
  size_t max_headers = 100;               // header lines
  size_t max_body_bytes = 1 << 20;
  size_t max_buffered_bytes = 32u << 20;  // over all connections
  int request_timeout_ms = 10000;         // first byte to last byte of one request
  int idle_timeout_ms = 5000;             // keep-alive between requests
  int write_timeout_ms = 5000;            // per write of a response
};

// What a handler thread sees of one connection: the request's bytes, and the
// socket to answer on.
struct HttpExchange {
  int fd;
  std::string_view request;  // exactly one request, head and body
  std::string peer;          // the client's address, without the port
  int peer_port;
  int write_timeout_ms;
  SSL* ssl = nullptr;  // HTTPS: the session to write through
};

class HttpConnections {
 public:
  // `handle` runs on one of `threads` handler threads, once per request;
  // it answers on the socket and returns true to keep the connection open.
  using Handle = std::function<bool(const HttpExchange&)>;
  HttpConnections(HttpLimits limits, size_t threads, Handle handle);
  ~HttpConnections();  // stop()
  HttpConnections(const HttpConnections&) = delete;
  HttpConnections& operator=(const HttpConnections&) = delete;

  // Before start(): connections speak HTTPS with the current certificate of
  // `tls` (which outlives this), read again when its files change (looked
  // at, at most every 2 s, when a client connects).
  void use_tls(tls::ServerContext* tls);
  // Takes ownership of a bound, listening socket and starts the threads.
  void start(int listen_fd);
  // Closes the listener and every connection, lets the requests being
  // handled finish, joins the threads. Safe to call twice.
  void stop();

  struct Stats {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> evicted{0};        // closed to free a slot for a new client
    std::atomic<uint64_t> timed_out{0};      // request too slow, or idle too long
    std::atomic<uint64_t> refused{0};        // too large, too many headers, malformed
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Stats stats_;
};

}  // namespace hush::web

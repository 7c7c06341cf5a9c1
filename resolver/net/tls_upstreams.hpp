// DNS over TLS (RFC 7858) to the tls:// upstreams, on a worker's loop.
// Each server gets at most kConnections connections per worker, opened on
// the first query, kept open while queries come and closed after
// upstream.tls_idle_timeout_ms without one. Queries are pipelined on them (RFC 7766), at most
// kPipelined waiting on one connection, and answers are matched by their
// random ID. OpenSSL works on memory BIOs and libuv moves the bytes, so no
// handshake or read blocks the loop. A failed connect or handshake backs
// the server off (0.5 s doubling to a minute) before the next connection;
// a refused certificate is logged as such and never leads to plain DNS.
// A server given by name is looked up through the bootstrap servers when a
// connection opens, again once the address's TTL has passed.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/bootstrap.hpp"
#include "net/upstream_io.hpp"
#include "upstream/inflight.hpp"
#include "upstream/random.hpp"
#include "upstream/selector.hpp"

struct ssl_ctx_st;
struct ssl_st;
struct ssl_session_st;

namespace hush::net {

class TlsUpstreams {
 public:
  static constexpr size_t kConnections = 2;      // per server and worker
  static constexpr size_t kPipelined = 256;      // queries waiting on one connection
  static constexpr size_t kPadBlock = 128;       // RFC 8467's block length for queries
  static constexpr uint64_t kHandshakeMs = 5000;  // connect and handshake at most this long

  // `routes` (UpstreamIo's) must outlive this.
  TlsUpstreams(uv_loop_t* loop, UpstreamIo& io, UpstreamIo::Events& events, upstream::Random& random,
               const std::vector<std::vector<upstream::Server>>& routes, const TlsSettings& settings);
  ~TlsUpstreams();
  TlsUpstreams(const TlsUpstreams&) = delete;
  TlsUpstreams& operator=(const TlsUpstreams&) = delete;

  // Sends `frame` (a 2-byte length, then the query; its ID is filled in
  // here and stored in p.id) to server p.server() of route p.route. Returns
  // nullptr, or why it could not be sent (the server is backing off after a
  // failure, or every connection to it is full).
  const char* send(upstream::Pending& p, uint8_t* frame, size_t len);
  // Forgets p's attempt (UpstreamIo::cancel calls it).
  void cancel(upstream::Pending& p);
  // Hands the TLS records written since the last flush to libuv.
  void flush();
  // Closes every connection; call once nothing is in flight.
  void close();

 private:
  struct Server;
  struct Conn;

  Conn* pick(Server& s, const char** why);
  Conn* open(Server& s, const char** why);
  // Looks up the name of s through the bootstrap servers, then connects
  // its connections that wait for the address.
  void look_up(Server& s);
  bool connect(Conn& c, const char** why);
  void on_connected(Conn& c, int status);
  bool handshake(Conn& c);
  void on_read(Conn& c, ssize_t nread, const char* data);
  void read_answers(Conn& c);
  void deliver(Conn& c);
  void drain(Conn& c);
  void mark_dirty(Conn& c);
  void arm_idle(Conn& c);
  static void on_timer(uv_timer_t* t);
  void failed(Conn& c, const std::string& why, bool refused);
  void close_conn(Conn& c);
  static int on_new_session(ssl_st* ssl, ssl_session_st* session);

  uv_loop_t* loop_;
  UpstreamIo& io_;
  UpstreamIo::Events& events_;
  upstream::Random& random_;
  Bootstrap bootstrap_;
  ssl_ctx_st* ctx_ = nullptr;
  std::string ctx_error_;  // why ctx_ is null
  std::vector<std::vector<Server*>> servers_;  // [route][server], null for a server that is not tls://
  std::vector<Conn*> dirty_;                   // connections with records to hand to libuv
  uint64_t idle_ms_;
  // Each read is decrypted and consumed before the next.
  static constexpr size_t kReadSize = 64 * 1024;
  std::unique_ptr<char[]> read_buffer_{new char[kReadSize]};
};

}  // namespace hush::net

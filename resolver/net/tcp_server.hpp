// A worker's DNS over TCP (RFC 7766), over TLS (RFC 7858) and over HTTPS
// (RFC 8484, the HTTP side in doh_session): its listening sockets and the
// connections accepted on them. Each complete frame goes to
// the QueryHandler as soon as it is in; answers go back in order of
// readiness. Every resource a client holds is capped: connections per worker
// and per client address, questions waiting upstream and answer bytes
// waiting to be written per connection, and time without a query (which
// also bounds a TLS handshake that never finishes).
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "metrics/counters.hpp"
#include "net/handler.hpp"
#include "tls/server_context.hpp"

namespace hush::net {

// Open TCP connections per client address across all workers, so one
// client cannot take every connection slot. Only accepts and closes come
// here, so a lock is cheap enough.
class TcpClients {
 public:
  // Counts one more connection from `peer`; false (and nothing counted)
  // when it has `limit` open already.
  bool acquire(const sockaddr_storage& peer, unsigned limit);
  void release(const sockaddr_storage& peer);

 private:
  static std::string key(const sockaddr_storage& peer);
  std::mutex mu_;
  std::unordered_map<std::string, unsigned> open_;
};

struct TcpLimits {
  size_t max_connections;    // of this worker
  unsigned max_per_client;   // across all workers (TcpClients)
  unsigned idle_timeout_ms;  // with no complete query and nothing waiting upstream
};

class TcpServer {
 public:
  TcpServer(uv_loop_t* loop, const TcpLimits& limits, TcpClients& clients, QueryHandler& handler,
            Counters& counters);
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  // Takes the bound socket `fd` (libuv closes it with the handle) of listen
  // address `index` and accepts on it. A connection over the per-client cap
  // is accepted and closed at once (counted as refused); when the worker's
  // slots are full, the connection longest without a query is closed to make
  // room (counted as evicted), so idle clients cannot lock others out.
  // With `tls`, the connections speak DNS over TLS with its current
  // certificate (DNS over HTTPS when `https`); `tls` outlives the server.
  void listen(int fd, uint32_t index, const tls::ServerContext* tls = nullptr, bool https = false);
  // Sends the answer to a question of `connection` (for DNS over HTTPS, a
  // request's own id) that was forwarded; nothing when the connection has
  // closed since. A write error is counted.
  void answer(uint64_t connection, const uint8_t* data, size_t len);
  // Closes the listening sockets: no new connections.
  void stop_listening();
  // Closes every connection.
  void close_all();

 private:
  struct Listener;
  struct Connection;

  void on_accept(Listener& l);
  void refuse(std::unique_ptr<Connection> c);
  void evict_idlest();
  void start_reading(Connection& c);
  // Stops reading while the client has too much waiting (upstream or to be
  // written), and starts again once enough has drained.
  void update_reading(Connection& c);
  void on_data(Connection& c, const char* data, size_t len);
  // TLS: decrypts what arrived into the connection's input; false when the
  // connection failed (and is closed).
  bool decrypt(Connection& c, const char* data, size_t len);
  // Queues what TLS has to say (handshake, encrypted answers) for writing.
  void flush_tls(Connection& c);
  void write_raw(Connection& c, std::vector<uint8_t> data);
  // Runs the complete frames received so far, while the client is not backlogged.
  void take_frames(Connection& c);
  // Runs one complete frame through the handler; true for a valid query.
  bool on_frame(Connection& c, const uint8_t* msg, size_t len);
  void send(Connection& c, const uint8_t* data, size_t len);
  // Writes `data` to the client, through TLS when the connection has it.
  void write(Connection& c, std::vector<uint8_t> data);
  bool backlogged(Connection& c, size_t write_limit);
  // Decrypted input to the DNS framing or to the HTTP session.
  void take_input(Connection& c);
  // DNS over HTTPS: the session for the HTTP version ALPN chose.
  void start_https(Connection& c);
  // DNS over HTTPS: feeds the session, runs its queries, sends its output.
  void take_https(Connection& c);
  void on_https_query(Connection& c, uint32_t stream, std::string_view client_id, const uint8_t* msg, size_t len);
  void answer_https(uint64_t request, const uint8_t* data, size_t len);
  void flush_https(Connection& c);
  // Closes once what is queued has been written (an HTTP error that ends the connection).
  void close_after_writes(Connection& c);
  void close(Connection& c);

  uv_loop_t* loop_;
  TcpLimits limits_;
  TcpClients& clients_;
  QueryHandler& handler_;
  Counters& counters_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  // DNS over HTTPS questions waiting upstream, by their own ids (taken from
  // the connections' counter, so the two never meet): connection and stream.
  std::unordered_map<uint64_t, std::pair<uint64_t, uint32_t>> https_requests_;
  uint64_t next_connection_ = 1;
  std::vector<uint8_t> out_;  // one answer at a time
  char read_buffer_[65536];   // reads are consumed before the next one starts
  char plain_buffer_[16384];  // one TLS record decrypted at a time
};

}  // namespace hush::net

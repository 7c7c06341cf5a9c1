// One event loop on its own thread: its own UDP and TCP sockets on every
// listen address (SO_REUSEPORT), its own upstream sockets. This folder is the
// only code that includes uv.h; each libuv callback becomes a call into the
// Pipeline at one boundary.
#pragma once

#include <uv.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "metrics/counters.hpp"
#include "net/sockets.hpp"
#include "net/upstream_io.hpp"
#include "pipeline/pipeline.hpp"
#include "querylog/queue.hpp"
#include "upstream/inflight.hpp"
#include "upstream/selector.hpp"

namespace hush::net {

// Open TCP connections per client address across all workers, so one
// client cannot take every connection slot. Only accepts and closes come
// here, so a lock is cheap enough.
class TcpClients {
 public:
  bool acquire(const sockaddr_storage& peer, unsigned limit);
  void release(const sockaddr_storage& peer);

 private:
  static std::string key(const sockaddr_storage& peer);
  std::mutex mu_;
  std::unordered_map<std::string, unsigned> open_;
};

class Worker final : private UpstreamIo::Events {
 public:
  // What all workers share; owned by the server, outliving the workers.
  struct Shared {
    cache::Cache& cache;
    const PolicyStore& policies;
    BlockSettings block;
    RateLimiter& limiter;
    const LocalStore& local;
    upstream::SharedInflight inflight;
    TcpClients tcp_clients;
    std::vector<Worker*> workers;  // filled before any worker runs
    querylog::LogQueue* log_queue = nullptr;  // null: the query log is off
  };

  // Takes ownership of the sockets. Nothing runs until run().
  Worker(const Config& cfg, Shared& shared, int index, ListenSockets sockets);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs the loop until stop(); call on the worker's own thread.
  void run();
  // Thread-safe: asks the loop to close everything and return from run().
  void stop();

  const Counters& counters() const { return counters_; }
  // See Pipeline::follow_block_settings; call before run().
  void follow_block_settings(const Published<BlockSettings>& s) { pipeline_.follow_block_settings(s); }

 private:
  struct UdpListener;
  struct TcpListener;
  struct Connection;
  struct UdpBatch;

  uint64_t now_ms() const;
  void on_udp(UdpListener& l, const uint8_t* data, size_t len, const sockaddr* from);
  void flush_udp(UdpListener& l);
  // Sends what the upstream sockets and the listeners have batched.
  void flush_batches();
  static void add_to_batch(UdpBatch& b, const sockaddr_storage& to, size_t len);
  // Adds a copy of an answer to the listener's batch (sent at the latest at
  // the end of this loop iteration).
  void queue_udp(uint32_t listener, const sockaddr_storage& to, const uint8_t* data, size_t len);
  void send_udp(uint32_t listener, const sockaddr_storage& to, const uint8_t* data, size_t len);
  void on_accept(TcpListener& l);
  void on_tcp_data(Connection& c, const char* data, size_t len);
  void send_tcp(uint64_t conn, const uint8_t* data, size_t len);
  void close_connection(Connection& c);
  void refuse_connection(Connection* c);
  void start_reading(Connection& c);

  void forward(QueryContext& ctx);
  void send_attempt(upstream::Pending& p, bool tcp);
  void on_upstream_reply(upstream::Pending& p, const uint8_t* data, size_t len) override;
  void on_upstream_failure(upstream::Pending& p, bool timed_out, const char* why) override;
  void on_upstream_stray(uint8_t route, uint8_t server, const uint8_t* data, size_t len) override;
  void attempt_failed(upstream::Pending& p, const char* why);
  void complete(upstream::Pending& p, const uint8_t* reply, size_t len);
  void fail_all(upstream::Pending& p);
  void deliver(const upstream::Waiter& w, const uint8_t* data, size_t len);
  void answer_all(upstream::Pending& p, const cache::Entry* prepared);
  void deliver_tcp(uint64_t connection, const uint8_t* data, size_t len);
  // Hands a TCP answer to the worker that owns the connection.
  void post_tcp_answer(uint64_t connection, std::vector<uint8_t> answer);
  void take_mail();
  // The query log: one record per answer (or refusal), handed to the log
  // queue without waiting; a full queue drops it and counts the drop.
  void log_answered(const QueryContext& ctx);
  void log_waiter(const upstream::Waiter& w, Outcome outcome, std::string_view reason,
                  const uint8_t* answer, size_t len, std::string_view upstream);
  void log_event(const ClientRef& client, const dns::Query& q, Outcome outcome, std::string_view reason,
                 const uint8_t* answer, size_t len, std::string_view upstream, uint32_t latency_us);
  std::string_view blocked_reason(const blocklists::Decision& d);
  void begin_stop();
  void finish_stop_if_idle();

  const Config& cfg_;
  Shared& shared_;
  int index_;
  querylog::Producer* qlog_;
  char reason_[300];
  Counters counters_;
  Pipeline pipeline_;
  upstream::Selector& selector(const upstream::Pending& p) { return selectors_[p.route]; }

  std::vector<upstream::Selector> selectors_;  // [0] default upstreams, [i+1] forward zone i
  upstream::InflightTable inflight_;
  uv_loop_t loop_;
  std::unique_ptr<UpstreamIo> upstream_io_;
  uv_async_t stop_async_;
  uv_check_t flush_check_;
  uv_prepare_t flush_prepare_;
  uv_async_t mail_async_;
  std::mutex mail_mu_;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> mail_;
  bool mail_open_ = true;
  ListenSockets sockets_;
  std::vector<std::unique_ptr<UdpListener>> udp_;
  std::vector<std::unique_ptr<TcpListener>> tcp_;
  std::unordered_map<uint64_t, Connection*> connections_;
  uint64_t next_connection_ = 1;
  size_t max_connections_;
  bool stopping_ = false;
  std::vector<uint8_t> scratch_;  // one answer at a time, for TCP and async replies
  char read_buffer_[65536];  // reads are consumed before the next one starts
};

}  // namespace hush::net

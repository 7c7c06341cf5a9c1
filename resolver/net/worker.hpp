// One event loop on its own thread: its own UDP and TCP sockets on every
// listen address (SO_REUSEPORT), its own upstream sockets. This folder is the
// only code that includes uv.h. The worker wires the parts together: the
// listeners hand each query to handle(), the one place a query meets the
// Pipeline, and the Forwarder hands answers from upstream to deliver().
#pragma once

#include <uv.h>

#include <memory>
#include <mutex>
#include <vector>

#include "config/config.hpp"
#include "metrics/counters.hpp"
#include "net/forwarder.hpp"
#include "net/handler.hpp"
#include "net/query_logger.hpp"
#include "net/sockets.hpp"
#include "net/tcp_server.hpp"
#include "net/udp_listener.hpp"
#include "pipeline/pipeline.hpp"
#include "querylog/queue.hpp"
#include "tls/server_context.hpp"
#include "upstream/inflight.hpp"

namespace hush::net {

class Worker final : private QueryHandler, private Forwarder::Clients {
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
    dnstap::Tap* tap = nullptr;               // null: no dnstap export
    querylog::LogQueue* export_queue = nullptr;  // null: no JSON-lines export (logexport)
    const validate::Validator* validator = nullptr;  // null: DNSSEC validation is off
    const tls::ServerContext* tls = nullptr;  // null: no DNS over TLS or HTTPS
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
  // Initialised before, and closed after, every part that uses it.
  struct Loop {
    Loop() { uv_loop_init(&loop); }
    ~Loop() { uv_loop_close(&loop); }
    uv_loop_t loop;
  };

  uint64_t now_ms() { return uv_now(&loop_.loop); }
  Handled handle(const Received& r) override;
  void deliver(const upstream::Waiter& w, const uint8_t* data, size_t len) override;
  void question_done() override;
  // Sends what the upstream sockets and the listeners have batched.
  void flush_batches();
  // Hands a TCP answer to the worker that owns the connection.
  void post_tcp_answer(uint64_t connection, std::vector<uint8_t> answer);
  void take_mail();
  void begin_stop();
  void finish_stop_if_idle();

  Shared& shared_;
  int index_;
  Counters counters_;
  Pipeline pipeline_;
  QueryLogger log_;
  Loop loop_;
  Forwarder forwarder_;
  TcpServer tcp_;
  std::vector<std::unique_ptr<UdpListener>> udp_;
  uv_async_t stop_async_;
  uv_check_t flush_check_;
  uv_prepare_t flush_prepare_;
  uv_async_t mail_async_;
  std::mutex mail_mu_;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> mail_;
  bool mail_open_ = true;
  ListenSockets sockets_;
  bool stopping_ = false;
};

}  // namespace hush::net

// The running server as other threads see it (/metrics, the dashboard): the
// Runtime that web/ reads, plus what the main loop changes on SIGHUP, on a
// dashboard rebuild request and when a blocking pause ends. The DNS workers
// never touch its locks: they read only what it publishes.
#pragma once

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "alerts/dispatcher.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "net/worker.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline/policy_store.hpp"
#include "runtime/runtime.hpp"

namespace hush {

// The blocking settings of blocking.* (mode, answers, TTL, on/off).
BlockSettings block_settings(const Config& cfg);

class ServerRuntime final : public Runtime {
 public:
  // Construct on the main thread (it is the one woken for rebuilds); the
  // workers, cache, policy store and block store must outlive it.
  ServerRuntime(const Config& cfg, const std::vector<std::unique_ptr<net::Worker>>& workers,
                const cache::Cache& cache, PolicyStore& policies, Published<BlockSettings>& block_store,
                std::string version);

  // Builds the policy for `cfg` through policy::build_policy aside and
  // publishes it; false (logged) keeps the policy in force. Main thread only.
  bool rebuild_policy(const Config& cfg);
  // rebuild_policy() with the reason logged first and a failure logged after.
  void rebuild_because(const Config& cfg, const char* why);
  // When the controls in the policy in force next change by themselves
  // (a timed exception or pause ends, a schedule's window opens or closes),
  // unix seconds; 0: none does.
  int64_t next_edge() const;
  // Main thread: at or after next_edge(), rebuilds and publishes the policy
  // without what ended; true if it did. The only clock the controls have.
  bool tick_controls(const Config& cfg, int64_t now_s);
  // The start-up build's lists and when its controls next change.
  void set_lists(std::vector<metrics::ListInfo> lists, int64_t next_edge);
  // A SIGHUP reload begins, and ends well or not (main thread).
  void reload_began();
  void count_reload(bool ok);
  // Main thread: new blocking.* settings after SIGHUP (a pause stays), and
  // the end of a timed pause.
  void set_block_base(const BlockSettings& b);
  void tick_blocking();
  // Main thread: rebuilds once for every request made so far; true if it did.
  bool serve_rebuild_requests(const Config& cfg);

  // Set by whoever runs the query log, before the HTTP server starts: how
  // many records it had to drop (queue full, database unwritable), and how
  // many new addresses went past querylog.max_devices.
  std::function<metrics::Snapshot::QueryLog()> querylog_counts;
  // Set when dnstap export is on: answers sent and dropped.
  std::function<metrics::Snapshot::Dnstap()> dnstap_counts;
  // Set by whoever runs the query log: the neighbour table it last read.
  std::function<std::vector<clients::Neighbour>()> read_neighbours;
  // Set when [export] is on: lines written and dropped.
  std::function<metrics::Snapshot::Export()> export_counts;
  // Set on a replica: its place in the primary's settings.
  std::function<SyncState()> sync;
  // Set when [[alerts.sink]] names a sink (at the start or a SIGHUP's): the
  // dispatcher, for /metrics and the dashboard.
  std::atomic<const alerts::Dispatcher*> alerts{nullptr};
  // Set once the memory budget is in place: where memory goes, given what
  // the lists take.
  std::function<metrics::Snapshot::Memory(size_t lists_bytes)> memory;
  // What the blocking policy in force takes.
  size_t lists_bytes() const;

  void totals(Counters& out) const override;
  std::string metrics_text() const override;
  Blocking blocking() const override;
  void set_blocking(bool enabled, int64_t seconds) const override;
  bool request_policy_rebuild(std::chrono::milliseconds timeout) const override;
  size_t blocked_names() const override;
  std::vector<metrics::ListInfo> lists() const override;
  std::vector<clients::Neighbour> neighbours() const override {
    return read_neighbours ? read_neighbours() : std::vector<clients::Neighbour>{};
  }
  bool request_reload(std::chrono::milliseconds timeout) const override;
  bool can_restart(std::string& why) const override;
  void request_restart() const override;
  Probe probe_upstream(const std::string& server, const std::string& name,
                       std::chrono::milliseconds timeout) const override;
  // Whether the main loop ended for request_restart().
  bool restart_requested() const { return restart_; }
  SyncState sync_state() const override { return sync ? sync() : SyncState{}; }
  std::vector<alerts::SinkStatus> alert_sinks() const override;
  std::vector<Schedule> config_schedules() const override;

 private:
  // Publishes block_base_ with the override applied. With block_mu_ held.
  void publish_blocking() const;

  const std::vector<std::unique_ptr<net::Worker>>& workers_;
  const cache::Cache& cache_;
  PolicyStore& policies_;
  std::vector<std::string> upstreams_;
  std::string version_;
  int64_t started_;
  pthread_t main_thread_ = pthread_self();

  mutable std::mutex mu_;  // guards what the main thread changes on SIGHUP
  std::vector<metrics::ListInfo> lists_;
  int64_t loaded_ = 0;
  int64_t next_edge_ = 0;
  std::vector<Schedule> config_schedules_;  // as the last policy build took them
  uint64_t reloads_ok_ = 0, reloads_failed_ = 0, reloads_begun_ = 0;
  bool last_reload_ok_ = false;
  mutable std::condition_variable reload_cv_;  // with mu_: a reload was counted
  mutable std::atomic<bool> restart_{false};
  // Every address hush listens on (DNS, DNS over TLS, HTTP): a restart
  // binds them again.
  std::vector<sockaddr_storage> bound_;

  mutable std::mutex rebuild_mu_;
  mutable std::condition_variable rebuild_cv_;
  mutable uint64_t rebuild_asked_ = 0, rebuild_done_ = 0;
  mutable bool rebuild_ok_ = false;

  mutable std::mutex block_mu_;
  Published<BlockSettings>& block_store_;
  BlockSettings block_base_;
  mutable std::optional<bool> block_override_;
  mutable int64_t block_until_ = 0;
};

}  // namespace hush

// The log writer: one thread that takes records from the workers' rings and
// writes them to SQLite, one transaction per batch, at least once per
// commit interval, and the per-day totals each second up to once a minute
// (see kAggregateKeysPerSecond). It also
// prunes expired rows in small steps and refreshes the client directory. Nothing here ever makes a DNS worker wait: when the
// database cannot be written (read-only, disk full, damaged) the writer keeps
// emptying the rings, drops and counts what it cannot store, says so at most
// once a minute, and retries.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.hpp"
#include "clients/directory.hpp"
#include "clients/ptr.hpp"
#include "base/log.hpp"
#include "querylog/options.hpp"
#include "querylog/queue.hpp"
#include "querylog/store.hpp"

namespace hush::querylog {

struct WriterHooks {
  // Wall clock in microseconds; tests move it by hand.
  std::function<int64_t()> now_us = hush::now_us;
  // Where messages go; hush::log by default.
  std::function<void(log::Level, const std::string&)> message;
  // Builds the client directory; empty = every address is its own device.
  std::function<clients::Inputs()> read_clients;
};

class Writer {
 public:
  Writer(Options opt, LogQueue& queue, WriterHooks hooks = {});
  ~Writer();  // stop()
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Starts the thread, which opens the database itself: a slow or failing
  // open never holds up the caller.
  void start();
  // Writes what is queued, then stops the thread. Safe to call twice.
  void stop();

  // One round of the thread's loop at time `now`: drain, maybe write, maybe
  // prune, maybe refresh clients. Public so tests run it without a thread;
  // never call it while the thread runs.
  // Returns how many records it took from the queue.
  size_t step(int64_t now, bool flush = false);

  struct Stats {
    uint64_t written = 0;          // rows committed
    uint64_t dropped_queue = 0;    // rings full
    uint64_t dropped_storage = 0;  // drained while the database could not be written
    uint64_t hidden = 0;           // skipped by the privacy patterns
    uint64_t over_device_cap = 0;  // new addresses past max_devices
    uint64_t batches = 0;
    uint64_t aggregate_flushes = 0;  // per-day totals written (a device's first contact with a name among them)
    bool paused = false;
    size_t memory_bytes = 0;       // the in-memory tables and the batch (Store::memory_bytes)
    uint64_t spilled_batches = 0;  // batches whose per-day totals skipped memory
    uint64_t name_resets = 0;      // name-id tables over their share, started over
  };
  Stats stats() const;  // thread-safe

  // For reverse lookups (clients::PtrLookups), thread-safe: addresses worth
  // a lookup now, and the names that came back. A name found reaches the
  // device's row with its next logged query.
  std::vector<std::string> ptr_due(int64_t now_s);

  // The memory share (Store::set_memory_limit), taken up by the thread at
  // its next round; batches are then kept to a third of `table_bytes`.
  // Thread-safe.
  void set_memory_limit(size_t table_bytes, size_t sqlite_cache_bytes);
  void ptr_answered(const std::string& ip, const std::string& name);
  // The neighbour table read with the last client refresh. Thread-safe.
  std::vector<clients::Neighbour> neighbours() const;

 private:
  void say(log::Level l, const std::string& text);
  bool ensure_open(int64_t now);
  void refresh_clients(int64_t now);
  void storage_failed(const sqlite::Error& e, int64_t now);
  void damaged(const sqlite::Error& e, int64_t now);
  void apply_memory_limit();

  Options opt_;
  LogQueue& queue_;
  WriterHooks hooks_;
  Store store_;
  Batch batch_;
  size_t max_batch_;
  std::atomic<size_t> table_limit_{0}, sqlite_limit_{0};
  std::atomic<bool> limit_changed_{false};
  std::shared_ptr<const clients::Directory> clients_;
  mutable std::mutex neighbours_mu_;
  std::vector<clients::Neighbour> neighbours_;

  int64_t last_commit_ = 0;
  int64_t next_open_ = 0;
  int64_t next_prune_ = 0;
  int64_t next_clients_ = 0;
  int64_t last_pause_message_ = INT64_MIN / 2;
  int64_t last_drop_message_ = INT64_MIN / 2;
  int64_t last_aggregates_ = 0;
  uint64_t drops_reported_ = 0;          // queue drops already mentioned in a message
  StatusTotals queue_drops_stored_{};    // queue drops already in the database
  uint64_t storage_drops_stored_ = 0;    // storage drops already in the database's count
  bool paused_ = false;
  std::string pause_reason_;

  std::atomic<uint64_t> written_{0}, dropped_storage_{0}, hidden_{0}, batches_{0}, over_device_cap_{0};
  std::atomic<size_t> memory_bytes_{0};
  std::atomic<uint64_t> spilled_batches_{0}, name_resets_{0}, aggregate_flushes_{0};
  std::atomic<bool> paused_flag_{false};

  std::mutex ptr_mu_;
  clients::ptr::PtrCache ptr_;
  // Addresses with no name from hosts or DHCP: the directory's own, and
  // clients the log met.
  std::set<std::string> unnamed_;
  bool ptr_changed_ = false;

  std::mutex run_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hush::querylog

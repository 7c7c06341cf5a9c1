// Alerts from anywhere in the server to the configured sinks, on one
// thread of their own, so a slow or dead sink never holds up DNS: post()
// puts an event into a bounded queue (a full queue drops and counts it) and
// returns; the thread de-duplicates, hands each event to the outboxes of
// the sinks that want it and sends what is due, one delivery at a time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "alerts/event.hpp"
#include "alerts/outbox.hpp"

namespace hush::alerts {

class Dispatcher {
 public:
  // "" when delivered, else why not.
  using Send = std::function<std::string(const SinkSettings&, const Message&)>;
  struct Hooks {
    Send send;                       // default: deliver() with Limits::timeout_s
    std::function<int64_t()> now_ms;  // default: the wall clock
  };
  Dispatcher(std::vector<SinkSettings> sinks, Limits limits = {}, Hooks hooks = {});
  ~Dispatcher();  // stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  // Ends the thread and any delivery under way.
  void stop();

  // Thread-safe, never waits on a delivery. False when the queue was full.
  bool post(Event e);
  // Whether any sink wants events of this kind (detectors skip work otherwise).
  bool wanted(Kind k) const;

  // New sinks (SIGHUP): the thread takes them at its next round. A sink
  // whose settings did not change keeps its waiting messages, retries and
  // counts; a changed or new one starts afresh, and what waited for a sink
  // that is gone is dropped. False when the sinks are the ones in force.
  bool set_sinks(std::vector<SinkSettings> sinks);

  // One round without the thread (tests): takes the queue, sends what is due.
  // Returns when the next round is due (unix ms; INT64_MAX: nothing waits).
  int64_t step();

  struct Counts {
    uint64_t posted = 0, dropped = 0, duplicates = 0, sent = 0, failed = 0;
  };
  Counts counts() const;
  std::vector<SinkStatus> status() const;

 private:
  // The thread takes sinks set_sinks() left in pending_sinks_.
  void take_new_sinks();
  static uint32_t wanted_bits(const std::vector<SinkSettings>& sinks);

  Limits limits_;
  Hooks hooks_;
  std::vector<Outbox> outboxes_;  // the thread's; status copies under mu_
  std::vector<SinkSettings> sinks_;  // the latest set_sinks(), under mu_
  std::optional<std::vector<SinkSettings>> pending_sinks_;  // under mu_
  std::atomic<uint32_t> wanted_{0};  // a bit per Kind some sink wants
  Dedupe dedupe_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Event> queue_;
  std::vector<SinkStatus> status_;
  bool stopping_ = false;
  std::atomic<bool> stop_delivery_{false};
  std::atomic<uint64_t> posted_{0}, dropped_{0}, duplicates_{0};
  std::thread thread_;
};

}  // namespace hush::alerts

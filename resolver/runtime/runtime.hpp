// The running server as the dashboard and /metrics see it: a small interface
// declared below web/, implemented by app/ (server_runtime.hpp), so web/ needs no part
// of the server to run.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "alerts/event.hpp"
#include "metrics/counters.hpp"
#include "metrics/metrics.hpp"

namespace hush {

// What the running server shows to readers on other threads (the HTTP
// server's /metrics now, the dashboard later). Thread-safe; valid from the
// start_http hook until the object that hook returned is destroyed.
class Runtime {
 public:
  virtual ~Runtime() = default;
  // Every counter summed over the workers (a moment's snapshot).
  virtual void totals(Counters& out) const = 0;
  // The Prometheus text exposition of the counters, lists and upstreams.
  virtual std::string metrics_text() const = 0;

  // The blocking switch (the dashboard's on/off with a timer).
  struct Blocking {
    bool enabled = true;
    int64_t until_unix = 0;  // when a timed pause ends; 0: no timer
  };
  virtual Blocking blocking() const = 0;
  // Turns blocking on, or off for `seconds` (0: until turned on again);
  // published to the workers at once. Kept over SIGHUP, not over a restart.
  virtual void set_blocking(bool enabled, int64_t seconds) const = 0;
  // Asks the main thread to rebuild the policy from every input
  // (policy/inputs.hpp reads them again) and publish it, and waits up to
  // `timeout` for that. True when a rebuild begun after the call succeeded.
  virtual bool request_policy_rebuild(std::chrono::milliseconds timeout) const = 0;
  // Names in the policy in force, and the configured lists it was built from.
  virtual size_t blocked_names() const = 0;
  virtual std::vector<metrics::ListInfo> lists() const = 0;
  // The alert sinks and how their last deliveries went; none without [[alerts.sink]].
  virtual std::vector<alerts::SinkStatus> alert_sinks() const { return {}; }
};

}  // namespace hush

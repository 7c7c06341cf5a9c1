// The running server as the dashboard and /metrics see it: a small interface
// declared below web/, implemented by app/ (server_runtime.hpp), so web/ needs no part
// of the server to run.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "alerts/event.hpp"
#include "config/schedule.hpp"
#include "clients/sources.hpp"
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
  // The kernel's neighbour table as the query log last read it (devices
  // present on the network now); empty without a query log.
  virtual std::vector<clients::Neighbour> neighbours() const = 0;

  // Asks the main thread to do what SIGHUP does (read the configuration
  // file again, take over its live keys, rebuild the lists) and waits up to
  // `timeout`. True when a reload begun after the call ended well.
  virtual bool request_reload(std::chrono::milliseconds) const { return false; }
  // Whether request_restart() can bring the server back by itself; when
  // not, `why` says what the user has to do instead.
  virtual bool can_restart(std::string& why) const {
    why = "this server cannot restart itself";
    return false;
  }
  // Stops gracefully (queries in flight are answered) and starts again with
  // the same command line, reading the configuration anew. Returns at once.
  virtual void request_restart() const {}

  // One query for `name` (type A) sent straight to upstream `server` (any
  // form upstream.servers takes), bypassing the cache and the lists.
  struct Probe {
    bool ok = false;
    std::string rcode;                 // "NOERROR", "NXDOMAIN"...
    std::vector<std::string> answers;  // the answer section, one record a line
    double latency_ms = 0;
    std::string error;                 // why there was no answer
  };
  virtual Probe probe_upstream(const std::string& server, const std::string& name,
                               std::chrono::milliseconds timeout) const {
    (void)server, (void)name, (void)timeout;
    Probe p;
    p.error = "not available";
    return p;
  }

  // A replica's place in its primary's settings (sync/follower.hpp); an
  // empty primary when this hush follows nobody.
  struct SyncState {
    std::string primary;
    uint64_t version = 0;
    int64_t applied_unix = 0, heard_unix = 0;
    std::string error;
    std::string needs_restart;  // configuration keys from the primary that wait for a restart
  };
  virtual SyncState sync_state() const { return {}; }
  // The alert sinks and how their last deliveries went; none without [[alerts.sink]].
  virtual std::vector<alerts::SinkStatus> alert_sinks() const { return {}; }
  // The configuration file's [[schedule]] tables in force (read-only: the
  // dashboard shows them and refuses to remove them).
  virtual std::vector<Schedule> config_schedules() const { return {}; }
};

}  // namespace hush

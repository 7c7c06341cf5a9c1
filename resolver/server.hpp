// Running the resolver: sockets, workers and their threads, and signals.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "counters.hpp"
#include "metrics.hpp"
#include "hush/blocklists/policy.h"

namespace hush {

// Builds the blocking policy from the configuration, logging each list's
// counts and problems. With `persist` the compiled lists are kept in the data
// directory, so the next start maps them instead of parsing. Returns null
// only when the build itself failed.
// `lists`, when given, receives each list's counts and file time (/metrics).
std::shared_ptr<const blocklists::Policy> build_policy(const Config& cfg, bool persist,
                                                       std::vector<metrics::ListInfo>* lists = nullptr);

// Client rules for the devices that `hush clients group` (or the dashboard)
// put in groups: one rule per address each was seen with. Empty when the
// query log does not exist yet.
std::vector<blocklists::ClientRule> device_group_rules(const std::string& data_dir);

// Builds the local records and names, logging every problem with its line.
std::shared_ptr<const local::Data> build_local(const Config& cfg);

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
  // Asks the main thread to rebuild the policy (configuration, subscribed
  // lists and ServeHooks::policy_extras) and publish it, and waits up to
  // `timeout` for that. True when a rebuild begun after the call succeeded.
  virtual bool request_policy_rebuild(std::chrono::milliseconds timeout) const = 0;
  // Names in the policy in force, and the configured lists it was built from.
  virtual size_t blocked_names() const = 0;
  virtual std::vector<metrics::ListInfo> lists() const = 0;
};

struct ServeHooks {
  // SIGHUP: reads the configuration again (the file, then the command-line
  // flags over it) into a fresh Config, resolved. False with `errors` when it
  // has problems; the settings in force then stay. Empty: SIGHUP reloads the
  // lists from the startup configuration only.
  std::function<bool(Config&, std::vector<std::string>& errors)> reload;
  // Starts what serves the Runtime to others (the HTTP server), after the
  // sockets are open, privileges are dropped and the workers run. What it
  // returns is destroyed before the workers stop. May return null.
  std::function<std::shared_ptr<void>(const Runtime&, const Config&)> start_http;
  // Adds what is kept outside the configuration file (the dashboard's
  // allow/deny entries, device groups) to a copy of the configuration before
  // every policy build. May be empty; must be thread-safe.
  std::function<void(Config&)> policy_extras;
  std::string version;  // for hush_build_info
};

// Serves until SIGINT or SIGTERM. Returns the process exit code: 0 after a
// clean stop, 1 when it could not start (the reason is logged).
//
// Started as root, it opens its sockets and data directory and then runs as
// server.user (see privileges.hpp). SIGHUP re-reads the configuration through
// hooks.reload: lists, allow/deny, clients, blocking.* and log_level take
// effect without dropping a query; other changed keys are logged as needing a
// restart.
int serve(const Config& cfg, const ServeHooks& hooks = {});

}  // namespace hush

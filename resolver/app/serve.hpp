// `hush serve`: sockets, workers and their threads, the main loop and signals.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "runtime/runtime.hpp"

namespace hush {

struct ServeHooks {
  // SIGHUP: reads the configuration again (the file, then the command-line
  // flags over it) into a fresh Config, resolved. False with `errors` when it
  // has problems; the settings in force then stay. Empty: SIGHUP reloads the
  // lists from the startup configuration only.
  std::function<bool(Config&, std::vector<std::string>& errors)> reload;
  // At start, after privileges are dropped and the data directory is set
  // up, before the first policy build: what the configuration needs from
  // the data directory (the [[schedule]] tables' devices). May be empty.
  std::function<void(Config&)> prepare;
  // Starts what serves the Runtime to others (the HTTP server), after the
  // sockets are open, privileges are dropped and the workers run. What it
  // returns is destroyed before the workers stop. May return null.
  std::function<std::shared_ptr<void>(const Runtime&, const Config&)> start_http;
  std::string version;  // for hush_build_info
};

// What serve() returns after the dashboard asked for a restart: the caller
// execs the same command line (main.cpp), so the process keeps its id, its
// capabilities and its place under systemd.
constexpr int kServeRestart = -2;

// Serves until SIGINT or SIGTERM. Returns the process exit code: 0 after a
// clean stop, 1 when it could not start (the reason is logged), or
// kServeRestart.
//
// Started as root, it opens its sockets and data directory and then runs as
// server.user (see privileges.hpp). SIGHUP re-reads the configuration through
// hooks.reload: lists, allow/deny, clients, blocking.* and log_level take
// effect without dropping a query; other changed keys are logged as needing a
// restart.
int serve(const Config& cfg, const ServeHooks& hooks = {});

}  // namespace hush

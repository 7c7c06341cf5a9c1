// Running the resolver: sockets, workers and their threads, and signals.
#pragma once

#include <memory>

#include "config.hpp"
#include "hush/blocklists/policy.h"

namespace hush {

// Builds the blocking policy from the configuration, logging each list's
// counts and problems. With `persist` the compiled lists are kept in the data
// directory, so the next start maps them instead of parsing. Returns null
// only when the build itself failed.
std::shared_ptr<const blocklists::Policy> build_policy(const Config& cfg, bool persist);

// Serves until SIGINT or SIGTERM. Returns the process exit code: 0 after a
// clean stop, 1 when it could not start (the reason is logged).
int serve(const Config& cfg);

}  // namespace hush

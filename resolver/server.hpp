// Running the resolver: sockets, workers and their threads, and signals.
#pragma once

#include "config.hpp"

namespace hush {

// Serves until SIGINT or SIGTERM. Returns the process exit code: 0 after a
// clean stop, 1 when it could not start (the reason is logged).
int serve(const Config& cfg);

}  // namespace hush

// "Test this upstream" on the dashboard: one question sent straight to a
// server, outside the workers, the cache and the lists, so the answer says
// what that server does and nothing else.
#pragma once

#include <chrono>
#include <string>

#include "runtime/runtime.hpp"

namespace hush {

// Asks `server` (written as in upstream.servers) for `name`'s A records.
// Plain DNS over UDP (TCP when the answer is truncated, or for tcp://);
// tls:// and https:// servers are refused with a reason. Never longer than
// `timeout`.
Runtime::Probe probe_upstream(const std::string& server, const std::string& name, std::chrono::milliseconds timeout);

}  // namespace hush

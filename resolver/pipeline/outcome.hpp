// What became of a query, in the pipeline's words, and how the query log
// files each outcome, so the log, the dashboard and `hush query` agree.
#pragma once

#include <cstdint>
#include <optional>

#include "querylog/record.hpp"

namespace hush {

// NotAllowed: refused or dropped because the client's network is outside
// access.allow. Such clients are strangers, so they are never logged (a
// spoofed source address would otherwise add a device). Stale: an expired
// cache entry served because the upstreams failed or were slow (RFC 8767);
// the query log files it as cached, with its own reason.
enum class Outcome : uint8_t { None, Cached, Forwarded, Blocked, Local, Refused, NotAllowed, Error, Dropped, Stale };

const char* to_string(Outcome o);

// The query log's status for an outcome; nothing for a query that got no
// answer to log (None, Dropped) or came from outside the allowed networks.
std::optional<querylog::Status> log_status(Outcome o);

}  // namespace hush

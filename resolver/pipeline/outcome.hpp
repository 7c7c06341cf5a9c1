// What became of a query, in the pipeline's words, and how the query log
// files each outcome, so the log, the dashboard and `hush query` agree.
#pragma once

#include <cstdint>
#include <optional>

#include "querylog/record.hpp"

namespace hush {

enum class Outcome : uint8_t { None, Cached, Forwarded, Blocked, Local, Refused, Error, Dropped };

const char* to_string(Outcome o);

// The query log's status for an outcome; nothing for a query that got no
// answer to log (None, Dropped).
std::optional<querylog::Status> log_status(Outcome o);

}  // namespace hush

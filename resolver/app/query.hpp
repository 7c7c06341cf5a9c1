// `hush query NAME`: what `hush serve` would answer, and which stage decided.
#pragma once

#include <ostream>
#include <string>

#include "config/config.hpp"

namespace hush {

struct QueryRequest {
  std::string name;
  std::string client;  // the asking address; "" = 127.0.0.1
  std::string type = "A";
};

// Builds the policy and the local names from the same inputs as `hush serve`
// (policy/inputs.hpp: lists, subscriptions, the dashboard's entries, device
// groups, local records), runs the server's Pipeline on a query for the name
// from the client's address and prints one line: the verdict, why, and the
// stage that gave it. The server's cache is its own memory, so a name it
// would answer from the cache shows as forwarded upstream. `cfg` must be
// resolved. Returns 0; 1 when the policy cannot be built; 2 for a bad type,
// name or address (said on `err`).
int run_query(const Config& cfg, const QueryRequest& q, std::ostream& out, std::ostream& err);

}  // namespace hush

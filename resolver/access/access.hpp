// Who may ask: the networks hush answers, and a per-client query budget.
// A home resolver must never become an open resolver or an amplifier, so by
// default only loopback, private and link-local clients are answered.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hush/blocklists/client_table.h"

namespace hush {

struct AccessSettings {
  std::vector<blocklists::Cidr> allow;
  bool drop_refused = false;       // send nothing instead of REFUSED
  uint32_t rate_limit = 1000;      // queries per client per window; 0 = no limit
  uint32_t rate_window_s = 60;
  bool limit_loopback = false;     // loopback clients (benchmarks, local tools) are exempt unless set
};

// Parses CIDR texts; appends "what: 'text' is not ..." to `errors` for bad ones.
std::vector<blocklists::Cidr> parse_networks(const std::vector<std::string>& texts,
                                             const char* what, std::vector<std::string>& errors);

const std::vector<std::string>& default_allowed_networks();

// Counts queries per client address in fixed windows. Shared by all workers:
// a fixed table of atomic slots indexed by a hash of the address, so counting
// takes no lock and no allocation. Two clients hashing to one slot share a
// budget until one of them goes quiet, which errs towards answering.
class RateLimiter {
 public:
  explicit RateLimiter(size_t slots = 1 << 16);
  // True when this query is over the client's budget for the current window.
  bool over(const sockaddr* client, uint32_t limit, uint32_t window_s, uint64_t now_ms);

 private:
  struct Slot {
    std::atomic<uint64_t> key{0};
    std::atomic<uint64_t> window{0};
    std::atomic<uint32_t> count{0};
  };
  std::unique_ptr<Slot[]> slots_;
  size_t mask_;
};

bool is_loopback(const sockaddr* sa);

}  // namespace hush

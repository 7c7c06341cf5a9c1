// When the health events are true. "All upstreams failing", from the servers' running answer and
// failure totals sampled now and then: no answer from any server and at
// least one failure since the last sample, for `hold_ms` on end. A single
// lost packet is no alert; an hour without answers is one, once.
#pragma once

#include <cstdint>
#include <vector>

namespace hush::alerts {

class UpstreamHealth {
 public:
  explicit UpstreamHealth(int64_t hold_ms = 30000) : hold_ms_(hold_ms) {}
  // Totals per server since the start (sampled now). Returns when the
  // failing spell began (unix ms) once it has lasted hold_ms, else 0.
  int64_t update(const std::vector<uint64_t>& answers, const std::vector<uint64_t>& failures, int64_t now_ms);

 private:
  int64_t hold_ms_;
  uint64_t answers_ = 0, failures_ = 0;
  bool sampled_ = false;
  int64_t failing_since_ = 0;
};

// "The disk filling up": true once as the free space falls below `min_mib`,
// and again only after it rose a tenth above that, so a disk at the line
// does not alert with every megabyte written and freed.
class DiskHealth {
 public:
  bool update(uint64_t free_mib, uint64_t min_mib);

 private:
  bool low_ = false;
};

// "A subscription failed to update for more than a day": its last attempt
// failed and its last good copy (or, never downloaded, its adding) is older
// than `limit_s`.
bool subscription_failing(bool last_failed, int64_t last_success, int64_t added, int64_t now_s,
                          int64_t limit_s = 86400);

}  // namespace hush::alerts

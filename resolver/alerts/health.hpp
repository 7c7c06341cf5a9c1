// When "all upstreams failing" is true, from the servers' running answer and
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

}  // namespace hush::alerts

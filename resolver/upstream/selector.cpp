#include "upstream/selector.hpp"

#include <algorithm>

namespace hush::upstream {

Selector::Selector(std::vector<Server> servers)
    : servers_(std::move(servers)), health_(servers_.size()) {}

void Selector::order(uint64_t now_ms, std::vector<uint8_t>& out) const {
  out.clear();
  for (size_t i = 0; i < servers_.size(); ++i) out.push_back(uint8_t(i));
  std::stable_sort(out.begin(), out.end(), [&](uint8_t a, uint8_t b) {
    bool down_a = health_[a].retry_after_ms > now_ms;
    bool down_b = health_[b].retry_after_ms > now_ms;
    if (down_a != down_b) return !down_a;
    return health_[a].srtt_ms < health_[b].srtt_ms;
  });
}

void Selector::success(size_t i, uint32_t rtt_ms) {
  Health& h = health_[i];
  // Exponential smoothing as in RFC 6298, weight 1/8 for the new sample.
  h.srtt_ms = h.srtt_ms == 0 ? rtt_ms : (h.srtt_ms * 7 + rtt_ms) / 8;
  h.failures = 0;
  h.retry_after_ms = 0;
}

void Selector::failure(size_t i, uint64_t now_ms) {
  Health& h = health_[i];
  h.failures = std::min<uint32_t>(h.failures + 1, 10);
  // Back off 1 s, 2 s, 4 s ... up to about a minute, then probe again.
  h.retry_after_ms = now_ms + (1000ull << std::min<uint32_t>(h.failures - 1, 6));
}

}  // namespace hush::upstream

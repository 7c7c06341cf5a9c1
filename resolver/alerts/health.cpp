#include "alerts/health.hpp"

#include <algorithm>
#include <numeric>

namespace hush::alerts {

int64_t UpstreamHealth::update(const std::vector<uint64_t>& answers, const std::vector<uint64_t>& failures,
                               int64_t now_ms) {
  uint64_t a = std::accumulate(answers.begin(), answers.end(), uint64_t(0));
  uint64_t f = std::accumulate(failures.begin(), failures.end(), uint64_t(0));
  if (sampled_) {
    if (a > answers_)
      failing_since_ = 0;
    else if (f > failures_ && failing_since_ == 0)
      failing_since_ = now_ms;
    // Neither: no traffic, so nothing new is known either way.
  }
  sampled_ = true;
  answers_ = a;
  failures_ = f;
  return failing_since_ && now_ms - failing_since_ >= hold_ms_ ? failing_since_ : 0;
}

bool DiskHealth::update(uint64_t free_mib, uint64_t min_mib) {
  if (low_ && free_mib > min_mib + min_mib / 10) low_ = false;
  if (low_ || free_mib >= min_mib) return false;
  low_ = true;
  return true;
}

bool subscription_failing(bool last_failed, int64_t last_success, int64_t added, int64_t now_s, int64_t limit_s) {
  return last_failed && now_s - std::max(last_success, added) >= limit_s;
}

}  // namespace hush::alerts

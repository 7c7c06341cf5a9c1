#include "base/clock.hpp"

#include <ctime>

namespace hush {

int64_t now_seconds() { return now_us() / 1000000; }

int64_t now_us() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace hush

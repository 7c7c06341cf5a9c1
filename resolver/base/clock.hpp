// Unix time now, from the real-time clock: what is stored, shown and
// compared with stored times. It can step (NTP, the administrator), so
// measure durations with std::chrono::steady_clock instead.
#pragma once

#include <cstdint>

namespace hush {

// Whole seconds since the epoch. Cannot fail.
int64_t now_seconds();

// Microseconds since the epoch. Cannot fail.
int64_t now_us();

}  // namespace hush

// Unix time now, from the real-time clock: what is stored, shown and
// compared with stored times. It can step (NTP, the administrator), so
// measure durations with std::chrono::steady_clock instead.
#pragma once

#include <cstdint>

namespace hush {

// Lengths of time in microseconds, the unit every stored time is in.
constexpr int64_t kSecondUs = 1000000;
constexpr int64_t kMinuteUs = 60 * kSecondUs;
constexpr int64_t kHourUs = 60 * kMinuteUs;
constexpr int64_t kDayUs = 24 * kHourUs;

// Whole seconds since the epoch. Cannot fail.
int64_t now_seconds();

// Microseconds since the epoch. Cannot fail.
int64_t now_us();

}  // namespace hush

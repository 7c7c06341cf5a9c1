// How the CLI's commands lay out what they print, and the exit codes they
// share, so `hush log` and `hush report` read alike.
#pragma once

#include <cstdint>
#include <string>

namespace hush::cli {

constexpr int kOk = 0, kFailed = 1, kUsage = 2;

// "2026-12-07 01:02:03" in local time ("-" for 0), with ".mmm" when
// `with_ms`, or without seconds when `with_seconds` is false.
std::string local_time(int64_t us, bool with_seconds = true, bool with_ms = false);
// "12.5%"; "0.0%" of nothing.
std::string percent(int64_t part, int64_t whole);
// `s` filled with spaces to `width` on the right (pad) or the left (lpad).
std::string pad(std::string s, size_t width);
std::string lpad(std::string s, size_t width);

}  // namespace hush::cli

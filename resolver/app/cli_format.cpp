#include "app/cli_format.hpp"

#include <cstdio>
#include <ctime>

namespace hush::cli {

std::string local_time(int64_t us, bool with_seconds, bool with_ms) {
  if (us <= 0) return "-";
  time_t secs = time_t(us / 1000000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, with_seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm);
  std::string s = buf;
  if (with_ms) {
    char ms[8];
    std::snprintf(ms, sizeof ms, ".%03d", int(us / 1000 % 1000));
    s += ms;
  }
  return s;
}

std::string percent(int64_t part, int64_t whole) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", whole ? 100.0 * double(part) / double(whole) : 0.0);
  return buf;
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string lpad(std::string s, size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

}  // namespace hush::cli

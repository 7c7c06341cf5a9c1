#include "base/log.hpp"

#include <unistd.h>

#include <atomic>
#include <string>

namespace hush::log {

namespace {
std::atomic<Level> g_level{Level::Info};
const char* prefix(Level l) {
  switch (l) {
    case Level::Debug: return "debug: ";
    case Level::Info: return "info: ";
    case Level::Warn: return "warning: ";
    case Level::Error: return "error: ";
  }
  return "";
}
}  // namespace

Level level_named(std::string_view name) {
  if (name == "debug") return Level::Debug;
  if (name == "warn") return Level::Warn;
  if (name == "error") return Level::Error;
  return Level::Info;
}

void set_level(Level l) { g_level = l; }

bool enabled(Level l) { return l >= g_level.load(std::memory_order_relaxed); }

void write(Level l, std::string_view line) {
  // One write(2) per line keeps lines from different threads whole.
  std::string out = std::string("hush ") + prefix(l);
  out.append(line);
  out.push_back('\n');
  ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
  (void)ignored;
}

}  // namespace hush::log

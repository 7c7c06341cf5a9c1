// One line per event on stderr (journald adds the time and unit), with a level.
#pragma once

#include <sstream>
#include <string_view>

namespace hush::log {

enum class Level { Debug, Info, Warn, Error };

// The level a configuration or flag names: "debug", "warn", "error"; anything
// else (config validation has rejected what is not "info") is Info.
Level level_named(std::string_view name);

void set_level(Level l);
bool enabled(Level l);
void write(Level l, std::string_view line);

template <class... A>
void emit(Level l, A&&... parts) {
  if (!enabled(l)) return;
  std::ostringstream s;
  (s << ... << parts);
  write(l, s.str());
}
template <class... A> void debug(A&&... a) { emit(Level::Debug, std::forward<A>(a)...); }
template <class... A> void info(A&&... a) { emit(Level::Info, std::forward<A>(a)...); }
template <class... A> void warn(A&&... a) { emit(Level::Warn, std::forward<A>(a)...); }
template <class... A> void error(A&&... a) { emit(Level::Error, std::forward<A>(a)...); }

}  // namespace hush::log

// The rules between an event and a sink, without threads or I/O, so tests
// move a fake clock through them: de-duplication, the rate limit that turns
// a burst into one digest, and retries with exponential back-off. Times are
// unix milliseconds passed in. Not thread-safe: the dispatcher's thread
// owns them.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "alerts/event.hpp"

namespace hush::alerts {

// The bounds, in docs/RELIABILITY.md. Tests shrink them.
struct Limits {
  size_t queue = 1024;           // events waiting for the dispatcher; more are dropped and counted
  size_t outbox = 256;           // events waiting per sink; more are dropped and counted
  size_t dedupe_keys = 10000;    // keys remembered; the oldest go first
  int64_t dedupe_window_ms = 24 * 3600 * 1000LL;  // a key is sent again after this
  unsigned burst = 5;            // messages a sink may get at once ...
  int64_t refill_ms = 60 * 1000;  // ... and one more per this
  size_t digest_lines = 20;      // events listed in a digest; the rest are counted
  unsigned retries = 6;          // after the first attempt
  int64_t backoff_first_ms = 5000;     // doubles per retry ...
  int64_t backoff_max_ms = 600 * 1000;  // ... up to this
  long timeout_s = 10;           // per delivery attempt
};

// Keys sent within the window.
class Dedupe {
 public:
  explicit Dedupe(const Limits& l) : limits_(l) {}
  // True the first time `key` comes within the window (and remembers it).
  bool first(const std::string& key, int64_t now_ms);
  size_t size() const { return seen_.size(); }

 private:
  Limits limits_;
  std::unordered_map<std::string, int64_t> seen_;
  std::deque<std::pair<std::string, int64_t>> order_;  // oldest first
};

// One delivery: a single event, or a digest of several.
struct Message {
  std::string title, text;
  std::vector<Event> events;
  size_t more = 0;  // events past Limits::digest_lines, counted only
  bool digest() const { return events.size() + more > 1; }
  int attempt = 0;  // 0: first
};

// A digest of `events` (the first digest_lines listed, the rest counted).
Message digest_of(std::vector<Event> events, const Limits& l);

class Outbox {
 public:
  Outbox(SinkSettings s, const Limits& l);
  const SinkSettings& settings() const { return settings_; }

  // Queues an event the sink wants; false (and counted) when full.
  bool add(Event e);
  // The message to send now, if one is due; the outbox then waits for
  // done() before it gives another. One event when the tokens cover all
  // waiting, else every waiting event in one digest.
  std::optional<Message> take(int64_t now_ms);
  // The outcome of the message take() gave: "" delivered, else why not.
  void done(const std::string& error, int64_t now_ms);
  // When take() may next give something (unix ms); INT64_MAX: nothing waits.
  int64_t next_due(int64_t now_ms) const;
  const SinkStatus& status() const { return status_; }

 private:
  void refill(int64_t now_ms);
  SinkSettings settings_;
  Limits limits_;
  std::deque<Event> waiting_;
  std::optional<Message> in_flight_, retry_;
  double tokens_;
  int64_t refilled_ms_ = 0;
  SinkStatus status_;
};

}  // namespace hush::alerts

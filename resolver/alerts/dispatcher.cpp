#include "alerts/dispatcher.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <climits>

#include "alerts/deliver.hpp"
#include "base/clock.hpp"
#include "base/log.hpp"

namespace hush::alerts {

Dispatcher::Dispatcher(std::vector<SinkSettings> sinks, Limits limits, Hooks hooks)
    : limits_(limits), hooks_(std::move(hooks)), dedupe_(limits) {
  if (!hooks_.send)
    hooks_.send = [this](const SinkSettings& s, const Message& m) {
      return deliver(s, m, limits_.timeout_s, &stop_delivery_);
    };
  if (!hooks_.now_ms) hooks_.now_ms = [] { return now_us() / 1000; };
  sinks_ = sinks;
  wanted_ = wanted_bits(sinks);
  for (SinkSettings& s : sinks) outboxes_.emplace_back(std::move(s), limits_);
  for (const Outbox& o : outboxes_) status_.push_back(o.status());
}

Dispatcher::~Dispatcher() { stop(); }

uint32_t Dispatcher::wanted_bits(const std::vector<SinkSettings>& sinks) {
  uint32_t bits = 0;
  for (const SinkSettings& s : sinks) {
    bits |= 1u << unsigned(Kind::Test);
    for (Kind k : kAllKinds)
      if (s.wants(k)) bits |= 1u << unsigned(k);
  }
  return bits;
}

bool Dispatcher::wanted(Kind k) const { return wanted_.load() & (1u << unsigned(k)); }

bool Dispatcher::set_sinks(std::vector<SinkSettings> sinks) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (sinks == sinks_) return false;
    sinks_ = sinks;
    wanted_ = wanted_bits(sinks);
    pending_sinks_ = std::move(sinks);
  }
  wake_.notify_one();
  return true;
}

void Dispatcher::take_new_sinks() {
  std::optional<std::vector<SinkSettings>> sinks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sinks.swap(pending_sinks_);
  }
  if (!sinks) return;
  std::vector<Outbox> next;
  for (SinkSettings& s : *sinks) {
    auto same = std::find_if(outboxes_.begin(), outboxes_.end(), [&](const Outbox& o) { return o.settings() == s; });
    if (same != outboxes_.end()) {
      next.push_back(std::move(*same));
      outboxes_.erase(same);
    } else {
      next.emplace_back(std::move(s), limits_);
    }
  }
  outboxes_ = std::move(next);
  std::lock_guard<std::mutex> lock(mu_);
  status_.clear();
  for (const Outbox& o : outboxes_) status_.push_back(o.status());
}

bool Dispatcher::post(Event e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= limits_.queue) {
      ++dropped_;
      return false;
    }
    queue_.push_back(std::move(e));
  }
  ++posted_;
  wake_.notify_one();
  return true;
}

int64_t Dispatcher::step() {
  take_new_sinks();
  std::vector<Event> events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events.swap(queue_);
  }
  int64_t now = hooks_.now_ms();
  for (Event& e : events) {
    if (!dedupe_.first(e.key, now)) {
      ++duplicates_;
      continue;
    }
    for (Outbox& o : outboxes_)
      if (o.settings().wants(e.kind)) o.add(e);
  }
  int64_t next = INT64_MAX;
  for (size_t i = 0; i < outboxes_.size(); ++i) {
    Outbox& o = outboxes_[i];
    while (std::optional<Message> m = o.take(now)) {
      std::string error = hooks_.send(o.settings(), *m);
      now = hooks_.now_ms();
      if (!error.empty())
        log::warn("alerts: ", o.settings().name, ": ", error,
                  m->attempt >= int(limits_.retries) ? "; giving up on this message" : "; will retry");
      o.done(error, now);
    }
    next = std::min(next, o.next_due(now));
    std::lock_guard<std::mutex> lock(mu_);
    status_[i] = o.status();
  }
  return next;
}

void Dispatcher::start() {
  if (outboxes_.empty()) return;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "hush-alerts");
    for (;;) {
      int64_t next = step();
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) break;
      // A clock step cannot make it sleep long: at most a minute per wait.
      int64_t wait = std::clamp<int64_t>(next == INT64_MAX ? 60000 : next - hooks_.now_ms(), 0, 60000);
      wake_.wait_for(lock, std::chrono::milliseconds(wait),
                     [this] { return stopping_ || !queue_.empty() || pending_sinks_.has_value(); });
      if (stopping_) break;
    }
  });
}

void Dispatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_delivery_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Dispatcher::Counts Dispatcher::counts() const {
  Counts c;
  c.posted = posted_.load();
  c.dropped = dropped_.load();
  c.duplicates = duplicates_.load();
  std::lock_guard<std::mutex> lock(mu_);
  for (const SinkStatus& s : status_) {
    c.sent += s.sent;
    c.failed += s.failed;
  }
  return c;
}

std::vector<SinkStatus> Dispatcher::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

}  // namespace hush::alerts

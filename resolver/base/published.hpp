// A value rebuilt aside and published in one step (the blocking policy, the
// local zone). Each worker keeps its own reference and only looks at the
// shared one when the generation number changed, so the hot path pays one
// atomic load instead of a shared_ptr copy per query.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace hush {

template <class T>
class Published {
 public:
  void publish(std::shared_ptr<const T> p) {
    std::lock_guard lock(mu_);
    current_ = std::move(p);
    generation_.fetch_add(1, std::memory_order_release);
  }
  std::shared_ptr<const T> current() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> current_;
  std::atomic<uint64_t> generation_{0};
};

// A worker's view: refresh() once per query, get() after that.
template <class T>
class PublishedView {
 public:
  explicit PublishedView(const Published<T>& store) : store_(store) {}
  const T* refresh() {
    uint64_t g = store_.generation();
    if (g != seen_) {
      held_ = store_.current();
      seen_ = g;
    }
    return held_.get();
  }
  const T* get() const { return held_.get(); }

 private:
  const Published<T>& store_;
  std::shared_ptr<const T> held_;
  uint64_t seen_ = ~uint64_t(0);
};

}  // namespace hush

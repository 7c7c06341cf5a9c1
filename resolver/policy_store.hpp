// The compiled blocking policy in force. Reloads build a new Policy aside and
// publish it here in one step; each worker keeps its own reference and only
// looks at the shared one when the generation number changed, so the hot
// path pays one relaxed atomic load instead of a shared_ptr copy per query.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "hush/blocklists/policy.h"

namespace hush {

class PolicyStore {
 public:
  void publish(std::shared_ptr<const blocklists::Policy> p) {
    std::lock_guard lock(mu_);
    current_ = std::move(p);
    generation_.fetch_add(1, std::memory_order_release);
  }
  std::shared_ptr<const blocklists::Policy> current() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const blocklists::Policy> current_;
  std::atomic<uint64_t> generation_{0};
};

// A worker's view of the store: refresh() once per batch of queries.
class PolicyView {
 public:
  explicit PolicyView(const PolicyStore& store) : store_(store) {}
  const blocklists::Policy* refresh() {
    uint64_t g = store_.generation();
    if (g != seen_) {
      held_ = store_.current();
      seen_ = g;
    }
    return held_.get();
  }
  const blocklists::Policy* get() const { return held_.get(); }

 private:
  const PolicyStore& store_;
  std::shared_ptr<const blocklists::Policy> held_;
  uint64_t seen_ = ~uint64_t(0);
};

}  // namespace hush

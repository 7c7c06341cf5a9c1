#include "upstream/inflight.hpp"

#include <algorithm>

namespace hush::upstream {

Pending* InflightTable::join(std::string_view key, const Waiter& w, bool* full) {
  *full = false;
  auto it = table_.find(key);
  if (it == table_.end()) return nullptr;
  if (it->second->waiters.size() >= kMaxWaiters) {
    *full = true;
    return it->second.get();
  }
  it->second->waiters.push_back(w);
  return it->second.get();
}

Pending& InflightTable::start(std::string key, Waiter&& w) {
  auto p = std::make_unique<Pending>();
  p->key = key;
  p->waiters.push_back(std::move(w));
  Pending& ref = *p;
  table_.emplace(std::move(key), std::move(p));
  return ref;
}

Pending* InflightTable::find(std::string_view key) {
  auto it = table_.find(key);
  return it == table_.end() ? nullptr : it->second.get();
}

std::vector<Waiter> InflightTable::finish(std::string_view key) {
  auto it = table_.find(key);
  if (it == table_.end()) return {};
  std::vector<Waiter> w = std::move(it->second->waiters);
  table_.erase(it);
  return w;
}

int SharedInflight::claim_or_join(std::string_view key, int worker, const Waiter& w) {
  std::lock_guard lock(mu_);
  auto it = claims_.find(key);
  if (it == claims_.end()) {
    claims_.emplace(std::string(key), Claim{worker, {}});
    return kClaimed;
  }
  if (it->second.waiters.size() >= InflightTable::kMaxWaiters) return kFull;
  it->second.waiters.push_back(w);
  return it->second.owner;
}

std::vector<Waiter> SharedInflight::release(std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = claims_.find(key);
  if (it == claims_.end()) return {};
  std::vector<Waiter> w = std::move(it->second.waiters);
  claims_.erase(it);
  return w;
}

std::vector<Waiter> SharedInflight::take_due(std::string_view key, int worker, uint64_t cutoff_ms) {
  std::lock_guard lock(mu_);
  auto it = claims_.find(key);
  if (it == claims_.end()) return {};
  std::vector<Waiter>& queued = it->second.waiters;
  std::vector<Waiter> due;
  auto keep = std::stable_partition(queued.begin(), queued.end(), [&](const Waiter& w) {
    return w.background || w.client.worker != worker || w.received_ms > cutoff_ms;
  });
  due.assign(std::make_move_iterator(keep), std::make_move_iterator(queued.end()));
  queued.erase(keep, queued.end());
  return due;
}

}  // namespace hush::upstream

#include "validate/keys.hpp"

namespace hush::validate {

Rrs own(ldns_rr_list* list) {
  return Rrs(list, [](const ldns_rr_list* l) { ldns_rr_list_deep_free(const_cast<ldns_rr_list*>(l)); });
}

std::optional<KeyItem> KeyCache::get(const std::string& key, int64_t now_s) const {
  std::lock_guard lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end() || it->second.expires_s <= now_s) return std::nullopt;
  return it->second;
}

void KeyCache::put(const std::string& key, KeyItem item, int64_t now_s) {
  std::lock_guard lock(mu_);
  auto it = items_.find(key);
  if (it != items_.end()) {
    it->second = std::move(item);
    return;
  }
  if (items_.size() >= max_) {
    for (auto e = items_.begin(); e != items_.end();) e = e->second.expires_s <= now_s ? items_.erase(e) : std::next(e);
    // The order list may name items already dropped above; skip those.
    while (items_.size() >= max_ && !order_.empty()) {
      items_.erase(order_.front());
      order_.pop_front();
    }
  }
  if (order_.size() > 2 * max_) {
    std::deque<std::string> live;
    for (const std::string& k : order_)
      if (items_.count(k)) live.push_back(k);
    order_.swap(live);
  }
  items_.emplace(key, std::move(item));
  order_.push_back(key);
}

void KeyCache::clear() {
  std::lock_guard lock(mu_);
  items_.clear();
  order_.clear();
}

size_t KeyCache::size() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

}  // namespace hush::validate

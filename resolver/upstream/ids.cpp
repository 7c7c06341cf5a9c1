#include "upstream/ids.hpp"

#include <algorithm>

namespace hush::upstream {

size_t IdTable::index_of(uint16_t id) const {
  return size_t(std::find(ids_.begin(), ids_.end(), id) - ids_.begin());
}

uint16_t IdTable::add(Pending* p, Random& random) {
  uint16_t id;
  do id = random.next16();
  while (index_of(id) != ids_.size());
  ids_.push_back(id);
  pending_.push_back(p);
  return id;
}

Pending* IdTable::find(uint16_t id) const {
  size_t i = index_of(id);
  return i == ids_.size() ? nullptr : pending_[i];
}

bool IdTable::remove(uint16_t id) {
  size_t i = index_of(id);
  if (i == ids_.size()) return false;
  ids_[i] = ids_.back();
  pending_[i] = pending_.back();
  ids_.pop_back();
  pending_.pop_back();
  return true;
}

std::vector<std::pair<uint16_t, Pending*>> IdTable::entries() const {
  std::vector<std::pair<uint16_t, Pending*>> out;
  out.reserve(ids_.size());
  for (size_t i = 0; i < ids_.size(); ++i) out.emplace_back(ids_[i], pending_[i]);
  return out;
}

}  // namespace hush::upstream

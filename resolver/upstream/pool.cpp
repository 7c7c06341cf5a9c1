#include "upstream/pool.hpp"

namespace hush::upstream {

Pool::Choice Pool::choose(Random& random, uint64_t now_ms) {
  if (round_slot_ != kNoSlot) {
    PooledSocket* s = slots_[round_slot_];
    if (s && !worn_out(*s, now_ms)) return {round_slot_, s};
  }
  round_slot_ = random.below(uint32_t(slots_.size()));
  PooledSocket* s = slots_[round_slot_];
  return {round_slot_, s && !worn_out(*s, now_ms) ? s : nullptr};
}

PooledSocket* Pool::replace(size_t slot, PooledSocket* fresh, uint64_t now_ms) {
  PooledSocket* old = slots_[slot];
  fresh->opened_ms = now_ms;
  fresh->queries = 0;
  fresh->retired = false;
  slots_[slot] = fresh;
  if (old) old->retired = true;
  return old;
}

bool Pool::retire_if_worn_out(PooledSocket& s, uint64_t now_ms) {
  if (!worn_out(s, now_ms)) return false;
  for (PooledSocket*& slot : slots_)
    if (slot == &s) slot = nullptr;
  s.retired = true;
  return true;
}

std::vector<PooledSocket*> Pool::take_all() {
  std::vector<PooledSocket*> out;
  for (PooledSocket*& s : slots_) {
    if (!s) continue;
    s->retired = true;
    out.push_back(s);
    s = nullptr;
  }
  return out;
}

}  // namespace hush::upstream

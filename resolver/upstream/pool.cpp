#include "upstream/pool.hpp"

namespace hush::upstream {

Pool::Choice Pool::choose(Random& random, uint64_t now_ms) const {
  size_t slot = random.below(uint32_t(slots_.size()));
  PooledSocket* s = slots_[slot];
  return {slot, s && !worn_out(*s, now_ms) ? s : nullptr};
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

#include "upstream/random.hpp"

#include <cstdlib>
#include <cstring>

namespace hush::upstream {

void Random::take(void* out, size_t n) {
  if (used_ + n > sizeof block_) {
    arc4random_buf(block_, sizeof block_);
    used_ = 0;
  }
  std::memcpy(out, block_ + used_, n);
  used_ += n;
}

uint16_t Random::next16() {
  uint16_t v;
  take(&v, sizeof v);
  return v;
}

uint32_t Random::next32() {
  uint32_t v;
  take(&v, sizeof v);
  return v;
}

uint32_t Random::below(uint32_t n) {
  // Rejection keeps every value equally likely (a plain modulo would favour
  // the low ones when n does not divide 2^32).
  uint32_t limit = UINT32_MAX - UINT32_MAX % n;
  uint32_t v;
  do v = next32();
  while (v >= limit);
  return v % n;
}

}  // namespace hush::upstream

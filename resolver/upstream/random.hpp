// Unpredictable numbers for upstream query IDs and for the socket a query
// leaves on. One per worker, so no locks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hush::upstream {

// Draws from the kernel's generator (arc4random_buf) a block at a time:
// glibc 2.36's arc4random() makes one getrandom() system call per number,
// which the miss profile showed at ~1 % of hush's CPU; one block serves 128
// IDs.
class Random {
 public:
  uint16_t next16();
  uint32_t next32();
  // Uniform in [0, n); n must not be 0.
  uint32_t below(uint32_t n);

 private:
  void take(void* out, size_t n);
  uint8_t block_[256];
  size_t used_ = sizeof block_;
};

}  // namespace hush::upstream

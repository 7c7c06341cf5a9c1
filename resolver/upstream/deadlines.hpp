// When each upstream attempt in flight gives up. Logic only: the network
// layer runs one timer for the first deadline instead of one per attempt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "upstream/inflight.hpp"

namespace hush::upstream {

// Every attempt waits the same time, so they fall due in the order they
// started: a list linked through the Pendings, appended at the back, gives
// add, remove and the next deadline in constant time and allocates nothing.
// (An attempt due earlier than the last one is still put in its place.)
class Deadlines {
 public:
  // Adds `p`, which must not be in the list, due at deadline_ms.
  void add(Pending& p, uint64_t deadline_ms);
  // Takes `p` out of the list if it is in it.
  void remove(Pending& p);
  // The attempt due first if it is due at now_ms, else nullptr.
  Pending* due(uint64_t now_ms) const;
  // When the first attempt falls due; nothing for an empty list.
  std::optional<uint64_t> next() const;
  size_t size() const { return size_; }

 private:
  Pending* head_ = nullptr;
  Pending* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace hush::upstream

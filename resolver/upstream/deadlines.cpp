#include "upstream/deadlines.hpp"

namespace hush::upstream {

void Deadlines::add(Pending& p, uint64_t deadline_ms) {
  p.deadline_ms = deadline_ms;
  p.has_deadline = true;
  Pending* after = tail_;
  while (after && after->deadline_ms > deadline_ms) after = after->deadline_prev;
  p.deadline_prev = after;
  p.deadline_next = after ? after->deadline_next : head_;
  (p.deadline_next ? p.deadline_next->deadline_prev : tail_) = &p;
  (after ? after->deadline_next : head_) = &p;
  ++size_;
}

void Deadlines::remove(Pending& p) {
  if (!p.has_deadline) return;
  (p.deadline_prev ? p.deadline_prev->deadline_next : head_) = p.deadline_next;
  (p.deadline_next ? p.deadline_next->deadline_prev : tail_) = p.deadline_prev;
  p.deadline_prev = p.deadline_next = nullptr;
  p.has_deadline = false;
  --size_;
}

Pending* Deadlines::due(uint64_t now_ms) const {
  return head_ && head_->deadline_ms <= now_ms ? head_ : nullptr;
}

std::optional<uint64_t> Deadlines::next() const {
  if (!head_) return std::nullopt;
  return head_->deadline_ms;
}

}  // namespace hush::upstream

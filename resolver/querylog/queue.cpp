#include "querylog/queue.hpp"

namespace hush::querylog {

RecordRing::RecordRing(size_t records) : records_(records < 1 ? 1 : records) {
  size_t b = 64;
  while (b < records_ * kBytesPerRecord) b <<= 1;
  mask_ = b - 1;
  // The slack past the end holds a record that starts near the end whole.
  buffer_.reset(new std::byte[b + sizeof(Record)]);
}

LogQueue::LogQueue(size_t workers, size_t capacity_per_worker) {
  for (size_t i = 0; i < workers; ++i) producers_.push_back(std::make_unique<Producer>(capacity_per_worker));
}

uint64_t Producer::dropped() const {
  uint64_t sum = 0;
  for (size_t i = 0; i < kStatusCount; ++i) sum += dropped(Status(i));
  return sum;
}

uint64_t LogQueue::dropped() const {
  uint64_t sum = 0;
  for (const auto& p : producers_) sum += p->dropped();
  return sum;
}

StatusTotals LogQueue::dropped_by_status() const {
  StatusTotals out{};
  for (const auto& p : producers_)
    for (size_t i = 0; i < kStatusCount; ++i) out[i] += p->dropped(Status(i));
  return out;
}

}  // namespace hush::querylog

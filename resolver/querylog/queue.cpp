#include "querylog/queue.hpp"

namespace hush::querylog {

LogQueue::LogQueue(size_t workers, size_t capacity_per_worker) {
  for (size_t i = 0; i < workers; ++i) producers_.push_back(std::make_unique<Producer>(capacity_per_worker));
}

uint64_t LogQueue::dropped() const {
  uint64_t sum = 0;
  for (const auto& p : producers_) sum += p->dropped();
  return sum;
}

}  // namespace hush::querylog

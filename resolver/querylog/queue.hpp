// The hand-over from DNS workers to the log writer: one single-producer,
// single-consumer ring per worker. The producer side never waits and never
// allocates; when a ring is full the record is dropped and counted, because
// an answer must never wait for the log.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "querylog/record.hpp"

namespace hush::querylog {

// Fixed-capacity SPSC ring of T. Head and tail live on their own cache lines,
// and the producer keeps a private copy of the tail, so a worker's common case
// touches no line the writer thread writes.
template <class T>
class SpscRing {
 public:
  // `capacity` is rounded up to a power of two.
  explicit SpscRing(size_t capacity) {
    size_t c = 2;
    while (c < capacity) c <<= 1;
    mask_ = c - 1;
    slots_.reset(new T[c]);
  }
  size_t capacity() const { return mask_ + 1; }

  // Producer: a slot to fill, or nullptr when full. Nothing is visible to
  // the consumer until publish().
  T* try_reserve() {
    size_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_cache_ > mask_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head - tail_cache_ > mask_) return nullptr;
    }
    return &slots_[head & mask_];
  }
  void publish() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  // Consumer: calls f(const T&) for up to `max` published entries, oldest
  // first, then frees their slots. Returns how many.
  template <class F>
  size_t drain(F&& f, size_t max) {
    size_t tail = tail_.load(std::memory_order_relaxed);
    size_t n = head_.load(std::memory_order_acquire) - tail;
    if (n > max) n = max;
    for (size_t i = 0; i < n; ++i) f(static_cast<const T&>(slots_[(tail + i) & mask_]));
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }

 private:
  alignas(64) std::atomic<size_t> head_{0};
  size_t tail_cache_ = 0;  // producer's view of tail_
  alignas(64) std::atomic<size_t> tail_{0};
  alignas(64) size_t mask_;
  std::unique_ptr<T[]> slots_;
};

// A worker's end of the queue. Only its worker calls log().
class Producer {
 public:
  explicit Producer(size_t capacity) : ring_(capacity) {}

  // Copies the query into the ring. Never blocks; returns false and counts a
  // drop, by status, when the ring is full.
  bool log(const Event& e) {
    Record* r = ring_.try_reserve();
    if (!r) {
      std::atomic<uint64_t>& d = dropped_[size_t(e.status) < kStatusCount ? size_t(e.status) : 0];
      d.store(d.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return false;
    }
    fill(*r, e);
    ring_.publish();
    return true;
  }
  uint64_t dropped() const;
  uint64_t dropped(Status s) const { return dropped_[size_t(s)].load(std::memory_order_relaxed); }

 private:
  friend class LogQueue;
  SpscRing<Record> ring_;
  alignas(64) std::atomic<uint64_t> dropped_[kStatusCount] = {};
};

using StatusTotals = std::array<uint64_t, kStatusCount>;

class LogQueue {
 public:
  // One ring of `capacity_per_worker` records for each of `workers` producers.
  LogQueue(size_t workers, size_t capacity_per_worker);

  Producer& producer(size_t worker) { return *producers_.at(worker); }
  size_t workers() const { return producers_.size(); }

  // Consumer (the writer thread only): hands up to `max` records to
  // f(const Record&), taking from every ring in turn. Returns how many.
  template <class F>
  size_t drain(F&& f, size_t max) {
    size_t total = 0;
    for (auto& p : producers_) {
      if (total == max) break;
      total += p->ring_.drain(f, max - total);
    }
    return total;
  }
  // Records dropped because a ring was full, over all workers.
  uint64_t dropped() const;
  StatusTotals dropped_by_status() const;

 private:
  std::vector<std::unique_ptr<Producer>> producers_;
};

}  // namespace hush::querylog

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
#include <new>
#include <type_traits>
#include <vector>

#include "querylog/record.hpp"

namespace hush::querylog {

// A single-producer, single-consumer ring of records, each taking only the
// bytes it uses (its head and texts, rounded up to 8): about 100 bytes for a
// usual query instead of the sizeof(Record) (504) a slot of every record's
// largest size took, so the ring a worker cycles through, and writes a cache
// line of for each query, is a quarter of the size for the same count.
// A record is filled in place and never split: the buffer has
// sizeof(Record) bytes beyond its end, so one that starts near the end runs
// on into them instead of wrapping (the positions it took from the next lap
// count as used until the consumer frees them).
// Counters live on their own cache lines, and the producer keeps private
// copies of the consumer's, so a worker's common case touches no line the
// writer thread writes.
class RecordRing {
 public:
  // At most `records` records, and at most records × kBytesPerRecord bytes
  // (rounded up to a power of two) of them.
  static constexpr size_t kBytesPerRecord = 128;
  explicit RecordRing(size_t records);
  size_t capacity() const { return records_; }
  size_t bytes() const { return mask_ + 1; }

  // Producer: room for a record of any size, or nullptr when the ring is
  // full. The consumer sees nothing until publish().
  Record* try_reserve() {
    size_t count = head_count_.load(std::memory_order_relaxed);
    size_t at = head_bytes_.load(std::memory_order_relaxed);
    if (count - tail_count_cache_ >= records_ || at + sizeof(Record) - tail_bytes_cache_ > bytes()) {
      tail_count_cache_ = tail_count_.load(std::memory_order_acquire);
      tail_bytes_cache_ = tail_bytes_.load(std::memory_order_acquire);
      if (count - tail_count_cache_ >= records_ || at + sizeof(Record) - tail_bytes_cache_ > bytes())
        return nullptr;
    }
    // A new object over whatever record was there before (both trivially
    // destructible); only its head's defaults are written.
    return new (buffer_.get() + (at & mask_)) Record;
  }
  // Makes the record try_reserve() gave visible, keeping only its used bytes.
  void publish(const Record& r) {
    head_bytes_.store(head_bytes_.load(std::memory_order_relaxed) + stride(r), std::memory_order_relaxed);
    head_count_.store(head_count_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  // Consumer: calls f(const Record&) for up to `max` published records,
  // oldest first, then frees their bytes. Only the head and the texts of a
  // record are there to read (Record::texts() reads no further). Returns how
  // many.
  template <class F>
  size_t drain(F&& f, size_t max) {
    size_t count = tail_count_.load(std::memory_order_relaxed);
    size_t at = tail_bytes_.load(std::memory_order_relaxed);
    size_t n = head_count_.load(std::memory_order_acquire) - count;
    if (n > max) n = max;
    for (size_t i = 0; i < n; ++i) {
      const Record& r = *std::launder(reinterpret_cast<const Record*>(buffer_.get() + (at & mask_)));
      f(r);
      at += stride(r);
    }
    tail_bytes_.store(at, std::memory_order_release);
    tail_count_.store(count + n, std::memory_order_release);
    return n;
  }

 private:
  // The bytes a record takes: up to the end of its texts, rounded up to 8.
  static size_t stride(const Record& r) {
    size_t head = size_t(reinterpret_cast<const std::byte*>(r.text) - reinterpret_cast<const std::byte*>(&r));
    return (head + r.text_bytes() + 7) & ~size_t(7);
  }

  alignas(64) std::atomic<size_t> head_count_{0};
  std::atomic<size_t> head_bytes_{0};  // written by the producer only; the consumer walks the records
  size_t tail_count_cache_ = 0;        // producer's view of the consumer's counters
  size_t tail_bytes_cache_ = 0;
  alignas(64) std::atomic<size_t> tail_count_{0};
  std::atomic<size_t> tail_bytes_{0};
  alignas(64) size_t records_;
  size_t mask_;
  std::unique_ptr<std::byte[]> buffer_;
};
static_assert(alignof(Record) <= 8, "records are placed at multiples of 8 bytes");
static_assert(std::is_trivially_destructible_v<Record>, "a record is overwritten in place, never destroyed");

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
    ring_.publish(*r);
    return true;
  }
  uint64_t dropped() const;
  uint64_t dropped(Status s) const { return dropped_[size_t(s)].load(std::memory_order_relaxed); }

 private:
  friend class LogQueue;
  RecordRing ring_;
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

// Growable array of trivially copyable values in its own anonymous mapping,
// for the list compiler's big temporaries and the name table.
//
// Why not std::vector: compiling a 1M-line list touches ~60 MB of fresh
// memory, and first-touch page faults were most of its cost (a 4 KiB fault
// costs tens of µs on a paravirtualised host; see BM_PolicyBuildFromFiles in
// tests/bench/blocklist_bench.cpp). Here growth uses mremap, so it never
// copies or touches a page twice; the mapping asks for transparent huge pages,
// so one fault maps 2 MiB; and freeing unmaps, so the memory goes straight
// back to the kernel instead of staying in the allocator's heap.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

namespace hush::blocklists {

template <class T>
class BigVector {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  BigVector() = default;
  explicit BigVector(size_t n, bool zeroed = true) { resize(n, zeroed); }
  BigVector(BigVector&& o) noexcept { swap(o); }
  BigVector& operator=(BigVector&& o) noexcept {
    BigVector(std::move(o)).swap(*this);
    return *this;
  }
  BigVector(const BigVector&) = delete;
  BigVector& operator=(const BigVector&) = delete;
  ~BigVector() {
    if (data_) ::munmap(data_, bytes_);
  }

  void swap(BigVector& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(bytes_, o.bytes_);
  }

  void reserve(size_t n) {
    if (n * sizeof(T) <= bytes_) return;
    size_t want = round_up(std::max(n * sizeof(T), bytes_ * 2));
    void* p = data_ ? ::mremap(data_, bytes_, want, MREMAP_MAYMOVE)
                    : ::mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    ::madvise(p, want, MADV_HUGEPAGE);  // a hint: fine if the kernel has none
    data_ = static_cast<T*>(p);
    bytes_ = want;
  }
  // New elements are zero (fresh anonymous pages) unless the vector shrank
  // before; `zeroed` clears those too.
  void resize(size_t n, bool zeroed = true) {
    reserve(n);
    if (zeroed && n > size_) std::memset(static_cast<void*>(data_ + size_), 0, (n - size_) * sizeof(T));
    size_ = n;
  }
  // Gives the pages past size() back.
  void shrink_to_fit() {
    const size_t want = size_ == 0 ? 0 : round_up(size_ * sizeof(T));
    if (want >= bytes_) return;
    if (want == 0) {
      clear();
      return;
    }
    ::munmap(reinterpret_cast<char*>(data_) + want, bytes_ - want);
    bytes_ = want;
  }
  void push_back(const T& v) {
    if ((size_ + 1) * sizeof(T) > bytes_) reserve(size_ + 1);
    data_[size_++] = v;
  }
  T* append(size_t n) {
    reserve(size_ + n);
    T* p = data_ + size_;
    size_ += n;
    return p;
  }
  void clear() {
    BigVector().swap(*this);
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  std::span<const T> span() const { return {data_, size_}; }
  // Resident cost: whole pages.
  size_t capacity_bytes() const { return bytes_; }

 private:
  // Small vectors stay small; from 1 MiB they grow in 2 MiB steps so they
  // can be backed by huge pages (the compiler's filter, 1.2 MiB for 1M
  // names, spent most of the build's own time in 4 KiB first-touch faults).
  static size_t round_up(size_t b) {
    const size_t step = b >= (size_t{1} << 20) ? size_t{1} << 21 : size_t{4096};
    return (b + step - 1) & ~(step - 1);
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t bytes_ = 0;
};

}  // namespace hush::blocklists

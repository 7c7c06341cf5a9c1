// Immutable set of domain names, each tagged with the id sets it came from
// and whether it covers its subdomains.
//
// Layout (hand-written because it pays; see BM_DecideHit, BM_DecideMiss and
// BM_CompileSet in tests/bench/blocklist_bench.cpp): an open-addressing
// table of 64-bit slots in buckets of eight, one cache line each. A name is
// hashed label by label from the top-level domain down, so one pass over a
// query yields the hash of every suffix ("com", "mi.com", "api.mi.com"); a
// lookup probes the suffixes that can match (a 128-bit mask per kind says
// which label counts have entries) and fetches their buckets together, so a
// hit costs about one memory access where the previous sorted, front-coded
// blocks cost three dependent ones (BM_DecideHit 611 -> 220 ns CPU in one
// run; docs/BENCHMARKS.md).
// About 9.4 bytes a name at 85% load against 16 for the front-coded blocks,
// and ~114 for std::unordered_set<std::string> (BM_BaselineUnorderedSet).
//
// A slot holds (hash << vbits) | value: the name itself is not stored. The
// bucket comes from the hash's top bits and the slot keeps its low 64 - vbits
// bits, so two names are confused only if all 64 bits of their hashes agree:
// about 1e-18 per query, far below the rate of memory errors. `value` indexes a
// small table of (list-id set, subtree, extra exact set); vbits is just wide
// enough for it, and value 0 marks an empty slot.
//
// Most queries are misses whose registrable domain appears nowhere in the
// set. A Bloom filter over each entry's "anchor" (last two labels) answers
// those after hashing two labels, with one 64-bit word: 10-20 bits per
// distinct anchor (a power of two words, folded down to fit), a fraction of a
// byte per name because many names share one. Beside each word sits a second
// one, in the same cache line, with two bits per subtree entry under that
// anchor: a lookup fetches the bucket of an ancestor only if the entry could
// be there, so a hit touches one bucket, not one per label.
//
// "Sets" are ids of sorted id lists (SetTable); singletons {i} are id i+1 so
// the common case needs no table entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <bit>
#include <iterator>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hush/blocklists/big_vector.h"
#include "hush/blocklists/domain.h"

namespace hush::blocklists {

// Interned sorted id lists. Id 0 is the empty set, 1..singletons are {id-1}.
class SetTable {
 public:
  explicit SetTable(uint32_t singletons = 0) : singletons_(singletons) {}
  uint32_t intern(const std::vector<uint32_t>& ids);
  // Calls f(id) for each member; f returns true to stop. Returns whether stopped.
  template <class F>
  bool for_each(uint32_t set, F&& f) const {
    if (set == 0) return false;
    if (set <= singletons_) return f(set - 1);
    if (set - singletons_ - 1 >= sets_.size()) return false;
    const auto& v = sets_[set - singletons_ - 1];
    for (uint32_t id : v) {
      if (f(id)) return true;
    }
    return false;
  }
  std::vector<uint32_t> members(uint32_t set) const;
  bool subset(uint32_t a, uint32_t b) const;  // a ⊆ b
  uint32_t singletons() const { return singletons_; }
  const std::vector<std::vector<uint32_t>>& multi() const { return sets_; }
  void set_multi(std::vector<std::vector<uint32_t>> sets);
  size_t memory_bytes() const;

 private:
  uint32_t singletons_;
  std::vector<std::vector<uint32_t>> sets_;
  std::map<std::vector<uint32_t>, uint32_t> index_;  // build time only
};

namespace detail {

inline constexpr uint64_t kSeed = 0x2d358dccaa6c78a5ull;
inline constexpr uint64_t kP0 = 0xa0761d6478bd642full;
inline constexpr uint64_t kP1 = 0xe7037ed1a0b428dbull;
inline constexpr uint64_t kP2 = 0x8ebc6af09c88c6e3ull;
inline constexpr uint64_t kP3 = 0x589965cc75374cc3ull;

// wyhash's mixing step: one 64x64->128 multiply, folded; full avalanche.
inline uint64_t mum(uint64_t a, uint64_t b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t load8(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Bit k set where byte k of `w` (little-endian order) is '.': the exact
// per-byte zero test on w ^ "........", its high bits gathered by a multiply.
static_assert(std::endian::native == std::endian::little, "load8 reads names as little-endian words");
inline uint64_t dot_bits(uint64_t w) {
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7full;
  const uint64_t x = w ^ 0x2e2e2e2e2e2e2e2eull;
  const uint64_t zero = ~(((x & kLow7) + kLow7) | x) & ~kLow7;
  return ((zero >> 7) * 0x0102040810204080ull) >> 56;
}

// Folds one label into the running hash; p must be readable for n + 16
// bytes. The length goes into the last step, so "ab.c" and "a.bc" differ.
inline uint64_t hash_label(uint64_t h, const char* p, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) h = mum(load8(p + i) ^ kP0 ^ h, load8(p + i + 8) ^ kP1);
  const size_t r = n - i;
  uint64_t a = load8(p + i);
  uint64_t b = load8(p + i + 8);
  a = r >= 8 ? a : a & ((uint64_t{1} << (8 * r)) - 1);
  b = r <= 8 ? 0 : b & ((uint64_t{1} << (8 * (r - 8))) - 1);
  return mum(a ^ kP2 ^ h, b ^ kP3 ^ (static_cast<uint64_t>(n) << 32));
}

}  // namespace detail

// Hashes a name's suffixes one label at a time from the last label up:
// after k calls of next(), h[k-1] is the hash of the last k labels, which
// start at byte start[k-1]. A lookup hashes the anchor, asks the filter and
// only then hashes the rest. Stable across runs: the table is persisted.
class SuffixHasher {
 public:
  explicit SuffixHasher(std::string_view name) : end_(std::min(name.size(), kMaxNameLength)) {
    std::memcpy(buf_, name.data(), end_);
    std::memset(buf_ + end_, 0, 16);
    // Where the dots are, eight bytes a step: the byte loop per label this
    // replaces was a sixth of a blocked lookup's instructions (callgrind:
    // 856 -> 839 per decision in all; docs/BENCHMARKS.md).
    for (size_t i = 0; i < end_; i += 8) dots_[i / 64] |= detail::dot_bits(detail::load8(buf_ + i)) << (i % 64);
  }
  // Hashes the next label; false once every label is done.
  bool next() {
    if (done_) return false;
    const size_t from = after_last_dot(end_);
    state_ = detail::hash_label(state_, buf_ + from, end_ - from);
    h[labels_] = state_;
    start[labels_] = static_cast<uint8_t>(from);
    ++labels_;
    done_ = from == 0;
    end_ = from - 1;
    return true;
  }
  void finish() {
    while (next()) {
    }
  }
  size_t labels() const { return labels_; }

  uint64_t h[kMaxNameLength + 2];
  uint8_t start[kMaxNameLength + 2];

 private:
  // One past the last dot before byte `end`, or 0.
  size_t after_last_dot(size_t end) const {
    size_t w = end / 64;
    uint64_t bits = w < std::size(dots_) ? dots_[w] & ((uint64_t{1} << (end % 64)) - 1) : 0;
    while (bits == 0) {
      if (w == 0) return 0;
      bits = dots_[--w];
    }
    return w * 64 + static_cast<size_t>(64 - std::countl_zero(bits));
  }

  char buf_[kMaxNameLength + 24];
  uint64_t dots_[(kMaxNameLength + 63) / 64] = {};  // bit i: byte i is a dot
  size_t end_;
  size_t labels_ = 0;
  uint64_t state_ = detail::kSeed;
  bool done_ = false;
};

// Bit k set: some entry has k labels (k < 128).
struct LabelMask {
  uint64_t lo = 0;
  uint64_t hi = 0;
  void set(size_t k) {
    if (k < 64) lo |= uint64_t{1} << k;
    else if (k < 128) hi |= uint64_t{1} << (k - 64);
  }
  bool has(size_t k) const {
    return k < 64 ? (lo >> k) & 1 : k < 128 ? (hi >> (k - 64)) & 1 : false;
  }
  // Some bit below k is set.
  bool any_below(size_t k) const {
    if (k >= 128) return lo != 0 || hi != 0;
    if (k > 64) return lo != 0 || (hi & ((uint64_t{1} << (k - 64)) - 1)) != 0;
    return k == 64 ? lo != 0 : (lo & ((uint64_t{1} << k) - 1)) != 0;
  }
};

// What one entry says: its primary set (subtree ids if it covers
// subdomains, else exact ids) and, for subtree entries, the ids that list the
// name itself only.
struct EntryValue {
  uint32_t set = 0;
  uint32_t extra_exact = 0;
  uint32_t subtree = 0;
  bool operator==(const EntryValue&) const = default;
};

// Table geometry and masks, persisted beside the arrays.
struct SetHeader {
  uint64_t entries = 0;
  uint64_t buckets = 0;
  uint32_t vbits = 0;
  uint32_t reserved = 0;
  LabelMask any;      // label counts of all entries
  LabelMask subtree;  // label counts of subtree entries
};

class CompiledSet {
 public:
  static constexpr size_t kBucketSlots = 8;

  // Collects (name, id, subtree) triples; names must already be normalised.
  class Builder {
   public:
    void add(std::string_view name, uint32_t id, bool subtree);
    size_t size() const { return items_.size(); }
    // Takes over every item of `o`, as if they had been added here after
    // this builder's own (a list parsed in parts, one builder per part).
    void append(Builder&& o);
    // Removes items for which pred(name, subtree) holds, calling
    // removed(id) for each; used by $badfilter.
    template <class Pred, class Removed>
    void erase_if(Pred&& pred, Removed&& removed);
    // Adds, per id, how many items carry it (before dedupe).
    void count_ids(std::vector<size_t>& per_id) const {
      for (const Item& it : items_) {
        if (it.id < per_id.size()) ++per_id[it.id];
      }
    }
    // Merges duplicates into id sets and, if `dedupe`, drops names a subtree
    // ancestor already covers with a superset of their ids.
    CompiledSet build(SetTable& sets, bool dedupe, size_t* dropped = nullptr);

   private:
    // 24 bytes: a 1M-name build touches each of its pages once.
    struct Item {
      uint64_t hash;    // of the whole name
      uint64_t anchor;  // hash of its last two labels (one for single-label names)
      uint32_t ref;     // offset of [len][name] in names_
      uint32_t id : 24;  // list or rule ids; add() refuses larger ones
      uint32_t labels : 7;  // a name of at most 253 bytes has at most 127 labels
      uint32_t subtree : 1;
    };
    static_assert(sizeof(Item) == 24);
    std::string_view name_of(const Item& it) const {
      return {names_.data() + it.ref + 1, static_cast<uint8_t>(names_[it.ref])};
    }
    BigVector<char> names_;
    BigVector<Item> items_;
    bool any_subtree_ = false;
  };

  CompiledSet() = default;
  CompiledSet(CompiledSet&&) = default;
  CompiledSet& operator=(CompiledSet&&) = default;
  CompiledSet(const CompiledSet&) = delete;
  CompiledSet& operator=(const CompiledSet&) = delete;

  // Views over serialised storage (e.g. mmap); `keepalive` owns it. Returns
  // false, leaving *out alone, if the parts do not fit together.
  static bool from_views(const SetHeader& header, std::span<const uint64_t> slots,
                         std::span<const EntryValue> values, std::span<const uint64_t> filter,
                         std::shared_ptr<const void> keepalive, CompiledSet* out);

  // Visits matches nearest first: the name itself (exact set and, if it is a
  // subtree entry, its set), then each subtree ancestor. f(set, subtree_entry,
  // matched_len) returns true to stop; matched_len is the length of the
  // matched suffix of `name`. Allocation-free.
  template <class F>
  void for_each_match(std::string_view name, F&& f) const;
  // The same with `name`'s suffixes hashed already (s.finish() done): a
  // policy asks several sets about one name and hashes it once.
  template <class F>
  void for_each_match(const SuffixHasher& s, std::string_view name, F&& f) const;

  // Starts fetching the filter words a lookup of this name will read, once
  // `s` has hashed its last two labels: the rest of the name is hashed while
  // they arrive.
  void prefetch_anchor(const SuffixHasher& s) const {
    if (header_.entries == 0 || s.labels() == 0) return;
    __builtin_prefetch(filter_pair(s.h[s.labels() >= 2 ? 1 : 0]));
    if (header_.subtree.has(1)) __builtin_prefetch(filter_pair(s.h[0]));
  }

  bool contains_exact(std::string_view name) const;  // for tests
  size_t size() const { return header_.entries; }
  bool empty() const { return header_.entries == 0; }
  size_t memory_bytes() const {
    return slots_.size_bytes() + values_.size_bytes() + filter_.size_bytes();
  }
  const SetHeader& header() const { return header_; }
  std::span<const uint64_t> slots() const { return slots_; }
  std::span<const EntryValue> values() const { return values_; }
  std::span<const uint64_t> filter() const { return filter_; }

 private:
  // Index into values_ (1-based) of the entry with this hash, or 0.
  uint32_t find(uint64_t h) const;
  size_t bucket_of(uint64_t h) const {
    return static_cast<size_t>((static_cast<unsigned __int128>(h) * header_.buckets) >> 64);
  }
  void prefetch(uint64_t h) const {
    const uint64_t* b = slots_.data() + bucket_of(h) * kBucketSlots;
    __builtin_prefetch(b);
  }
  // The filter's word pair for an anchor: [0] says whether the anchor is
  // anywhere in the set, [1] which suffixes under it may be subtree entries.
  const uint64_t* filter_pair(uint64_t anchor) const {
    return filter_.data() + 2 * (anchor & (filter_.size() / 2 - 1));
  }
  // Cheap "definitely absent" tests.
  static bool has_anchor(const uint64_t* pair, uint64_t anchor) {
    const uint64_t m = filter_mask(anchor);
    return (pair[0] & m) == m;
  }
  static bool may_be_subtree(const uint64_t* pair, uint64_t h) {
    const uint64_t m = subtree_mask(h);
    return (pair[1] & m) == m;
  }
  static uint64_t filter_mask(uint64_t h) {
    return (uint64_t{1} << ((h >> 40) & 63)) | (uint64_t{1} << ((h >> 46) & 63)) | (uint64_t{1} << ((h >> 52) & 63));
  }
  static uint64_t subtree_mask(uint64_t h) {
    return (uint64_t{1} << ((h >> 20) & 63)) | (uint64_t{1} << ((h >> 26) & 63));
  }

  std::shared_ptr<const void> keepalive_;
  SetHeader header_;
  std::span<const uint64_t> slots_;
  std::span<const EntryValue> values_;
  std::span<const uint64_t> filter_;
};

template <class Pred, class Removed>
void CompiledSet::Builder::erase_if(Pred&& pred, Removed&& removed) {
  size_t w = 0;
  for (size_t i = 0; i < items_.size(); ++i) {
    const Item it = items_[i];
    if (pred(name_of(it), it.subtree)) {
      removed(it.id);
      continue;
    }
    items_[w++] = it;
  }
  items_.resize(w, false);
}

template <class F>
void CompiledSet::for_each_match(std::string_view name, F&& f) const {
  if (header_.entries == 0 || name.empty() || name.size() > kMaxNameLength) return;
  SuffixHasher s(name);
  s.finish();
  for_each_match(s, name, std::forward<F>(f));
}

template <class F>
void CompiledSet::for_each_match(const SuffixHasher& s, std::string_view name, F&& f) const {
  const size_t n = s.labels();
  if (header_.entries == 0 || n == 0) return;
  const bool two = n >= 2;
  // Single-label subtree entries ("||com^") are their own anchor.
  const bool single = two && header_.subtree.has(1);
  const uint64_t* pair = filter_pair(s.h[two ? 1 : 0]);
  const uint64_t* single_pair = single ? filter_pair(s.h[0]) : nullptr;
  // The filter's words and the bucket of the name itself are fetched
  // together, before the filter is asked: a hit on the name waits for one
  // memory access instead of the filter's and then the bucket's in turn.
  __builtin_prefetch(pair);
  if (single) __builtin_prefetch(single_pair);
  const bool probe_self = header_.any.has(n);
  if (probe_self) prefetch(s.h[n - 1]);
  const bool anchored = has_anchor(pair, s.h[two ? 1 : 0]);
  const bool top = single && has_anchor(single_pair, s.h[0]) && may_be_subtree(single_pair, s.h[0]);
  if (!anchored && !top) return;
  // Only the ancestors whose suffix the anchor's subtree word admits are
  // fetched: a name on the list touches its own bucket and not one per
  // label, which the next queries' buckets would have lost their place in
  // the cache to (BM_DecideHit; docs/BENCHMARKS.md).
  auto candidate = [&](size_t k) {
    return k == 0 ? top : anchored && header_.subtree.has(k + 1) && may_be_subtree(pair, s.h[k]);
  };
  for (size_t k = n - 1; k-- > 0;) {
    if (candidate(k)) prefetch(s.h[k]);
  }
  if (probe_self && anchored) {
    if (uint32_t v = find(s.h[n - 1])) {
      const EntryValue& e = values_[v - 1];
      if (e.subtree) {
        if (f(e.set, true, name.size())) return;
        if (e.extra_exact && f(e.extra_exact, false, name.size())) return;
      } else if (f(e.set, false, name.size())) {
        return;
      }
    }
  }
  for (size_t k = n - 1; k-- > 0;) {
    if (!candidate(k)) continue;
    if (uint32_t v = find(s.h[k])) {
      const EntryValue& e = values_[v - 1];
      if (e.subtree && f(e.set, true, name.size() - s.start[k])) return;
    }
  }
}

}  // namespace hush::blocklists

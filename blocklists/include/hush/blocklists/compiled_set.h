// Immutable set of domain names, each tagged with the id sets it came from
// and whether it covers its subdomains.
//
// Layout (hand-written because it pays: under 16 bytes/name for 1M
// random-label names and ~12 for real lists, against ~114 for
// std::unordered_set<std::string>; see BM_BaselineUnorderedSet in
// tests/bench/blocklist_bench.cpp): names are stored with labels reversed
// ("com\x01mi\x01api"), sorted, front-coded in blocks of 32. A block index
// holds each block's first 8 bytes (big-endian, so integer order == string
// order) and its offset; a small top index over every 8th block keeps the
// binary search in cache. Blocks of 32 rather than 16 bring 1M random-label
// names from 16.4 to 15.6 bytes each for ~7% slower lookups.
//
// Entry encoding inside a block (varints):
//   [shared prefix len, except first entry of a block]
//   suffix len << 1 | same, suffix bytes,
//   unless `same`: v = set << 3 | subtree << 2 | has_extra_exact << 1 | has_ancestor,
//   [extra exact set], [index distance back to the nearest subtree ancestor].
// `same` means v equals the block's first entry's set and subtree bits; in
// real lists most neighbours come from the same list, so the value usually
// costs one bit.
// Because '\x01' sorts below every name byte, a name's descendants follow it
// directly. So for a query q the nearest subtree ancestor, if any, is the
// predecessor of q or on that predecessor's ancestor chain: one binary search
// and one block scan answer a lookup instead of one search per label.
//
// Most queries are misses whose registrable domain appears nowhere in the
// set. A Bloom filter over each entry's "anchor" (last two labels) answers
// those with one cache line instead of a search: ~10 bits per distinct
// anchor, a fraction of a byte per name because many names share one.
//
// "Sets" are ids of sorted id lists (SetTable); singletons {i} are id i+1 so
// the common case needs no table entry and fits a one-byte varint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// First 16 bytes of a key as one big-endian integer (zero padded).
using KeyPrefix = unsigned __int128;

// One block index entry. Packed so the offset shares the cache line the
// binary search already pulled in for the prefix: one miss less per lookup.
struct [[gnu::packed]] BlockIndex {
  uint64_t prefix_hi;  // first 16 bytes of the block's first key, big-endian
  uint64_t prefix_lo;
  uint32_t offset;  // of the block in the blob
  KeyPrefix prefix() const { return (KeyPrefix{prefix_hi} << 64) | prefix_lo; }
};
static_assert(sizeof(BlockIndex) == 20);

class CompiledSet {
 public:
  static constexpr uint32_t kBlock = 32;
  static constexpr size_t kTopStride = 8;

  // Collects (name, id, subtree) triples; names must already be normalised.
  class Builder {
   public:
    void add(std::string_view name, uint32_t id, bool subtree);
    size_t size() const { return items_.size(); }
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
    // Sorts, merges duplicates into id sets and, if `dedupe`, drops names a
    // subtree ancestor already covers with a superset of their ids.
    CompiledSet build(SetTable& sets, bool dedupe, size_t* dropped = nullptr);

   private:
    struct Item {
      KeyPrefix prefix;  // sorts most items without touching their text
      uint32_t offset;
      uint32_t id;
      uint8_t len;
      bool subtree;
    };
    std::string arena_;
    std::vector<Item> items_;
  };

  struct Stats {
    size_t entries = 0;
    size_t blob_bytes = 0;
    size_t index_bytes = 0;
  };

  CompiledSet() = default;
  CompiledSet(CompiledSet&&) = default;  // spans stay valid: vector moves keep their buffers
  CompiledSet& operator=(CompiledSet&&) = default;
  CompiledSet(const CompiledSet&) = delete;
  CompiledSet& operator=(const CompiledSet&) = delete;

  // Views over serialised storage (e.g. mmap); `keepalive` owns it.
  static CompiledSet from_views(std::span<const uint8_t> blob, std::span<const BlockIndex> index,
                                std::span<const uint64_t> filter,
                                size_t entries, std::shared_ptr<const void> keepalive);

  // Visits matches nearest first: the name itself (exact set and, if it is a
  // subtree entry, its set), then each subtree ancestor. f(set, subtree_entry,
  // matched_len) returns true to stop; matched_len is the length of the
  // matched suffix of `name`. Allocation-free.
  template <class F>
  void for_each_match(std::string_view name, F&& f) const;

  bool contains_exact(std::string_view name) const;  // for tests
  size_t size() const { return entries_; }
  bool empty() const { return entries_ == 0; }
  Stats stats() const { return {entries_, blob_.size(), index_.size_bytes()}; }
  size_t memory_bytes() const {
    return blob_.size() + index_.size_bytes() + filter_.size_bytes() +
           top_.capacity() * sizeof(KeyPrefix);
  }
  std::span<const uint8_t> blob() const { return blob_; }
  std::span<const BlockIndex> index() const { return index_; }
  std::span<const uint64_t> filter() const { return filter_; }

  struct Decoded {
    char key[256];
    uint8_t len = 0;
    uint32_t set = 0;
    uint32_t extra_exact = 0;
    uint32_t anc_delta = 0;
    uint32_t value = 0;
    bool subtree = false;
  };
  // Iterates all entries in order (reversed keys); for dumps and tests.
  template <class F>
  void for_each_entry(F&& f) const {
    Decoded d;
    for (size_t i = 0; i < entries_; ++i) {
      decode_at(i, d, true);
      f(std::string_view(d.key, d.len), d);
    }
  }

 private:
  struct Found {
    bool exact = false;  // entry at `index` equals the query
    bool has_pred = false;
    size_t index = 0;    // exact match or predecessor
    size_t lcp = 0;      // common prefix of that entry and the query
  };
  // Fills d's value fields and length, not its key.
  Found search(std::string_view rev, Decoded& d) const;
  // Decodes entry `index`; the key only if asked, lookups need just its length.
  void decode_at(size_t index, Decoded& d, bool with_key) const;
  // Cheap "definitely absent" test: no entry has this name's anchor (its
  // last two labels, or one for single-label entries).
  bool may_contain(std::string_view rev) const;
  // Reads an entry's value (inline, or the block's if `same`).
  static const uint8_t* decode_value(const uint8_t* p, bool same, uint32_t block_value, Decoded& d);
  uint32_t block_value_at(size_t block) const;
  void build_top();

  std::shared_ptr<const void> keepalive_;
  std::vector<uint8_t> own_blob_;
  std::vector<BlockIndex> own_index_;
  std::vector<uint64_t> own_filter_;
  std::span<const uint8_t> blob_;
  std::span<const BlockIndex> index_;
  std::span<const uint64_t> filter_;  // Bloom filter of anchors, one 64-bit word per probe
  std::vector<KeyPrefix> top_;  // every kTopStride-th block prefix; rebuilt on load
  size_t entries_ = 0;
};

template <class Pred, class Removed>
void CompiledSet::Builder::erase_if(Pred&& pred, Removed&& removed) {
  std::string name;
  std::erase_if(items_, [&](const Item& it) {
    name = unreverse_labels(std::string_view(arena_.data() + it.offset, it.len));
    if (!pred(std::string_view(name), it.subtree)) return false;
    removed(it.id);
    return true;
  });
}

template <class F>
void CompiledSet::for_each_match(std::string_view name, F&& f) const {
  if (entries_ == 0 || name.empty() || name.size() > 253) return;
  char rev[256];
  const size_t rlen = reverse_labels(name, rev);
  std::string_view q(rev, rlen);
  if (!may_contain(q)) return;
  Decoded d;
  Found found = search(q, d);
  size_t index = found.index;
  if (found.exact) {
    if (d.subtree) {
      if (f(d.set, true, name.size())) return;
      if (d.extra_exact && f(d.extra_exact, false, name.size())) return;
    } else if (f(d.set, false, name.size())) {
      return;
    }
  } else if (found.has_pred) {
    // The predecessor itself may be the nearest subtree ancestor.
    if (d.subtree && found.lcp == d.len && d.len < rlen && q[d.len] == '\x01') {
      if (f(d.set, true, d.len)) return;
    }
  } else {
    return;
  }
  // Walk the ancestor chain. Every ancestor is a prefix of the entry we hold;
  // it covers q only if it is also a label prefix of q.
  const size_t common = found.lcp;
  while (d.anc_delta != 0) {
    index -= d.anc_delta;
    decode_at(index, d, false);
    if (d.len <= common && (d.len == rlen || q[d.len] == '\x01')) {
      if (f(d.set, true, d.len)) return;
    }
  }
}

}  // namespace hush::blocklists

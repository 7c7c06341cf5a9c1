#include "hush/blocklists/compiled_set.h"

#include <algorithm>
#include <cstring>

#include "hush/blocklists/domain.h"

namespace hush::blocklists {
namespace {

uint64_t prefix8(std::string_view s) {
  if (s.size() >= 8) {
    uint64_t v;
    std::memcpy(&v, s.data(), 8);
    return __builtin_bswap64(v);  // big-endian, so integer order is string order
  }
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) {
    v = (v << 8) | (i < s.size() ? static_cast<uint8_t>(s[i]) : 0u);
  }
  return v;
}

KeyPrefix prefix16(std::string_view s) {
  const uint64_t lo = s.size() > 8 ? prefix8(s.substr(8)) : 0;
  return (KeyPrefix{prefix8(s)} << 64) | lo;
}

BlockIndex index_entry(std::string_view first_key, size_t offset) {
  const KeyPrefix p = prefix16(first_key);
  return {static_cast<uint64_t>(p >> 64), static_cast<uint64_t>(p), static_cast<uint32_t>(offset)};
}

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

inline const uint8_t* get_varint(const uint8_t* p, uint32_t& v) {
  if (*p < 0x80) [[likely]] {
    v = *p;
    return p + 1;
  }
  uint32_t r = *p & 0x7f;
  unsigned shift = 7;
  while (*p++ & 0x80) {
    r |= static_cast<uint32_t>(*p & 0x7f) << shift;
    shift += 7;
  }
  v = r;
  return p;
}

inline const uint8_t* skip_value(const uint8_t* p, bool same) {
  if (same) return p;
  uint32_t v = 0;
  p = get_varint(p, v);
  uint32_t ignored = 0;
  if (v & 2) p = get_varint(p, ignored);
  if (v & 1) p = get_varint(p, ignored);
  return p;
}

bool label_prefix(std::string_view anc, std::string_view key) {
  return anc.size() < key.size() && key[anc.size()] == kLabelSep && key.substr(0, anc.size()) == anc;
}

// Stable across runs (the filter is persisted), unlike std::hash.
uint64_t anchor_hash(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  uint64_t w = 0;
  std::memcpy(&w, p + i, n - i);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}

// The anchor is the reversed key up to its second separator.
size_t anchor_len(std::string_view rev) {
  size_t first = rev.find(kLabelSep);
  if (first == std::string_view::npos) return rev.size();
  size_t second = rev.find(kLabelSep, first + 1);
  return second == std::string_view::npos ? rev.size() : second;
}

inline size_t filter_word(uint64_t h, size_t words) {
  return static_cast<size_t>(((h & 0xffffffffu) * words) >> 32);
}

inline uint64_t filter_mask(uint64_t h) {
  return (uint64_t{1} << ((h >> 40) & 63)) | (uint64_t{1} << ((h >> 46) & 63)) | (uint64_t{1} << ((h >> 52) & 63));
}

std::vector<uint32_t> set_union(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  std::vector<uint32_t> out;
  out.reserve(a.size() + b.size());
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// Branchless upper bound of x over key(a[i]): the compiler turns the select
// into a cmov, so the 16-odd steps over an index cost no mispredictions.
template <class T, class Key>
size_t upper_bound_by(const T* a, size_t n, KeyPrefix x, Key key) {
  if (n == 0) return 0;
  const T* base = a;
  while (n > 1) {
    size_t half = n / 2;
    base = key(base[half]) <= x ? base + half : base;
    n -= half;
  }
  return static_cast<size_t>(base - a) + (key(*base) <= x);
}

// Length of the common prefix of a and b (n bytes each), 8 bytes at a time.
inline size_t common_prefix(const char* a, const char* b, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x;
    uint64_t y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    if (x != y) return i + static_cast<size_t>(__builtin_ctzll(x ^ y)) / 8;
  }
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// Compares a[from..] with q[from..] given a[0..from) == q[0..from); stores
// the common prefix length in *lcp.
int compare_from(const char* a, size_t alen, std::string_view q, size_t from, size_t* lcp) {
  size_t lim = std::min(alen, q.size());
  size_t i = from + common_prefix(a + from, q.data() + from, lim - from);
  *lcp = i;
  if (i < lim) return static_cast<uint8_t>(a[i]) < static_cast<uint8_t>(q[i]) ? -1 : 1;
  return alen < q.size() ? -1 : (alen > q.size() ? 1 : 0);
}


}  // namespace

uint32_t SetTable::intern(const std::vector<uint32_t>& ids) {
  if (ids.empty()) return 0;
  if (ids.size() == 1) return ids[0] + 1;
  auto [it, inserted] = index_.emplace(ids, 0);
  if (inserted) {
    sets_.push_back(ids);
    it->second = singletons_ + static_cast<uint32_t>(sets_.size());
  }
  return it->second;
}

std::vector<uint32_t> SetTable::members(uint32_t set) const {
  std::vector<uint32_t> out;
  for_each(set, [&](uint32_t id) {
    out.push_back(id);
    return false;
  });
  return out;
}

bool SetTable::subset(uint32_t a, uint32_t b) const {
  auto ma = members(a);
  auto mb = members(b);
  return std::includes(mb.begin(), mb.end(), ma.begin(), ma.end());
}

void SetTable::set_multi(std::vector<std::vector<uint32_t>> sets) {
  sets_ = std::move(sets);
  index_.clear();
}

size_t SetTable::memory_bytes() const {
  size_t n = sets_.capacity() * sizeof(sets_[0]);
  for (const auto& s : sets_) n += s.capacity() * sizeof(uint32_t);
  return n;
}

void CompiledSet::Builder::add(std::string_view name, uint32_t id, bool subtree) {
  if (name.empty() || name.size() > kMaxNameLength) return;
  size_t off = arena_.size();
  arena_.resize(off + name.size());
  size_t len = reverse_labels(name, arena_.data() + off);
  items_.push_back({prefix16(std::string_view(arena_.data() + off, len)), static_cast<uint32_t>(off), id,
                    static_cast<uint8_t>(len), subtree});
}

CompiledSet CompiledSet::Builder::build(SetTable& sets, bool dedupe, size_t* dropped) {
  const char* arena = arena_.data();
  auto key = [arena](const Item& it) { return std::string_view(arena + it.offset, it.len); };
  std::sort(items_.begin(), items_.end(), [&](const Item& a, const Item& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return key(a) < key(b);
  });

  CompiledSet out;
  std::vector<uint8_t>& blob = out.own_blob_;
  blob.reserve(items_.size() * 12);

  struct Ancestor {
    std::string_view key;
    size_t index;
    std::vector<uint32_t> covered;  // union of subtree ids along the chain
  };
  std::vector<Ancestor> stack;
  std::vector<uint32_t> sub_ids, exact_ids, all_ids;
  std::string_view prev_key;
  uint64_t block_value = 0;  // entries repeating it store one bit instead of a varint
  std::vector<uint64_t> anchors;  // hashes of distinct anchors (sorted keys keep them adjacent)
  std::string_view prev_anchor;
  size_t count = 0;
  size_t n_dropped = 0;

  for (size_t i = 0; i < items_.size();) {
    std::string_view k = key(items_[i]);
    sub_ids.clear();
    exact_ids.clear();
    for (; i < items_.size() && key(items_[i]) == k; ++i) {
      (items_[i].subtree ? sub_ids : exact_ids).push_back(items_[i].id);
    }
    std::sort(sub_ids.begin(), sub_ids.end());
    sub_ids.erase(std::unique(sub_ids.begin(), sub_ids.end()), sub_ids.end());
    std::sort(exact_ids.begin(), exact_ids.end());
    exact_ids.erase(std::unique(exact_ids.begin(), exact_ids.end()), exact_ids.end());
    // A subtree entry already covers the name itself for its ids.
    std::erase_if(exact_ids, [&](uint32_t id) { return std::binary_search(sub_ids.begin(), sub_ids.end(), id); });

    while (!stack.empty() && !label_prefix(stack.back().key, k)) stack.pop_back();
    if (dedupe && !stack.empty()) {
      const auto& covered = stack.back().covered;
      all_ids = set_union(sub_ids, exact_ids);
      if (std::includes(covered.begin(), covered.end(), all_ids.begin(), all_ids.end())) {
        ++n_dropped;
        continue;
      }
    }

    bool subtree = !sub_ids.empty();
    uint32_t primary = sets.intern(subtree ? sub_ids : exact_ids);
    uint32_t extra = subtree ? sets.intern(exact_ids) : 0;
    size_t anc_delta = stack.empty() ? 0 : count - stack.back().index;
    const uint64_t v = (static_cast<uint64_t>(primary) << 3) | (subtree ? 4u : 0u) | (extra ? 2u : 0u) |
                       (anc_delta ? 1u : 0u);
    bool same = false;
    if (count % kBlock == 0) {
      out.own_index_.push_back(index_entry(k, blob.size()));
      put_varint(blob, static_cast<uint64_t>(k.size()) << 1);
      blob.insert(blob.end(), k.begin(), k.end());
      block_value = v & ~uint64_t{3};
    } else {
      size_t shared = 0;
      size_t lim = std::min(prev_key.size(), k.size());
      while (shared < lim && prev_key[shared] == k[shared]) ++shared;
      same = v == block_value;
      put_varint(blob, shared);
      put_varint(blob, (static_cast<uint64_t>(k.size() - shared) << 1) | (same ? 1u : 0u));
      blob.insert(blob.end(), k.begin() + static_cast<ptrdiff_t>(shared), k.end());
    }
    if (!same) {
      put_varint(blob, v);
      if (extra) put_varint(blob, extra);
      if (anc_delta) put_varint(blob, anc_delta);
    }
    if (subtree) {
      std::vector<uint32_t> covered = stack.empty() ? sub_ids : set_union(stack.back().covered, sub_ids);
      stack.push_back({k, count, std::move(covered)});
    }
    const std::string_view anchor = k.substr(0, anchor_len(k));
    if (anchor != prev_anchor) anchors.push_back(anchor_hash(anchor.data(), anchor.size()));
    prev_anchor = anchor;
    prev_key = k;
    ++count;
  }
  blob.shrink_to_fit();
  out.own_filter_.assign(std::max<size_t>(1, (anchors.size() * 10 + 63) / 64), 0);
  for (uint64_t h : anchors) out.own_filter_[filter_word(h, out.own_filter_.size())] |= filter_mask(h);
  out.filter_ = out.own_filter_;
  out.entries_ = count;
  out.blob_ = out.own_blob_;
  out.index_ = out.own_index_;
  out.build_top();
  if (dropped) *dropped = n_dropped;
  items_.clear();
  items_.shrink_to_fit();
  arena_.clear();
  arena_.shrink_to_fit();
  return out;
}

CompiledSet CompiledSet::from_views(std::span<const uint8_t> blob, std::span<const BlockIndex> index,
                                    std::span<const uint64_t> filter,
                                    size_t entries, std::shared_ptr<const void> keepalive) {
  CompiledSet s;
  s.filter_ = filter;
  s.keepalive_ = std::move(keepalive);
  s.blob_ = blob;
  s.index_ = index;
  s.entries_ = entries;
  s.build_top();
  return s;
}

bool CompiledSet::may_contain(std::string_view rev) const {
  if (filter_.empty()) return true;
  size_t first = rev.find(kLabelSep);
  if (first == std::string_view::npos) first = rev.size();
  uint64_t h = anchor_hash(rev.data(), first);
  if ((filter_[filter_word(h, filter_.size())] & filter_mask(h)) == filter_mask(h)) return true;
  if (first == rev.size()) return false;
  size_t second = anchor_len(rev);
  h = anchor_hash(rev.data(), second);
  return (filter_[filter_word(h, filter_.size())] & filter_mask(h)) == filter_mask(h);
}

void CompiledSet::build_top() {
  top_.clear();
  for (size_t i = 0; i < index_.size(); i += kTopStride) top_.push_back(index_[i].prefix());
}

const uint8_t* CompiledSet::decode_value(const uint8_t* p, bool same, uint32_t block_value, Decoded& d) {
  uint32_t v = block_value;
  if (!same) p = get_varint(p, v);
  d.set = v >> 3;
  d.subtree = (v & 4) != 0;
  d.extra_exact = 0;
  d.anc_delta = 0;
  if (v & 2) p = get_varint(p, d.extra_exact);
  if (v & 1) p = get_varint(p, d.anc_delta);
  d.value = v;
  return p;
}

uint32_t CompiledSet::block_value_at(size_t block) const {
  const uint8_t* p = blob_.data() + index_[block].offset;
  uint32_t h = 0;
  p = get_varint(p, h);
  uint32_t v = 0;
  get_varint(p + (h >> 1), v);
  return v & ~3u;
}

void CompiledSet::decode_at(size_t index, Decoded& d, bool with_key) const {
  const uint8_t* p = blob_.data() + index_[index / kBlock].offset;
  uint32_t h = 0;
  p = get_varint(p, h);
  if (with_key) std::memcpy(d.key, p, h >> 1);
  d.len = static_cast<uint8_t>(h >> 1);
  p = decode_value(p + (h >> 1), false, 0, d);
  const uint32_t block_value = d.value & ~3u;
  for (size_t j = index % kBlock; j > 0; --j) {
    uint32_t shared = 0;
    p = get_varint(p, shared);
    p = get_varint(p, h);
    if (with_key) std::memcpy(d.key + shared, p, h >> 1);
    d.len = static_cast<uint8_t>(shared + (h >> 1));
    const uint8_t* value_at = p + (h >> 1);
    p = j == 1 ? decode_value(value_at, h & 1, block_value, d) : skip_value(value_at, h & 1);
  }
}

CompiledSet::Found CompiledSet::search(std::string_view q, Decoded& d) const {
  Found found;
  const size_t blocks = index_.size();
  const KeyPrefix qp = prefix16(q);
  // Two levels: the small top index (every kTopStride-th block) stays in
  // cache, so only one short run of the block index is touched per lookup.
  const size_t t = upper_bound_by(top_.data(), top_.size(), qp, [](KeyPrefix p) { return p; });
  if (t == 0) return found;
  const size_t lo = (t - 1) * kTopStride;
  const size_t hi = std::min(blocks, t * kTopStride);
  // The run spans up to three cache lines: ask for all of them at once, so
  // the binary search below waits for one miss, not one per step.
  const char* run = reinterpret_cast<const char*>(index_.data() + lo);
  const char* run_end = reinterpret_cast<const char*>(index_.data() + hi);
  for (const char* line = run; line < run_end; line += 64) __builtin_prefetch(line);
  __builtin_prefetch(run_end - 1);
  size_t b = lo + upper_bound_by(index_.data() + lo, hi - lo, qp, [](const BlockIndex& e) { return e.prefix(); });
  // Blocks whose 16-byte prefix equals q's may still start above q.
  while (b > 0 && index_[b - 1].prefix() == qp) {
    const uint8_t* p = blob_.data() + index_[b - 1].offset;
    uint32_t h = 0;
    p = get_varint(p, h);
    if (std::string_view(reinterpret_cast<const char*>(p), h >> 1) <= q) break;
    --b;
  }
  if (b == 0) return found;  // q sorts before every entry
  const size_t block = b - 1;
  const size_t n = std::min<size_t>(kBlock, entries_ - block * kBlock);

  // Front-coded scan tracking the common prefix with q. An entry sharing
  // fewer bytes with its predecessor than the predecessor shares with q sorts
  // after q; one sharing more sorts before q with the same common prefix. So
  // most entries are passed over without looking at their bytes, and no key
  // is rebuilt: the caller only needs the length, the common prefix and the
  // value of the entry found.
  const uint8_t* p = blob_.data() + index_[block].offset;
  // A block spans several cache lines that the scan reads in order; asking
  // for them all now overlaps their misses instead of taking them one by one.
  for (size_t line = 1; line < 8; ++line) __builtin_prefetch(p + 64 * line);
  uint32_t h = 0;
  p = get_varint(p, h);
  uint32_t len = h >> 1;
  size_t lcp = 0;
  int c = compare_from(reinterpret_cast<const char*>(p), len, q, 0, &lcp);
  p += len;
  const uint8_t* value_at = p;  // value of the current candidate
  bool value_same = false;
  p = skip_value(p, false);
  size_t j = 0;
  while (c < 0 && j + 1 < n) {
    uint32_t shared = 0;
    const uint8_t* e = get_varint(p, shared);
    e = get_varint(e, h);
    const uint32_t suffix = h >> 1;
    if (shared < lcp) break;  // sorts after q
    if (shared == lcp) {
      const char* sfx = reinterpret_cast<const char*>(e);
      const size_t rest = q.size() - lcp;
      const size_t lim = std::min<size_t>(suffix, rest);
      const size_t m = common_prefix(sfx, q.data() + lcp, lim);
      bool after = m < lim ? static_cast<uint8_t>(sfx[m]) > static_cast<uint8_t>(q[lcp + m]) : suffix > rest;
      if (after) break;
      c = (m == lim && suffix == rest) ? 0 : -1;
      lcp += m;
    }
    len = shared + suffix;
    value_at = e + suffix;
    value_same = h & 1;
    p = skip_value(value_at, value_same);
    ++j;
  }
  decode_value(value_at, value_same, block_value_at(block), d);
  d.len = static_cast<uint8_t>(len);
  found.exact = c == 0;
  found.has_pred = !found.exact;
  found.index = block * kBlock + j;
  found.lcp = found.exact ? q.size() : lcp;
  return found;
}

bool CompiledSet::contains_exact(std::string_view name) const {
  bool hit = false;
  for_each_match(name, [&](uint32_t, bool, size_t len) {
    hit = len == name.size();
    return true;
  });
  return hit;
}

}  // namespace hush::blocklists

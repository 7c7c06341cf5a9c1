#include "hush/blocklists/compiled_set.h"

#include <algorithm>
#include <cstring>

#include "hush/blocklists/domain.h"

namespace hush::blocklists {
namespace {

uint64_t prefix8(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) {
    v = (v << 8) | (i < s.size() ? static_cast<uint8_t>(s[i]) : 0u);
  }
  return v;
}

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

inline const uint8_t* get_varint(const uint8_t* p, uint32_t& v) {
  uint32_t r = *p & 0x7f;
  unsigned shift = 7;
  while (*p++ & 0x80) {
    r |= static_cast<uint32_t>(*p & 0x7f) << shift;
    shift += 7;
  }
  v = r;
  return p;
}

bool label_prefix(std::string_view anc, std::string_view key) {
  return anc.size() < key.size() && key[anc.size()] == kLabelSep && key.substr(0, anc.size()) == anc;
}

std::vector<uint32_t> set_union(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  std::vector<uint32_t> out;
  out.reserve(a.size() + b.size());
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
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
  items_.push_back({prefix8(std::string_view(arena_.data() + off, len)), static_cast<uint32_t>(off), id,
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

    size_t in_block = count % kBlock;
    if (in_block == 0) {
      out.own_offsets_.push_back(static_cast<uint32_t>(blob.size()));
      out.own_prefixes_.push_back(prefix8(k));
      put_varint(blob, k.size());
      blob.insert(blob.end(), k.begin(), k.end());
    } else {
      size_t shared = 0;
      size_t lim = std::min(prev_key.size(), k.size());
      while (shared < lim && prev_key[shared] == k[shared]) ++shared;
      put_varint(blob, shared);
      put_varint(blob, k.size() - shared);
      blob.insert(blob.end(), k.begin() + static_cast<ptrdiff_t>(shared), k.end());
    }
    bool subtree = !sub_ids.empty();
    uint32_t primary = sets.intern(subtree ? sub_ids : exact_ids);
    uint32_t extra = subtree ? sets.intern(exact_ids) : 0;
    size_t anc_delta = stack.empty() ? 0 : count - stack.back().index;
    put_varint(blob, (static_cast<uint64_t>(primary) << 3) | (subtree ? 4u : 0u) | (extra ? 2u : 0u) |
                         (anc_delta ? 1u : 0u));
    if (extra) put_varint(blob, extra);
    if (anc_delta) put_varint(blob, anc_delta);
    if (subtree) {
      std::vector<uint32_t> covered = stack.empty() ? sub_ids : set_union(stack.back().covered, sub_ids);
      stack.push_back({k, count, std::move(covered)});
    }
    prev_key = k;
    ++count;
  }
  blob.shrink_to_fit();
  out.entries_ = count;
  out.blob_ = out.own_blob_;
  out.prefixes_ = out.own_prefixes_;
  out.offsets_ = out.own_offsets_;
  if (dropped) *dropped = n_dropped;
  items_.clear();
  items_.shrink_to_fit();
  arena_.clear();
  arena_.shrink_to_fit();
  return out;
}

CompiledSet CompiledSet::from_views(std::span<const uint8_t> blob, std::span<const uint64_t> prefixes,
                                    std::span<const uint32_t> offsets, size_t entries,
                                    std::shared_ptr<const void> keepalive) {
  CompiledSet s;
  s.keepalive_ = std::move(keepalive);
  s.blob_ = blob;
  s.prefixes_ = prefixes;
  s.offsets_ = offsets;
  s.entries_ = entries;
  return s;
}

const uint8_t* CompiledSet::decode_entry(const uint8_t* p, const Decoded* prev, Decoded& d) {
  uint32_t shared = 0;
  uint32_t len = 0;
  if (prev) p = get_varint(p, shared);
  p = get_varint(p, len);
  if (prev && prev != &d) std::memcpy(d.key, prev->key, shared);
  std::memcpy(d.key + shared, p, len);
  p += len;
  d.len = static_cast<uint8_t>(shared + len);
  uint32_t v = 0;
  p = get_varint(p, v);
  d.set = v >> 3;
  d.subtree = (v & 4) != 0;
  d.extra_exact = 0;
  d.anc_delta = 0;
  if (v & 2) p = get_varint(p, d.extra_exact);
  if (v & 1) p = get_varint(p, d.anc_delta);
  return p;
}

void CompiledSet::decode_at(size_t index, Decoded& d) const {
  size_t block = index / kBlock;
  const uint8_t* p = blob_.data() + offsets_[block];
  size_t n = index % kBlock;
  p = decode_entry(p, nullptr, d);
  for (size_t j = 0; j < n; ++j) p = decode_entry(p, &d, d);
}

CompiledSet::Found CompiledSet::search(std::string_view q, Decoded& d) const {
  const uint64_t q8 = prefix8(q);
  const uint64_t* pre = prefixes_.data();
  const size_t blocks = prefixes_.size();
  // Blocks whose 8-byte prefix is below q8 start below q; equal prefixes need
  // the full first key, which costs a trip into the blob.
  size_t lo = static_cast<size_t>(std::lower_bound(pre, pre + blocks, q8) - pre);
  size_t hi = static_cast<size_t>(std::upper_bound(pre + lo, pre + blocks, q8) - pre);
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const uint8_t* p = blob_.data() + offsets_[mid];
    uint32_t len = 0;
    p = get_varint(p, len);
    if (std::string_view(reinterpret_cast<const char*>(p), len) <= q) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  Found found;
  if (lo == 0) return found;  // q sorts before every entry
  size_t block = lo - 1;
  size_t n = std::min<size_t>(kBlock, entries_ - block * kBlock);
  Decoded buf[2];
  const uint8_t* p = blob_.data() + offsets_[block];
  size_t cur = 0;
  p = decode_entry(p, nullptr, buf[0]);
  size_t j = 0;
  for (;;) {
    std::string_view k(buf[cur].key, buf[cur].len);
    int c = k.compare(q);
    if (c == 0) {
      found.exact = true;
      break;
    }
    if (c > 0) {
      cur ^= 1;  // the previous entry is the predecessor
      --j;
      break;
    }
    if (++j == n) {
      --j;
      break;
    }
    p = decode_entry(p, &buf[cur], buf[cur ^ 1]);
    cur ^= 1;
  }
  found.has_pred = !found.exact;
  found.index = block * kBlock + j;
  std::memcpy(d.key, buf[cur].key, buf[cur].len);
  d.len = buf[cur].len;
  d.set = buf[cur].set;
  d.extra_exact = buf[cur].extra_exact;
  d.anc_delta = buf[cur].anc_delta;
  d.subtree = buf[cur].subtree;
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

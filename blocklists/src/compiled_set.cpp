#include "hush/blocklists/compiled_set.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <iterator>
#include <map>
#include <tuple>

#include "hush/blocklists/domain.h"

namespace hush::blocklists {
namespace {

// Slots over buckets: an eighth of the table stays empty, so an unsuccessful
// probe usually ends in its first bucket.
constexpr double kLoad = 0.85;

// The filter is sized for one anchor per entry; real lists have several
// names per anchor. Its word pairs are chosen by the anchor hash's low bits,
// so halving it is OR-ing the halves: halve while at most 27% of the bits
// would be set (10 bits per anchor with three bits each), so a small filter
// stays in cache.
void fold_filter(BigVector<uint64_t>& f) {
  size_t pairs = f.size() / 2;
  while (pairs > 1) {
    const size_t half = pairs / 2;
    size_t ones = 0;
    for (size_t i = 0; i < 2 * half; ++i) ones += static_cast<size_t>(std::popcount(f[i] | f[i + 2 * half]));
    if (static_cast<double>(ones) > 0.27 * static_cast<double>(half * 128)) break;
    for (size_t i = 0; i < 2 * half; ++i) f[i] |= f[i + 2 * half];
    pairs = half;
  }
  f.resize(2 * pairs, false);
  f.shrink_to_fit();
}

struct OwnedSet {
  BigVector<uint64_t> slots;
  std::vector<EntryValue> values;
  BigVector<uint64_t> filter;
};

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
  if (name.empty() || name.size() > kMaxNameLength || names_.size() > UINT32_MAX - 256 || id >= (1u << 24)) return;
  SuffixHasher s(name);
  s.finish();
  const size_t n = s.labels();
  if (n > 127) return;  // empty labels: not a normalised name
  const auto ref = static_cast<uint32_t>(names_.size());
  char* p = names_.append(name.size() + 1);
  p[0] = static_cast<char>(name.size());
  std::memcpy(p + 1, name.data(), name.size());
  items_.push_back({s.h[n - 1], s.h[n >= 2 ? 1 : 0], ref, id, static_cast<uint32_t>(n), subtree});
  any_subtree_ |= subtree;
}

void CompiledSet::Builder::append(Builder&& o) {
  const size_t base = names_.size();
  if (o.items_.size() == 0 || base + o.names_.size() > UINT32_MAX - 256) return;
  std::memcpy(names_.append(o.names_.size()), o.names_.data(), o.names_.size());
  items_.reserve(items_.size() + o.items_.size());
  for (size_t i = 0; i < o.items_.size(); ++i) {
    Item it = o.items_[i];
    it.ref += static_cast<uint32_t>(base);
    items_.push_back(it);
  }
  any_subtree_ |= o.any_subtree_;
  o.items_.clear();
  o.names_.clear();
}

CompiledSet CompiledSet::Builder::build(SetTable& sets, bool dedupe, size_t* dropped) {
  Item* items = items_.data();
  const size_t n = items_.size();
  // Ancestors (fewer labels) first, so dedupe finds them already placed; by
  // hash within a label count, so buckets fill in address order.
  std::sort(items, items + n, [](const Item& a, const Item& b) {
    return a.labels != b.labels ? a.labels < b.labels : a.hash < b.hash;
  });
  auto same = [&](size_t i, size_t j) { return items[i].hash == items[j].hash && items[i].labels == items[j].labels; };
  size_t groups = 0;
  for (size_t i = 0; i < n; ++i) groups += i == 0 || !same(i, i - 1);

  auto own = std::make_shared<OwnedSet>();
  CompiledSet out;
  if (dropped) *dropped = 0;
  if (n == 0) return out;
  SetHeader& hd = out.header_;
  hd.buckets = groups == 0 ? 0 : std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(groups) / (kBucketSlots * kLoad)) + 1);
  own->slots.resize(hd.buckets * kBucketSlots, false);  // fresh pages are zero
  BigVector<uint32_t> vidx(hd.buckets * kBucketSlots, false);  // value per slot until vbits is known
  const size_t pairs = std::bit_ceil(std::max<size_t>(1, (groups * 10 + 63) / 64));
  own->filter.resize(2 * pairs, false);
  uint64_t* slots = own->slots.data();
  uint64_t* filter = own->filter.data();

  auto bucket_of = [&](uint64_t h) {
    return static_cast<size_t>((static_cast<unsigned __int128>(h) * hd.buckets) >> 64);
  };
  auto find_placed = [&](uint64_t h) -> uint32_t {
    for (size_t b = bucket_of(h);; b = b + 1 == hd.buckets ? 0 : b + 1) {
      for (size_t x = b * kBucketSlots; x < (b + 1) * kBucketSlots; ++x) {
        if (vidx[x] == 0) return 0;
        if (slots[x] == h) return vidx[x];
      }
    }
  };
  auto place = [&](uint64_t h, uint32_t v) {
    for (size_t b = bucket_of(h);; b = b + 1 == hd.buckets ? 0 : b + 1) {
      for (size_t x = b * kBucketSlots; x < (b + 1) * kBucketSlots; ++x) {
        if (vidx[x] != 0) continue;
        slots[x] = h;
        vidx[x] = v;
        return;
      }
    }
  };

  std::vector<EntryValue>& values = own->values;
  std::map<std::tuple<uint32_t, uint32_t, uint32_t>, uint32_t> value_index;
  EntryValue last_value;
  uint32_t last_vidx = 0;
  std::vector<uint32_t> sub_ids, exact_ids, all_ids, covered, members;
  size_t kept = 0;
  size_t n_dropped = 0;

  // Items go in hash order, but their anchors' filter words and their text
  // are scattered: fetched this many items ahead, they arrive in time.
  constexpr size_t kAhead = 16;
  for (size_t i = 0; i < n;) {
    const size_t first = i;
    if (first + kAhead < n) {
      const Item& ahead = items[first + kAhead];
      __builtin_prefetch(filter + 2 * (ahead.anchor & (pairs - 1)), 1);
      if (ahead.labels > 3) __builtin_prefetch(names_.data() + ahead.ref);
    }
    sub_ids.clear();
    exact_ids.clear();
    for (; i < n && (i == first || same(i, first)); ++i) (items[i].subtree ? sub_ids : exact_ids).push_back(items[i].id);
    const Item& it = items[first];
    if (i - first > 1) {
      std::sort(sub_ids.begin(), sub_ids.end());
      sub_ids.erase(std::unique(sub_ids.begin(), sub_ids.end()), sub_ids.end());
      std::sort(exact_ids.begin(), exact_ids.end());
      exact_ids.erase(std::unique(exact_ids.begin(), exact_ids.end()), exact_ids.end());
      // A subtree entry already covers the name itself for its ids.
      std::erase_if(exact_ids, [&](uint32_t id) { return std::binary_search(sub_ids.begin(), sub_ids.end(), id); });
    }

    // Only when some subtree entry has fewer labels can one cover this name.
    // Every such entry of two labels or more shares this name's anchor and
    // has left its bits in the anchor's subtree word (ancestors are placed
    // first): most names need neither their text, a random read in the name
    // buffer, nor a probe of the table, which were two thirds of a 1M-name
    // build (perf).
    const uint64_t* anchor_pair = filter + 2 * (it.anchor & (pairs - 1));
    const bool tld_subtree = hd.subtree.has(1);
    const bool may_be_covered = dedupe && any_subtree_ && hd.subtree.any_below(it.labels) &&
                                (anchor_pair[1] != 0 || tld_subtree);
    if (may_be_covered) {
      covered.clear();
      auto add_cover = [&](uint64_t h) {
        const uint32_t v = find_placed(h);
        if (v == 0 || !values[v - 1].subtree) return;
        members = sets.members(values[v - 1].set);
        all_ids.clear();
        std::set_union(covered.begin(), covered.end(), members.begin(), members.end(), std::back_inserter(all_ids));
        covered.swap(all_ids);
      };
      if (it.labels <= 3 && !tld_subtree) {
        // The anchor is the only ancestor that can cover it, and its hash is at hand.
        if (it.labels == 3 && may_be_subtree(anchor_pair, it.anchor)) add_cover(it.anchor);
      } else {
        SuffixHasher sfx(name_of(it));
        sfx.finish();
        for (size_t k = 0; k + 1 < sfx.labels(); ++k) {
          if (!hd.subtree.has(k + 1)) continue;
          const uint64_t* pair = k == 0 ? filter + 2 * (sfx.h[0] & (pairs - 1)) : anchor_pair;
          if (may_be_subtree(pair, sfx.h[k])) add_cover(sfx.h[k]);
        }
      }
      if (!covered.empty()) {
        all_ids.clear();
        std::set_union(sub_ids.begin(), sub_ids.end(), exact_ids.begin(), exact_ids.end(), std::back_inserter(all_ids));
        if (std::includes(covered.begin(), covered.end(), all_ids.begin(), all_ids.end())) {
          ++n_dropped;
          continue;
        }
      }
    }

    const bool subtree = !sub_ids.empty();
    EntryValue v{sets.intern(subtree ? sub_ids : exact_ids), subtree ? sets.intern(exact_ids) : 0, subtree};
    if (last_vidx == 0 || !(v == last_value)) {
      auto [pos, inserted] = value_index.try_emplace({v.set, v.extra_exact, v.subtree}, 0);
      if (inserted) {
        values.push_back(v);
        pos->second = static_cast<uint32_t>(values.size());
      }
      last_value = v;
      last_vidx = pos->second;
    }
    place(it.hash, last_vidx);
    hd.any.set(it.labels);
    if (subtree) hd.subtree.set(it.labels);
    uint64_t* pair = filter + 2 * (it.anchor & (pairs - 1));
    pair[0] |= filter_mask(it.anchor);
    if (subtree) pair[1] |= subtree_mask(it.hash);
    ++kept;
  }

  hd.entries = kept;
  fold_filter(own->filter);
  hd.vbits = std::max<uint32_t>(1, static_cast<uint32_t>(std::bit_width(values.size())));
  for (size_t x = 0; x < own->slots.size(); ++x) slots[x] = vidx[x] ? (slots[x] << hd.vbits) | vidx[x] : 0;
  out.slots_ = own->slots.span();
  out.values_ = values;
  out.filter_ = own->filter.span();
  out.keepalive_ = std::move(own);
  if (dropped) *dropped = n_dropped;
  items_.clear();
  names_.clear();
  return out;
}

bool CompiledSet::from_views(const SetHeader& header, std::span<const uint64_t> slots,
                             std::span<const EntryValue> values, std::span<const uint64_t> filter,
                             std::shared_ptr<const void> keepalive, CompiledSet* out) {
  if (header.entries == 0) {
    *out = CompiledSet();
    return true;
  }
  if (header.buckets > slots.size() || slots.size() != header.buckets * kBucketSlots) return false;
  if (header.entries > slots.size() || (header.entries > 0 && (filter.empty() || header.buckets == 0))) return false;
  if (header.vbits < 1 || header.vbits > 32 || values.size() >= (uint64_t{1} << header.vbits)) return false;
  if (!filter.empty() && (filter.size() < 2 || !std::has_single_bit(filter.size()))) return false;
  CompiledSet s;
  s.header_ = header;
  s.slots_ = slots;
  s.values_ = values;
  s.filter_ = filter;
  s.keepalive_ = std::move(keepalive);
  *out = std::move(s);
  return true;
}

uint32_t CompiledSet::find(uint64_t h) const {
  const uint32_t vb = header_.vbits;
  const uint64_t vmask = (uint64_t{1} << vb) - 1;
  const uint64_t want = h << vb;
  size_t b = bucket_of(h);
  for (size_t tries = 0; tries < header_.buckets; ++tries) {
    const uint64_t* s = slots_.data() + b * kBucketSlots;
    for (size_t j = 0; j < kBucketSlots; ++j) {
      const uint64_t v = s[j];
      if (v == 0) return 0;
      if ((v & ~vmask) == want) {
        const auto idx = static_cast<uint32_t>(v & vmask);
        return idx <= values_.size() ? idx : 0;
      }
    }
    if (++b == header_.buckets) b = 0;
  }
  return 0;
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

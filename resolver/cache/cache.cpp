#include "cache/cache.hpp"

#include <algorithm>

#include "dns/wire.hpp"

namespace hush::cache {

using namespace hush::dns;

size_t make_key(const uint8_t* qname_wire, size_t qname_len, uint16_t qtype, uint16_t qclass,
                bool do_bit, char* out) {
  for (size_t i = 0; i < qname_len; ++i) {
    uint8_t c = qname_wire[i];
    out[i] = char(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  auto* tail = reinterpret_cast<uint8_t*>(out) + qname_len;
  put16(tail, qtype);
  put16(tail + 2, qclass);
  tail[4] = do_bit ? 1 : 0;
  return qname_len + 5;
}

bool prepare(const uint8_t* reply, size_t len, const TtlLimits& limits, uint64_t now_ms,
             Entry& e) {
  if (len < kHeaderSize || len > 0xFFFF) return false;
  Header h = read_header(reply);
  uint8_t rc = rcode_of(h.flags);
  e.wire.assign(reply, reply + len);
  e.ttl_offsets.clear();
  e.cname_targets.clear();
  e.cacheable = false;
  e.stored_ms = e.expires_ms = now_ms;
  e.hits = 0;
  e.prefetching = false;
  size_t opt_at = 0;
  bool opt_last = false;
  uint32_t min_ttl = UINT32_MAX;
  uint32_t negative_ttl = UINT32_MAX;
  bool bad_name = false;
  bool ok = walk_records(reply, len, [&](const Record& r) {
    if (r.type == type::OPT) {
      opt_at = r.offset;
      opt_last = r.rdata_offset + r.rdlength == len;
      return true;
    }
    e.ttl_offsets.push_back(uint16_t(r.ttl_offset));
    min_ttl = std::min(min_ttl, r.ttl);
    if (r.section == 1 && r.type == type::CNAME) {
      std::string target;
      if (!read_name(reply, len, r.rdata_offset, target)) {
        bad_name = true;
        return false;
      }
      e.cname_targets.push_back(std::move(target));
    }
    if (r.section == 2 && r.type == type::SOA && r.rdlength >= 22)
      negative_ttl = std::min(r.ttl, get32(reply + r.rdata_offset + r.rdlength - 4));
    return true;
  });
  if (!ok || bad_name) return false;
  // Each client gets its own OPT; removing the upstream's only works when it
  // is last, which is where every server puts it.
  if (opt_at) {
    if (!opt_last) return false;
    e.wire.resize(opt_at);
    put16(e.wire.data() + 10, h.arcount - 1);
  }
  if ((h.flags & flag::TC) || (rc != rcode::NoError && rc != rcode::NxDomain)) return true;
  bool negative = rc == rcode::NxDomain || h.ancount == 0;
  uint32_t ttl;
  if (negative) {
    if (negative_ttl == UINT32_MAX) return true;
    ttl = std::min(negative_ttl, limits.negative_max_ttl);
  } else {
    if (min_ttl == UINT32_MAX) return true;
    ttl = std::clamp(min_ttl, limits.min_ttl, std::max(limits.min_ttl, limits.max_ttl));
  }
  if (ttl == 0) return true;
  // The min/max settings apply to every record a client sees, not only to the entry's lifetime.
  for (uint16_t off : e.ttl_offsets) {
    uint8_t* p = e.wire.data() + off;
    put32(p, negative ? ttl : std::clamp(get32(p), ttl, std::max(ttl, limits.max_ttl)));
  }
  e.cacheable = true;
  e.expires_ms = now_ms + uint64_t(ttl) * 1000;
  return true;
}

Cache::Cache(size_t max_entries, TtlLimits limits)
    : per_shard_max_(std::max<size_t>(1, max_entries / kShards)),
      enabled_(max_entries > 0),
      limits_(limits) {}

size_t Cache::entry_bytes(const std::string& key, const Entry& e) {
  // Every heap block is counted with malloc's 16 bytes of its own; the
  // list node, the index node and its bucket with the pair they hold.
  constexpr size_t kBlock = 16;
  constexpr size_t kNodes = sizeof(std::pair<std::string, Entry>) + 2 * sizeof(void*) + kBlock +
                            sizeof(std::string_view) + 3 * sizeof(void*) + kBlock + sizeof(void*);
  auto heap = [](size_t bytes) { return bytes ? bytes + kBlock : 0; };
  auto text = [&](const std::string& t) { return t.capacity() > 15 ? heap(t.capacity() + 1) : 0; };
  size_t n = kNodes + text(key) + heap(e.wire.capacity()) + heap(e.ttl_offsets.capacity() * sizeof(uint16_t)) +
             heap(e.cname_targets.capacity() * sizeof(std::string));
  for (const std::string& t : e.cname_targets) n += text(t);
  return n;
}

void Cache::erase(Shard& s, std::list<std::pair<std::string, Entry>>::iterator node) {
  s.bytes -= entry_bytes(node->first, node->second);
  s.index.erase(std::string_view(node->first));
  s.lru.erase(node);
}

void Cache::evict_over_bytes(Shard& s) {
  const size_t max = shard_max_bytes_.load(std::memory_order_relaxed);
  // The entry just stored (at the front) stays, even alone over the bound.
  while (max && s.bytes > max && s.lru.size() > 1) erase(s, std::prev(s.lru.end()));
}

void Cache::insert(std::string_view key, const Entry& e) {
  if (!enabled_ || !e.cacheable) return;
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = s.index.find(key);
  if (it != s.index.end()) {
    auto node = it->second;
    s.bytes -= entry_bytes(node->first, node->second);
    node->second = e;
    s.bytes += entry_bytes(node->first, node->second);
    s.lru.splice(s.lru.begin(), s.lru, node);
    evict_over_bytes(s);
    return;
  }
  const size_t max_bytes = shard_max_bytes_.load(std::memory_order_relaxed);
  if (s.index.size() < per_shard_max_ && (!max_bytes || s.bytes < max_bytes || s.lru.empty())) {
    s.lru.emplace_front(std::string(key), e);
    s.index.emplace(s.lru.front().first, s.lru.begin());
    s.bytes += entry_bytes(s.lru.front().first, s.lru.front().second);
    evict_over_bytes(s);
    return;
  }
  // Full, as a busy cache always is: the least recently used entry's list
  // node, index node and buffers take the new entry, so storing allocates
  // nothing (on cache misses, freeing the old entry and allocating the new
  // one cost more than the rest of the insert).
  auto node = std::prev(s.lru.end());
  s.bytes -= entry_bytes(node->first, node->second);
  auto handle = s.index.extract(std::string_view(node->first));
  node->first.assign(key);
  node->second = e;
  s.bytes += entry_bytes(node->first, node->second);
  s.lru.splice(s.lru.begin(), s.lru, node);
  handle.key() = node->first;
  s.index.insert(std::move(handle));
  evict_over_bytes(s);
}

bool Cache::claim_prefetch(Entry& e, uint64_t now_ms) {
  if (prefetch_.max_inflight == 0 || e.prefetching || e.hits < prefetch_.min_hits) return false;
  uint64_t ttl_ms = e.expires_ms - e.stored_ms;
  if ((e.expires_ms - now_ms) * 10 > ttl_ms * prefetch_.window_tenths) return false;
  size_t n = prefetch_inflight_.load(std::memory_order_relaxed);
  do {
    if (n >= prefetch_.max_inflight) return false;
  } while (!prefetch_inflight_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  e.prefetching = true;
  return true;
}

size_t Cache::bytes() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.bytes;
  }
  return n;
}

size_t Cache::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.index.size();
  }
  return n;
}

void Cache::clear() {
  for (Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    s.index.clear();
    s.lru.clear();
    s.bytes = 0;
  }
}

}  // namespace hush::cache


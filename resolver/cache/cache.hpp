// The answer cache: stored upstream replies keyed by lower-case name, type,
// class and DO bit, shared by all workers. Sharded so workers rarely meet on
// a lock; bounded in entries and, under a memory budget, in bytes, with
// least-recently-used eviction per shard. Time is always passed in, so
// tests move the clock instead of sleeping.
//
// Expired entries stay until stale_max has passed (RFC 8767), still under the
// same entry bound and LRU, so an upstream outage can be bridged with stale
// answers; the cache also says which popular entries are due for a prefetch.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hush::cache {

struct TtlLimits {
  uint32_t min_ttl = 0;
  uint32_t max_ttl = 86400;
  uint32_t negative_max_ttl = 3600;
  // Seconds an expired entry is kept to answer stale from; 0 drops it at expiry.
  uint32_t stale_max = 0;
};

// A popular entry is refreshed before it expires: when it is asked in the
// last tenth of its TTL and has been asked at least twice since it was
// stored (one late question says nothing about popularity; two within one
// TTL mean the name is likely asked again after expiry).
struct PrefetchRule {
  size_t max_inflight = 0;  // 0: no prefetch
  uint32_t min_hits = 2;
  uint32_t window_tenths = 1;  // of the entry's TTL, counted back from its expiry
};

// What a lookup found besides a fresh entry.
struct Lookup {
  bool stale = false;     // an expired entry is kept that can be served stale
  bool prefetch = false;  // the caller holds a prefetch slot: ask upstream, then prefetch_done()
};

// A reply in the form it is served from: the message without its OPT record,
// TTLs clamped by the limits; `ttl_offsets` locates every TTL to count down.
struct Entry {
  std::vector<uint8_t> wire;
  std::vector<uint16_t> ttl_offsets;
  // Lower-case targets of the CNAME records in the answer, so the policy can
  // check the chain on every serve without parsing the message again.
  std::vector<std::string> cname_targets;
  // Rebinding protection judged the reply (a public name with a private
  // address): it is served as blocked, from the cache too.
  bool rebind = false;
  bool cacheable = false;
  uint64_t stored_ms = 0;
  uint64_t expires_ms = 0;
  uint32_t hits = 0;         // lookups served since stored
  bool prefetching = false;  // a prefetch was started for this entry
};

// Longest key: a 255-octet name + type + class + DO.
constexpr size_t kMaxKey = 255 + 5;

// Writes the key (lower-case question name in wire form + type + class + DO)
// into `out`, which holds kMaxKey bytes; returns its length.
size_t make_key(const uint8_t* qname_wire, size_t qname_len, uint16_t qtype, uint16_t qclass,
                bool do_bit, char* out);

// Turns a checked upstream reply into its served form. Positive answers live
// for their smallest TTL, negative ones (RFC 2308) for the SOA's
// min(TTL, MINIMUM), both clamped by the limits; errors other than NXDOMAIN,
// truncated replies and TTL 0 are marked not cacheable. Returns false when
// the reply cannot be served from (malformed, or its OPT is not last).
bool prepare(const uint8_t* reply, size_t len, const TtlLimits& limits, uint64_t now_ms, Entry& out);

class Cache {
 public:
  Cache(size_t max_entries, TtlLimits limits);

  // Calls `use(entry, age_seconds)` under the shard lock when a fresh entry
  // exists and returns true; the entry must not be kept past the call. An
  // entry past its stale window is dropped. With `info`, says whether an
  // expired entry is kept and, for a fresh popular entry near expiry, claims
  // the entry's one prefetch when a slot is free.
  template <class Use>
  bool with_fresh(std::string_view key, uint64_t now_ms, Use&& use, Lookup* info = nullptr);

  // Calls `use(entry)` under the shard lock when an expired entry within its
  // stale window exists and returns true.
  template <class Use>
  bool with_stale(std::string_view key, uint64_t now_ms, Use&& use);

  // Prefetch settings; call before the first lookup.
  void set_prefetch(const PrefetchRule& rule) { prefetch_ = rule; }
  // Frees the slot a lookup claimed, once the prefetch is answered or failed.
  void prefetch_done() { prefetch_inflight_.fetch_sub(1, std::memory_order_relaxed); }
  size_t prefetch_inflight() const { return prefetch_inflight_.load(std::memory_order_relaxed); }

  // Stores a copy of a prepared, cacheable entry, evicting the least
  // recently used entries of its shard while the shard is over its entry
  // or byte bound. The caller keeps `e` to answer from.
  void insert(std::string_view key, const Entry& e);

  // The byte bound, all shards together; 0: entries only. A lower bound is
  // reached as entries are inserted. Thread-safe.
  void set_max_bytes(size_t bytes) { shard_max_bytes_.store(bytes / kShards, std::memory_order_relaxed); }
  size_t max_bytes() const { return shard_max_bytes_.load(std::memory_order_relaxed) * kShards; }
  // What the entries hold: their keys, messages and the nodes that keep
  // them, as counted against the byte bound.
  size_t bytes() const;
  // What one entry is counted as.
  static size_t entry_bytes(const std::string& key, const Entry& e);

  const TtlLimits& limits() const { return limits_; }

  size_t size() const;
  void clear();

 private:
  struct Shard {
    mutable std::mutex mu;
    std::list<std::pair<std::string, Entry>> lru;  // front = most recent
    struct Hash {
      using is_transparent = void;
      size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    // Keyed by views of the keys in `lru`, whose nodes never move.
    std::unordered_map<std::string_view, std::list<std::pair<std::string, Entry>>::iterator, Hash> index;
    size_t bytes = 0;  // entry_bytes() of every entry
  };
  static constexpr size_t kShards = 16;
  Shard& shard_for(std::string_view key) {
    return shards_[std::hash<std::string_view>{}(key) % kShards];
  }

  bool claim_prefetch(Entry& e, uint64_t now_ms);
  // Drops the least recently used entries while `s` is over its byte bound.
  void evict_over_bytes(Shard& s);
  static void erase(Shard& s, std::list<std::pair<std::string, Entry>>::iterator node);
  uint64_t stale_ms() const { return uint64_t(limits_.stale_max) * 1000; }

  size_t per_shard_max_;
  std::atomic<size_t> shard_max_bytes_{0};
  bool enabled_;
  TtlLimits limits_;
  PrefetchRule prefetch_;
  std::atomic<size_t> prefetch_inflight_{0};
  Shard shards_[kShards];
};

template <class Use>
bool Cache::with_fresh(std::string_view key, uint64_t now_ms, Use&& use, Lookup* info) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = s.index.find(key);
  if (it == s.index.end()) return false;
  auto node = it->second;
  Entry& e = node->second;
  // The index compares whole keys, never only hashes, so a collision cannot
  // serve another name's answer.
  if (e.expires_ms <= now_ms) {
    if (e.expires_ms + stale_ms() <= now_ms) {
      erase(s, node);
    } else if (info) {
      info->stale = true;
    }
    return false;
  }
  s.lru.splice(s.lru.begin(), s.lru, node);
  ++e.hits;
  if (info && claim_prefetch(e, now_ms)) info->prefetch = true;
  use(static_cast<const Entry&>(e), uint32_t((now_ms - e.stored_ms) / 1000));
  return true;
}

template <class Use>
bool Cache::with_stale(std::string_view key, uint64_t now_ms, Use&& use) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = s.index.find(key);
  if (it == s.index.end()) return false;
  auto node = it->second;
  const Entry& e = node->second;
  if (e.expires_ms > now_ms || e.expires_ms + stale_ms() <= now_ms) return false;
  s.lru.splice(s.lru.begin(), s.lru, node);
  use(e);
  return true;
}

}  // namespace hush::cache

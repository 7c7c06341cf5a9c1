// Questions currently being asked upstream, so identical questions from many
// clients go out once (what follows each attempt is upstream/attempt.hpp).
// Logic only: the network layer owns the sockets and timers and keeps a
// pointer in `io`.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/client.hpp"
#include "dns/query.hpp"
#include "upstream/transport.hpp"

namespace hush::upstream {

struct Waiter {
  ClientRef client;
  dns::Query query;
  uint64_t received_ms = 0;
  unsigned __int128 groups = 1;  // the client's policy groups (blocklists::GroupMask)
  bool inspect = true;       // false when the name was explicitly allowed
  uint64_t received_ns = 0;  // monotonic, for the logged latency
  // A prefetch, asked for the cache and no client: nothing is sent or logged.
  bool background = false;
  // Answered already from a stale cache entry; the upstream's answer only
  // refreshes the cache.
  bool served = false;
};

struct Pending {
  std::string key;
  uint16_t id = 0;                // the random ID of the current attempt
  std::vector<uint8_t> order;     // upstreams to try, in order
  size_t attempt = 0;             // index into order
  Transport transport = Transport::Udp;  // of the current attempt
  uint8_t route = 0;              // upstream group: 0 the default, i+1 forward zone i
  bool validate = false;          // DNSSEC: asked with DO and CD, validated before it is served
  uint64_t sent_ms = 0;
  std::vector<Waiter> waiters;
  // Why an upstream refused this question's attempt (its TLS certificate),
  // for the extended error when no other upstream answers.
  std::string refused;
  void* io = nullptr;             // owned by the network layer
  // The current attempt's place among those waiting (upstream::Deadlines).
  uint64_t deadline_ms = 0;
  Pending* deadline_prev = nullptr;
  Pending* deadline_next = nullptr;
  bool has_deadline = false;

  // With fewer than two upstreams the one there is asked twice, so a single
  // lost datagram does not turn into SERVFAIL.
  size_t max_attempts() const { return order.size() < 2 ? 2 : order.size(); }
  uint8_t server() const { return order[attempt % order.size()]; }
};

class InflightTable {
 public:
  // A Pending may collect this many waiters; more identical questions during
  // one upstream round trip are answered SERVFAIL instead of growing memory.
  static constexpr size_t kMaxWaiters = 512;

  // Adds the waiter to an identical in-flight question and returns it, or
  // returns nullptr when the question is new (the caller then calls start).
  Pending* join(std::string_view key, const Waiter& w, bool* full);
  Pending& start(std::string key, Waiter&& w);
  Pending* find(std::string_view key);
  // Removes the question and hands back its waiters.
  std::vector<Waiter> finish(std::string_view key);
  size_t size() const { return table_.size(); }
  template <class F>
  void for_each(F&& f) {
    for (auto& [key, p] : table_) f(*p);
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::unique_ptr<Pending>, Hash, std::equal_to<>> table_;
};

// The questions in flight across all workers. A worker that sees a question
// another worker is already asking adds its waiter here instead of asking
// again; the asking worker collects those waiters when the answer comes.
// Only cache misses come here, so one lock is cheap enough.
class SharedInflight {
 public:
  static constexpr int kClaimed = -1;
  static constexpr int kFull = -2;
  // Either claims `key` for `worker` (returns kClaimed: the caller asks
  // upstream) or queues `w` for the worker asking already and returns it;
  // kFull when that worker has kMaxWaiters queued already.
  int claim_or_join(std::string_view key, int worker, const Waiter& w);
  // Ends the claim and hands back the waiters other workers queued.
  std::vector<Waiter> release(std::string_view key);
  // Takes out the waiters `worker` queued on `key` that arrived at or
  // before cutoff_ms (to be answered stale); the claim stays.
  std::vector<Waiter> take_due(std::string_view key, int worker, uint64_t cutoff_ms);

 private:
  struct Claim {
    int owner;
    std::vector<Waiter> waiters;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::mutex mu_;
  std::unordered_map<std::string, Claim, Hash, std::equal_to<>> claims_;
};

}  // namespace hush::upstream

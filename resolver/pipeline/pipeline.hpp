// The path of one query, from parsed bytes to a verdict, with no I/O: the
// network layer feeds it bytes and the clock and acts on the verdict, so tests
// can drive it with a fake clock and canned upstream replies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "access/access.hpp"
#include "cache/cache.hpp"
#include "dns/client.hpp"
#include "metrics/counters.hpp"
#include "dns/answer.hpp"
#include "dns/query.hpp"
#include "local/load.hpp"
#include "pipeline/outcome.hpp"
#include "pipeline/policy_store.hpp"
#include "upstream/inflight.hpp"
#include "upstream/selector.hpp"

namespace hush {

enum class Verdict : uint8_t {
  Answer,   // ctx.out holds the answer
  Forward,  // ask upstream; ctx.key is the cache key
  Drop,     // send nothing
};

struct QueryContext {
  const uint8_t* msg = nullptr;
  size_t len = 0;
  ClientRef client;
  uint64_t now_ms = 0;
  uint8_t* out = nullptr;  // answer buffer, owned by the caller
  size_t out_cap = 0;

  dns::Query q;
  size_t out_len = 0;
  Outcome outcome = Outcome::None;
  std::string_view reason;  // why, in a few words, for logs and `hush query`
  // The policy's decision; its views live as long as the worker's policy.
  blocklists::Decision decision;
  blocklists::GroupMask groups = blocklists::kDefaultGroup;
  uint8_t route = 0;  // which upstream group: 0 the default, i+1 forward zone i
  bool validate = false;  // the upstream's answer is to be DNSSEC-validated
  char key[cache::kMaxKey];
  size_t key_len = 0;
  // Set on Forward when an expired entry is kept for this key: it answers
  // the client if the upstreams fail or are slow (RFC 8767).
  bool stale = false;
  // Set on a cache hit that claimed a prefetch slot: the caller asks
  // upstream in the background and frees the slot (Cache::prefetch_done).
  bool prefetch = false;

  std::string_view key_view() const { return {key, key_len}; }
};

using LocalStore = Published<local::Data>;

// EDNS Client Subnet from clients: dropped, or sent upstream cut to these
// prefix lengths.
struct SubnetSettings {
  bool forward = false;
  uint8_t prefix_v4 = 24;
  uint8_t prefix_v6 = 56;
};

// DNS-rebinding protection: what is exempt from it besides the names of
// local and forward zones, which exist to return the home's own addresses.
struct RebindSettings {
  bool protect = true;
  std::vector<std::string> allow;  // lower-case names, each with its subdomains
};

struct BlockSettings {
  bool enabled = true;
  bool cname_inspection = true;
  dns::BlockAnswer answer;
};

class Pipeline {
 public:
  Pipeline(cache::Cache& cache, Counters& counters, const PolicyStore& policies,
           BlockSettings block, const AccessSettings& access, RateLimiter& limiter,
           const LocalStore& local, const std::vector<upstream::ForwardZone>& forwards)
      : cache_(cache),
        counters_(counters),
        policy_(policies),
        block_(block),
        access_(access),
        limiter_(limiter),
        local_(local),
        forwards_(forwards) {}

  Verdict on_query(QueryContext& ctx);

  // From now on takes the blocking settings (mode, TTL, on/off...) from
  // `store` whenever it publishes new ones, as SIGHUP does. Call before the
  // first query; `store` must outlive the pipeline.
  void follow_block_settings(const Published<BlockSettings>& store) { block_store_.emplace(store); }
  void set_rebind(RebindSettings r) { rebind_ = std::move(r); }
  void set_client_subnet(SubnetSettings s) { subnet_ = s; }

  // DNSSEC validation on: questions to the default upstreams without CD are
  // marked for validation; those with CD are cached apart, unvalidated.
  // Call before the first query.
  void validate_answers(bool on) { validating_ = on; }

  // Prepares an upstream reply to `q` (asked over `route`) once for all
  // waiters and caches it, marked when rebinding protection replaces it.
  // Returns false when the reply cannot be served (the caller treats it as a
  // failure).
  bool on_reply(std::string_view key, const dns::Query& q, uint8_t route, const uint8_t* reply,
                size_t len, uint64_t now_ms, cache::Entry& prepared);
  // Writes the answer for one waiter from a prepared reply, or the sinkhole
  // answer when its CNAME chain reaches a name blocked for that waiter (then
  // `*blocked_by` points at the decision, valid until the next call).
  size_t answer_waiter(const upstream::Waiter& w, const cache::Entry& prepared, uint8_t* out,
                       size_t cap, const blocklists::Decision** blocked_by = nullptr);
  // Writes SERVFAIL with `ede`, by default an extended error saying no
  // upstream answered.
  size_t answer_failed(const upstream::Waiter& w, uint8_t* out, size_t cap, const dns::Ede* ede = nullptr) const;
  // Writes the stale answer for one waiter from the expired entry kept under
  // `key`: every TTL at kStaleTtl, EDE 3 "Stale Answer" (RFC 8767). Returns 0
  // when no such entry is kept; the CNAME chain is checked as in
  // answer_waiter (`*blocked_by`, and then the sinkhole answer).
  size_t answer_stale(std::string_view key, const upstream::Waiter& w, uint64_t now_ms, uint8_t* out,
                      size_t cap, const blocklists::Decision** blocked_by = nullptr);
  // Frees the prefetch slot a cache hit claimed (QueryContext::prefetch).
  void prefetch_done() { cache_.prefetch_done(); }

  // The TTL of stale answers, as RFC 8767 recommends: clients come back
  // soon, when the upstream may answer again.
  static constexpr uint32_t kStaleTtl = 30;

  // The largest answer a client can take over its transport.
  static size_t limit_for(const dns::Query& q, Transport t);

 private:
  Verdict reject(QueryContext& ctx, dns::ParseStatus status);
  bool refused(QueryContext& ctx, Verdict& verdict);
  uint8_t route_for(std::string_view name) const;
  bool answer_local(QueryContext& ctx);
  void answer_own_name(QueryContext& ctx, const local::Data& data);
  void answer_chaos(QueryContext& ctx);
  void answer_any(QueryContext& ctx);
  bool check_policy(QueryContext& ctx);
  bool serve_cached(QueryContext& ctx);
  void key_for(QueryContext& ctx);
  // The first CNAME target that the policy blocks for these groups, if any.
  const blocklists::Decision* blocked_target(const cache::Entry& e, const dns::Query& q,
                                             blocklists::GroupMask groups,
                                             const sockaddr* client);
  size_t write_blocked(const dns::Query& q, const blocklists::Decision& d, Transport t,
                       uint8_t* out, size_t cap);
  bool rebind_exempt(std::string_view name, uint8_t route);

  cache::Cache& cache_;
  Counters& counters_;
  PolicyView policy_;
  BlockSettings block_;
  std::optional<PublishedView<BlockSettings>> block_store_;
  const BlockSettings* block_seen_ = nullptr;
  const AccessSettings& access_;
  RateLimiter& limiter_;
  PublishedView<local::Data> local_;
  const std::vector<upstream::ForwardZone>& forwards_;
  RebindSettings rebind_;
  SubnetSettings subnet_;
  bool validating_ = false;
  blocklists::Decision target_decision_;
  char ede_text_[300];
};

}  // namespace hush

// A worker's questions to its upstream servers: coalescing identical ones
// (in this worker and across workers), starting each attempt over the
// transport upstream::judge_reply and next_attempt choose, and answering
// every waiter once a reply is served or every attempt is spent.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "metrics/counters.hpp"
#include "net/query_logger.hpp"
#include "net/upstream_io.hpp"
#include "net/validation.hpp"
#include "pipeline/pipeline.hpp"
#include "upstream/inflight.hpp"
#include "upstream/selector.hpp"
#include "upstream/transport.hpp"

namespace hush::net {

class Forwarder final : private UpstreamIo::Events {
 public:
  // Where the answers go; called on the loop's thread.
  class Clients {
   public:
    // Sends `len` bytes (none when len is 0) to the client of `w`.
    virtual void deliver(const upstream::Waiter& w, const uint8_t* data, size_t len) = 0;
    // A question left the in-flight table (answered or failed).
    virtual void question_done() = 0;

   protected:
    ~Clients() = default;
  };

  // With a validator, replies to questions the pipeline marked for
  // validation are validated before they are cached and served.
  Forwarder(uv_loop_t* loop, const Config& cfg, int worker, upstream::SharedInflight& shared, Pipeline& pipeline,
            Counters& counters, QueryLogger& log, Clients& clients,
            const validate::Validator* validator = nullptr);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Asks upstream for ctx's question (ctx.key, ctx.route), or joins an
  // identical question in flight in this worker or another. The answer comes
  // later through Clients::deliver; too many identical questions waiting
  // are answered SERVFAIL at once.
  // When ctx.stale, the client gets the kept stale answer after
  // cache.stale_answer_after_ms if the upstream has not answered by then
  // (RFC 8767's client response timer), or at once when every upstream fails.
  void forward(QueryContext& ctx);
  // Refreshes ctx's cache entry in the background (ctx.prefetch): asked like
  // a client's question but answered to no one and logged nowhere; frees
  // the prefetch slot when done.
  void prefetch(const QueryContext& ctx);
  // Sends the upstream queries batched in this loop iteration.
  void flush() { io_->flush(); }
  size_t in_flight() const { return inflight_.size(); }
  // Closes the upstream sockets; call once nothing is in flight.
  void close();

  // Stale checks waiting at most per worker (a key of at most 260 bytes
  // each, so a few MiB); beyond, a question gets its stale answer only when
  // the upstreams fail. Reached only by over 9,000 misses a second with
  // stale answers kept, during one stale_answer_after_ms of 1800.
  static constexpr size_t kMaxStaleChecks = 16384;

 private:
  upstream::Selector& selector(const upstream::Pending& p) { return selectors_[p.route]; }
  uint64_t now_ms() const { return uv_now(loop_); }
  // Asks upstream for `key` on behalf of w, or joins the same question in flight.
  void ask(std::string_view key, uint8_t route, bool validate, upstream::Waiter&& w);
  void answer_now(std::string_view key, const upstream::Waiter& w, const char* reason);
  // Answers w from the stale entry under `key`; false when none is kept.
  bool serve_stale(std::string_view key, const upstream::Waiter& w);
  void watch_stale(std::string_view key, uint64_t now_ms);
  void on_stale_timer();
  void arm_stale_timer();
  void answer_one(const upstream::Waiter& w, const cache::Entry* prepared, const std::string& upstream,
                  const dns::Ede* failure = nullptr);
  void send_attempt(upstream::Pending& p, upstream::Transport transport);
  void on_upstream_reply(upstream::Pending& p, const uint8_t* data, size_t len) override;
  void on_upstream_failure(upstream::Pending& p, bool timed_out, const char* why) override;
  void on_upstream_stray(uint8_t route, uint8_t server, const uint8_t* data, size_t len) override;
  void attempt_failed(upstream::Pending& p, const char* why);
  void complete(upstream::Pending& p, const uint8_t* reply, size_t len);
  // The question and `reply` to dnstap as FORWARDER frames, when it takes them.
  void tap_exchange(const upstream::Pending& p, const uint8_t* reply, size_t len);
  void validate_reply(upstream::Pending& p, const uint8_t* reply, size_t len);
  void validated(Validations::Done& d);
  // Answers this worker's waiters and those other workers queued, from the
  // prepared reply or, without one, with SERVFAIL (and `failure` as its
  // extended error, when given).
  void answer_all(upstream::Pending& p, const cache::Entry* prepared, const dns::Ede* failure = nullptr);

  uv_loop_t* loop_;
  int worker_;
  upstream::SharedInflight& shared_;
  Pipeline& pipeline_;
  Counters& counters_;
  QueryLogger& log_;
  Clients& clients_;
  std::vector<upstream::Selector> selectors_;  // [0] default upstreams, [i+1] forward zone i
  upstream::InflightTable inflight_;
  std::unique_ptr<UpstreamIo> io_;
  std::unique_ptr<Validations> validations_;  // null when DNSSEC validation is off
  std::vector<uint8_t> scratch_;  // one answer at a time
  struct StaleCheck {
    uint64_t due_ms;
    std::string key;
  };
  uint32_t stale_after_ms_;
  // Every check waits the same time, so they fall due in the order pushed.
  std::deque<StaleCheck> stale_checks_;
  uv_timer_t stale_timer_;
  bool closed_ = false;
};

}  // namespace hush::net

// A worker's side of the query log: one record per answer (or refusal),
// handed to the log queue without waiting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dnstap/tap.hpp"
#include "pipeline/pipeline.hpp"
#include "querylog/queue.hpp"
#include "querylog/record.hpp"
#include "upstream/inflight.hpp"

namespace hush::net {

class QueryLogger {
 public:
  // `producer` is the worker's ring in the log queue; null turns logging off.
  // `tap` (null: off) gets each logged answer too, as worker `index`'s, and
  // so does `exported` (null: off), the worker's ring of the JSON-lines export.
  explicit QueryLogger(querylog::Producer* producer, dnstap::Tap* tap = nullptr, size_t index = 0,
                       querylog::Producer* exported = nullptr)
      : producer_(producer), tap_(tap), exported_(exported), index_(index) {}

  // Logs a query the pipeline settled at once. A full queue drops the record
  // and counts the drop (querylog::Producer); nothing here fails.
  void answered(const QueryContext& ctx);
  // Logs the answer (`len` bytes, or none) one waiter of a forwarded question
  // got, with the upstream that gave it; the latency runs from when the
  // waiter's query arrived. Fails as answered() does.
  void waiter(const upstream::Waiter& w, Outcome outcome, std::string_view reason, const uint8_t* answer,
              size_t len, std::string_view upstream);
  // As waiter(), for a waiter whose answer the policy blocked (CNAME
  // inspection): the reason is the list and rule that matched.
  void blocked_waiter(const upstream::Waiter& w, const blocklists::Decision& d, const uint8_t* answer,
                      size_t len, std::string_view upstream);
  // Whether exchanges with the upstreams go to dnstap (dnstap.forwarder).
  bool taps_exchanges() const { return tap_ && tap_->forwarder(); }
  void exchange(const dnstap::Exchange& x) { tap_->forwarded(index_, x); }

 private:
  std::string_view blocked_reason(const blocklists::Decision& d);
  void log(const ClientRef& client, const dns::Query& q, Outcome outcome, std::string_view reason,
           const uint8_t* answer, size_t len, std::string_view upstream, uint32_t latency_us);

  querylog::Producer* producer_;
  dnstap::Tap* tap_;
  querylog::Producer* exported_;
  size_t index_;
  char reason_[300];
  char name_[querylog::kMaxName];  // the name in presentation format, when it needs escapes
};

}  // namespace hush::net

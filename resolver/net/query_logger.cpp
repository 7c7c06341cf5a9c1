#include "net/query_logger.hpp"

#include <uv.h>

#include <algorithm>
#include <cstring>

#include "base/clock.hpp"
#include "base/printable.hpp"
#include "querylog/record.hpp"

namespace hush::net {

namespace {
uint32_t since_us(uint64_t received_ns) { return uint32_t((uv_hrtime() - received_ns) / 1000); }
}  // namespace

void QueryLogger::answered(const QueryContext& ctx) {
  if (!producer_ && !tap_ && !exported_) return;
  std::string_view reason = ctx.outcome == Outcome::Blocked ? blocked_reason(ctx.decision) : ctx.reason;
  log(ctx.client, ctx.q, ctx.outcome, reason, ctx.out_len ? ctx.out : nullptr, ctx.out_len, {}, 0);
}

void QueryLogger::waiter(const upstream::Waiter& w, Outcome outcome, std::string_view reason,
                         const uint8_t* answer, size_t len, std::string_view upstream) {
  if (!producer_ && !tap_ && !exported_) return;
  log(w.client, w.query, outcome, reason, answer, len, upstream, since_us(w.received_ns));
}

void QueryLogger::blocked_waiter(const upstream::Waiter& w, const blocklists::Decision& d,
                                 const uint8_t* answer, size_t len, std::string_view upstream) {
  if (!producer_ && !tap_ && !exported_) return;
  log(w.client, w.query, Outcome::Blocked, blocked_reason(d), answer, len, upstream, since_us(w.received_ns));
}

std::string_view QueryLogger::blocked_reason(const blocklists::Decision& d) {
  // "LIST: RULE" by copies, not snprintf: this runs for every blocked answer.
  size_t n = 0;
  for (std::string_view part : {d.list, std::string_view(": "), d.rule}) {
    size_t take = std::min(part.size(), sizeof reason_ - n);
    std::memcpy(reason_ + n, part.data(), take);
    n += take;
  }
  return {reason_, n};
}

void QueryLogger::log(const ClientRef& client, const dns::Query& q, Outcome outcome, std::string_view reason,
                      const uint8_t* answer, size_t len, std::string_view upstream, uint32_t latency_us) {
  std::optional<querylog::Status> status = log_status(outcome);
  if (!status) return;
  querylog::Event e;
  e.time_us = hush::now_us();
  e.client = reinterpret_cast<const sockaddr*>(&client.addr);
  e.client_id = client.id.view();
  e.transport = client.transport;
  // The resolver's text of the name joins labels with dots whatever they
  // hold; the log keeps presentation format, so that a label with a dot or
  // control bytes in it reads back as what was asked.
  e.name = q.name_view();
  if (name_needs_escapes(q.qname_wire, q.qname_wire_len))
    e.name = {name_, name_to_text(q.qname_wire, q.qname_wire_len, name_, sizeof name_)};
  e.qtype = q.qtype;
  e.status = *status;
  e.reason = reason;
  e.answer = answer;
  e.answer_len = len;
  e.upstream = upstream;
  e.latency_us = latency_us;
  if (producer_) producer_->log(e);
  if (tap_) tap_->answer(index_, e, q.qname_wire, q.qname_wire_len);
  if (exported_) exported_->log(e);
}

}  // namespace hush::net

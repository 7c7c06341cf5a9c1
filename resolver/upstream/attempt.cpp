#include "upstream/attempt.hpp"

#include "dns/wire.hpp"

namespace hush::upstream {

namespace {
// Rcodes that say more about the server than about the name: another server
// may well answer.
bool server_problem(uint8_t rc) {
  return rc == dns::rcode::ServFail || rc == dns::rcode::Refused || rc == dns::rcode::NotImp ||
         rc == dns::rcode::FormErr;
}
}  // namespace

Next judge_reply(const Pending& p, ReplyCheck check, uint16_t flags) {
  if (check != ReplyCheck::Ok)
    return p.transport == Transport::Udp ? Next{Step::Wait} : Next{Step::Fail, Transport::Udp, "bad TCP reply"};
  if ((flags & dns::flag::TC) && p.transport == Transport::Udp) return {Step::Retry, Transport::Tcp};
  if (server_problem(dns::rcode_of(flags)) && p.attempt + 1 < p.max_attempts())
    return {Step::Fail, Transport::Udp, "answered with an error rcode"};
  return {Step::Deliver};
}

Next next_attempt(Pending& p, Selector& servers, uint64_t now_ms) {
  servers.failure(p.server(), now_ms);
  if (++p.attempt < p.max_attempts()) return {Step::Retry, servers.servers()[p.server()].transport};
  return {Step::GiveUp};
}

uint32_t answered(const Pending& p, Selector& servers, uint64_t now_ms) {
  auto rtt = uint32_t(now_ms - p.sent_ms);
  servers.success(p.server(), rtt);
  return rtt;
}

}  // namespace hush::upstream

// What follows each upstream attempt: serve the reply, ask the same server
// again over another transport, move on to the next server, or give up.
// Logic only: net/ moves the bytes and acts on the step returned here, so
// the retry rules can be tested without sockets.
#pragma once

#include <cstdint>

#include "upstream/check.hpp"
#include "upstream/inflight.hpp"
#include "upstream/selector.hpp"
#include "upstream/transport.hpp"

namespace hush::upstream {

enum class Step : uint8_t {
  Wait,     // not an answer to this attempt: keep waiting for one
  Deliver,  // serve the reply to every waiter
  Retry,    // start an attempt over `transport` to p.server()
  Fail,     // this attempt failed: book it with next_attempt()
  GiveUp,   // every attempt is spent: answer every waiter SERVFAIL
};

struct Next {
  Step step;
  Transport transport = Transport::Udp;  // for Retry
  const char* why = nullptr;             // for Fail, for the debug log
};

// Judges a reply to p's current attempt from what check_reply said of it
// and, when that is Ok, the reply's header flags. Never fails:
//   - a reply that is not ours keeps a UDP attempt waiting (a spoofer must
//     not be able to end it) but fails a TCP one (its connection carries
//     only our question, so the server is broken);
//   - a truncated UDP reply is asked again over TCP, of the same server;
//   - SERVFAIL, REFUSED, NOTIMP and FORMERR fail the attempt while another
//     remains; from the last attempt they go to the clients as they are.
Next judge_reply(const Pending& p, ReplyCheck check, uint16_t flags);

// Books p's current attempt as failed against its server (the selector backs
// it off) and moves p on: Retry to the next server of p.order, over the
// transport configured for it (UDP for a plain one), or
// GiveUp once p.max_attempts() are spent. Never fails.
Next next_attempt(Pending& p, Selector& servers, uint64_t now_ms);

// Books p's current attempt as answered (the selector learns the round-trip
// time) and returns that time in milliseconds.
uint32_t answered(const Pending& p, Selector& servers, uint64_t now_ms);

}  // namespace hush::upstream

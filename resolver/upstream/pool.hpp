// Which UDP socket an upstream query leaves on, and when a socket is
// replaced. Logic only: the network layer opens and closes the sockets.
//
// Opening a socket per query (the plain way to get a fresh random source
// port for each) cost about a third of hush's CPU on cache misses: socket(),
// connect(), epoll_ctl() and close() for every question. Instead each worker
// keeps a few sockets per upstream server, each connected (the kernel drops
// datagrams from any other address or port) from its own random port, and
// sends many queries on each, told apart by random ID and then by question.
// A socket is retired after max_queries queries or max_age_ms, whichever
// comes first, so a source port is in use only briefly: at low rates nearly
// every query still gets a port of its own; at high rates the cost of a
// socket is shared by max_queries queries. A spoofed answer still has to hit
// the port and the ID of one waiting query and repeat its question.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "upstream/ids.hpp"
#include "upstream/random.hpp"

namespace hush::upstream {

struct PoolLimits {
  size_t sockets = 4;           // per upstream server and worker
  uint32_t max_queries = 128;   // a socket carries at most this many queries
  uint64_t max_age_ms = 1000;   // and takes no new ones once this old
};

// What the pool knows of one socket; the network layer's socket embeds it.
struct PooledSocket {
  uint64_t opened_ms = 0;
  uint32_t queries = 0;   // carried so far
  bool retired = false;   // takes no new queries; closed once none waits
  IdTable waiting;

  // Records `p` as waiting on this socket under a fresh random ID.
  uint16_t carry(Pending* p, Random& random) {
    ++queries;
    return waiting.add(p, random);
  }
  // Whether the network layer should close it now.
  bool finished() const { return retired && waiting.empty(); }
};

// The sockets of one worker to one upstream server.
class Pool {
 public:
  explicit Pool(const PoolLimits& limits) : limits_(limits), slots_(limits.sockets ? limits.sockets : 1) {}

  struct Choice {
    size_t slot;
    PooledSocket* socket;  // nullptr: open a fresh one and replace() the slot
  };
  // The slot for the next query and its socket, unless the slot is empty or
  // the socket is worn out at now_ms. Each round (one pass of the worker's
  // loop, whose queries leave together) starts at a slot chosen at random
  // and keeps to it while its socket lasts: one sendmmsg per server and
  // round saved ~0.5 us a query (3 %) at 50k misses/s against a random slot
  // per query, and the port of a round still cannot be told from the last.
  Choice choose(Random& random, uint64_t now_ms);
  void next_round() { round_slot_ = kNoSlot; }

  // Puts `fresh` (opened at now_ms) in `slot` and returns the socket it
  // replaces, marked retired, or nullptr.
  PooledSocket* replace(size_t slot, PooledSocket* fresh, uint64_t now_ms);

  // Retires `s` and empties its slot if it is worn out at now_ms: once its
  // last answer is in, a socket that may carry no more queries need not
  // wait for the next query to be closed. Returns whether it did.
  bool retire_if_worn_out(PooledSocket& s, uint64_t now_ms);

  // Empties every slot, retiring and returning the sockets in them.
  std::vector<PooledSocket*> take_all();

  bool worn_out(const PooledSocket& s, uint64_t now_ms) const {
    return s.queries >= limits_.max_queries || now_ms - s.opened_ms >= limits_.max_age_ms;
  }

 private:
  static constexpr size_t kNoSlot = SIZE_MAX;
  PoolLimits limits_;
  std::vector<PooledSocket*> slots_;
  size_t round_slot_ = kNoSlot;
};

}  // namespace hush::upstream

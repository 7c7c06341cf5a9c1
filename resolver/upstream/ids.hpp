// The queries waiting for an answer on one upstream UDP socket, by DNS ID.
// Logic only: the network layer owns the socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "upstream/random.hpp"

namespace hush::upstream {

struct Pending;

// Many queries share one socket, so the ID is what tells their answers apart
// (the question is checked after). IDs are random and never shared by two
// waiting queries. A socket carries at most PoolLimits::max_queries queries
// in its life, which bounds the table: a flat array scanned in order beats a
// hash map at that size and allocates nothing once grown.
class IdTable {
 public:
  // Records `p` under a random ID no waiting query has and returns the ID.
  // The table must hold fewer than 65536 entries.
  uint16_t add(Pending* p, Random& random);
  Pending* find(uint16_t id) const;
  // Forgets the query under `id`; false when there was none.
  bool remove(uint16_t id);
  size_t size() const { return ids_.size(); }
  bool empty() const { return ids_.empty(); }
  // A copy of every (ID, query), for failing them all when the socket fails.
  std::vector<std::pair<uint16_t, Pending*>> entries() const;

 private:
  size_t index_of(uint16_t id) const;
  std::vector<uint16_t> ids_;
  std::vector<Pending*> pending_;
};

}  // namespace hush::upstream

// What the validator has learned about zones, shared by all workers: the
// validated DNSKEY set of each secure zone and what is known about each
// name's DS (a DS set, an insecure delegation, no zone cut, or bogus).
// Bounded: when full, expired items go first, then the oldest inserted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "dns/ldns.hpp"

namespace hush::validate {

// An immutable list of records, shared between threads.
using Rrs = std::shared_ptr<const ldns_rr_list>;
Rrs own(ldns_rr_list* list);

struct KeyItem {
  enum class Kind : uint8_t {
    Keys,      // rrs: the zone's validated DNSKEY set
    Ds,        // rrs: the name's validated DS set (a secure delegation)
    Insecure,  // a delegation proven to have no DS
    NotCut,    // proven not to be a delegation
    Bogus,     // the chain failed here; ede and why say how
  };
  Kind kind = Kind::Bogus;
  Rrs rrs;
  uint16_t ede = 0;
  std::string why;
  int64_t expires_s = 0;
};

class KeyCache {
 public:
  explicit KeyCache(size_t max_items) : max_(max_items ? max_items : 1) {}

  // key: "K" or "D" followed by the lower-case name with its final dot.
  std::optional<KeyItem> get(const std::string& key, int64_t now_s) const;
  void put(const std::string& key, KeyItem item, int64_t now_s);
  size_t size() const;
  size_t capacity() const { return max_; }
  void clear();

 private:
  size_t max_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, KeyItem> items_;
  std::deque<std::string> order_;  // insertion order, for eviction
};

}  // namespace hush::validate

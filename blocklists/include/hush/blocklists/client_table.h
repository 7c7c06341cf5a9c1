// Client address → group mask. The table is small (one row per configured
// client), so a linear scan over fixed-size rows beats anything cleverer and
// never allocates.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

struct sockaddr;

namespace hush::blocklists {

struct Cidr {
  uint8_t family = 0;  // 4 or 6
  uint8_t prefix = 0;
  uint8_t addr[16] = {};
  bool contains(const uint8_t* a, uint8_t fam) const;
};

// Accepts "10.0.0.1", "10.0.0.0/8", "fd00::/8", "::ffff:10.0.0.1" (as IPv4).
bool parse_cidr(std::string_view text, Cidr& out);

// Extracts the address of an AF_INET/AF_INET6 sockaddr, unwrapping
// v4-mapped IPv6. Returns false for null or other families.
bool sockaddr_bytes(const sockaddr* sa, uint8_t out[16], uint8_t& family);

bool cidr_list_contains(const std::vector<Cidr>& list, const sockaddr* sa);

class ClientTable {
 public:
  void add(const Cidr& c, uint64_t groups) { rows_.push_back({c, groups}); }
  // Union of the groups of every row containing the address; `fallback`
  // (the default group) when none does.
  uint64_t groups_for(const sockaddr* sa, uint64_t fallback) const;
  size_t size() const { return rows_.size(); }
  size_t memory_bytes() const { return rows_.capacity() * sizeof(Row); }

 private:
  struct Row {
    Cidr cidr;
    uint64_t groups;
  };
  std::vector<Row> rows_;
};

}  // namespace hush::blocklists

// Client address or client ID → group mask. The table is small (one row per
// configured or grouped client), so a linear scan over fixed-size rows beats
// anything cleverer and never allocates.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct sockaddr;

namespace hush::blocklists {

using GroupMask = unsigned __int128;  // as in policy.h

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

// A client rule naming a device by the ID it gives on an encrypted
// transport (DoT SNI label, DoH path) is written "id:NAME".
constexpr std::string_view kClientIdPrefix = "id:";
// The NAME of an "id:NAME" rule, or "" when `text` is not one or NAME is not
// 1-63 of a-z, 0-9 and '-' (what a DNS label allows, lower case).
std::string_view client_id_of(std::string_view text);

class ClientTable {
 public:
  void add(const Cidr& c, GroupMask groups) { rows_.push_back({c, groups}); }
  void add_id(std::string_view id, GroupMask groups) { ids_.push_back({std::string(id), groups}); }
  // A client that names itself (`id`, empty on plain DNS) and has a row of
  // its own gets that row's groups: its address may be a NAT router's,
  // shared with every other device behind it. Otherwise the union of the
  // groups of every row containing the address; `fallback` (the default
  // group) when none does.
  GroupMask groups_for(const sockaddr* sa, std::string_view id, GroupMask fallback) const;
  size_t size() const { return rows_.size() + ids_.size(); }
  size_t memory_bytes() const;

 private:
  struct Row {
    Cidr cidr;
    GroupMask groups;
  };
  struct IdRow {
    std::string id;
    GroupMask groups;
  };
  std::vector<Row> rows_;
  std::vector<IdRow> ids_;
};

}  // namespace hush::blocklists

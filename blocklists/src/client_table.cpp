#include "hush/blocklists/client_table.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

namespace hush::blocklists {
namespace {

constexpr uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

bool Cidr::contains(const uint8_t* a, uint8_t fam) const {
  if (fam != family) return false;
  unsigned full = prefix / 8;
  if (std::memcmp(a, addr, full) != 0) return false;
  unsigned rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (addr[full] & mask);
}

bool parse_cidr(std::string_view text, Cidr& out) {
  std::string s(text);
  int prefix = -1;
  size_t slash = s.find('/');
  if (slash != std::string::npos) {
    std::string p = s.substr(slash + 1);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos) return false;
    prefix = std::stoi(p);
    s.resize(slash);
  }
  Cidr c;
  if (inet_pton(AF_INET, s.c_str(), c.addr) == 1) {
    c.family = 4;
    if (prefix > 32) return false;
    c.prefix = static_cast<uint8_t>(prefix < 0 ? 32 : prefix);
  } else if (inet_pton(AF_INET6, s.c_str(), c.addr) == 1) {
    if (prefix > 128) return false;
    c.family = 6;
    c.prefix = static_cast<uint8_t>(prefix < 0 ? 128 : prefix);
    if (std::memcmp(c.addr, kV4Mapped, 12) == 0 && c.prefix >= 96) {
      std::memmove(c.addr, c.addr + 12, 4);
      std::memset(c.addr + 4, 0, 12);
      c.family = 4;
      c.prefix = static_cast<uint8_t>(c.prefix - 96);
    }
  } else {
    return false;
  }
  out = c;
  return true;
}

bool sockaddr_bytes(const sockaddr* sa, uint8_t out[16], uint8_t& family) {
  if (!sa) return false;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    std::memcpy(out, &in->sin_addr, 4);
    family = 4;
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    const uint8_t* b = in6->sin6_addr.s6_addr;
    if (std::memcmp(b, kV4Mapped, 12) == 0) {
      std::memcpy(out, b + 12, 4);
      family = 4;
    } else {
      std::memcpy(out, b, 16);
      family = 6;
    }
    return true;
  }
  return false;
}

bool cidr_list_contains(const std::vector<Cidr>& list, const sockaddr* sa) {
  uint8_t a[16];
  uint8_t fam = 0;
  if (!sockaddr_bytes(sa, a, fam)) return false;
  for (const Cidr& c : list) {
    if (c.contains(a, fam)) return true;
  }
  return false;
}

std::string_view client_id_of(std::string_view text) {
  if (!text.starts_with(kClientIdPrefix)) return {};
  std::string_view id = text.substr(kClientIdPrefix.size());
  if (id.empty() || id.size() > 63) return {};
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return {};
  return id;
}

size_t ClientTable::memory_bytes() const {
  size_t n = rows_.capacity() * sizeof(Row) + ids_.capacity() * sizeof(IdRow);
  for (const IdRow& r : ids_) n += r.id.capacity() > 15 ? r.id.capacity() + 1 : 0;
  return n;
}

GroupMask ClientTable::groups_for(const sockaddr* sa, std::string_view id, GroupMask fallback) const {
  if (!id.empty())
    for (const IdRow& r : ids_)
      if (r.id == id) return r.groups;
  uint8_t a[16];
  uint8_t fam = 0;
  if (rows_.empty() || !sockaddr_bytes(sa, a, fam)) return fallback;
  GroupMask g = 0;
  bool matched = false;
  for (const Row& r : rows_) {
    if (r.cidr.contains(a, fam)) {
      g |= r.groups;
      matched = true;
    }
  }
  return matched ? g : fallback;
}

}  // namespace hush::blocklists

#include "access/access.hpp"

#include <netinet/in.h>

#include <cstring>

namespace hush {

const std::vector<std::string>& default_allowed_networks() {
  static const std::vector<std::string> nets = {
      "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
      "100.64.0.0/10",  // carrier-grade NAT, used by some home VPNs
      "::1/128", "fc00::/7", "fe80::/10"};
  return nets;
}

std::vector<blocklists::Cidr> parse_networks(const std::vector<std::string>& texts,
                                             const char* what, std::vector<std::string>& errors) {
  std::vector<blocklists::Cidr> out;
  for (const std::string& t : texts) {
    blocklists::Cidr c;
    if (blocklists::parse_cidr(t, c))
      out.push_back(c);
    else
      errors.push_back(std::string(what) + ": '" + t + "' is not an address or CIDR (e.g. 192.168.0.0/16)");
  }
  return out;
}

RateLimiter::RateLimiter(size_t slots) : slots_(new Slot[slots]), mask_(slots - 1) {}

bool RateLimiter::over(const sockaddr* client, uint32_t limit, uint32_t window_s, uint64_t now_ms) {
  uint8_t addr[16];
  uint8_t family = 0;
  if (limit == 0 || !blocklists::sockaddr_bytes(client, addr, family)) return false;
  // FNV-1a over the address; the key is the hash with the top bit set so 0 means empty.
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < (family == 4 ? 4u : 16u); ++i) h = (h ^ addr[i]) * 1099511628211ull;
  uint64_t key = h | (1ull << 63);
  uint64_t window = now_ms / (uint64_t(window_s) * 1000);
  Slot& s = slots_[h & mask_];
  if (s.key.load(std::memory_order_relaxed) != key ||
      s.window.load(std::memory_order_relaxed) != window) {
    s.key.store(key, std::memory_order_relaxed);
    s.window.store(window, std::memory_order_relaxed);
    s.count.store(1, std::memory_order_relaxed);
    return false;
  }
  return s.count.fetch_add(1, std::memory_order_relaxed) >= limit;
}

bool is_loopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr) >> 24) == 127;
  if (sa->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace hush

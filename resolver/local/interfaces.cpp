#include "local/interfaces.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstring>

namespace hush::local {

namespace {
bool copy_addr(const sockaddr* sa, uint8_t out[16]) {
  if (!sa) return false;
  if (sa->sa_family == AF_INET) {
    std::memcpy(out, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    std::memcpy(out, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
    return true;
  }
  return false;
}
bool is_loopback(const InterfaceAddress& a) {
  return a.family == AF_INET ? a.addr[0] == 127 : (std::memcmp(a.addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0);
}
bool is_link_local(const InterfaceAddress& a) {
  return a.family == AF_INET6 && a.addr[0] == 0xfe && (a.addr[1] & 0xc0) == 0x80;
}
}  // namespace

Interfaces Interfaces::read() {
  std::vector<InterfaceAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {};
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    InterfaceAddress a;
    if (!i->ifa_addr || !copy_addr(i->ifa_addr, a.addr)) continue;
    a.family = i->ifa_addr->sa_family;
    copy_addr(i->ifa_netmask, a.mask);
    a.interface = i->ifa_name ? i->ifa_name : "";
    out.push_back(a);
  }
  freeifaddrs(list);
  return Interfaces(std::move(out));
}

std::vector<const InterfaceAddress*> Interfaces::for_client(const sockaddr* client, int family) const {
  uint8_t c[16] = {};
  int cfam = client ? client->sa_family : 0;
  bool have_client = copy_addr(client, c);
  // An IPv4 client seen through an IPv6 socket arrives v4-mapped.
  if (have_client && cfam == AF_INET6 && std::memcmp(c, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
    std::memmove(c, c + 12, 4);
    cfam = AF_INET;
  }
  std::string chosen;
  for (const InterfaceAddress& a : addrs_) {
    if (!have_client || a.family != cfam) continue;
    size_t n = a.family == AF_INET ? 4 : 16;
    bool same = true;
    for (size_t i = 0; i < n && same; ++i) same = (a.addr[i] & a.mask[i]) == (c[i] & a.mask[i]);
    if (same) {
      chosen = a.interface;
      break;
    }
  }
  if (chosen.empty())
    for (const InterfaceAddress& a : addrs_)
      if (!is_loopback(a)) {
        chosen = a.interface;
        break;
      }
  std::vector<const InterfaceAddress*> out, link_local;
  for (const InterfaceAddress& a : addrs_)
    if (a.interface == chosen && a.family == family) (is_link_local(a) ? link_local : out).push_back(&a);
  return out.empty() ? link_local : out;
}

}  // namespace hush::local

// The machine's own addresses, so hush's own name answers with the address
// of the interface a client reaches it through (a phone on Wi-Fi and a PC on
// a VPN each get an address they can use).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace hush::local {

struct InterfaceAddress {
  std::string interface;
  int family = 0;  // AF_INET or AF_INET6
  uint8_t addr[16] = {};
  uint8_t mask[16] = {};
};

class Interfaces {
 public:
  Interfaces() = default;
  explicit Interfaces(std::vector<InterfaceAddress> addrs) : addrs_(std::move(addrs)) {}
  // Reads the current addresses with getifaddrs(); empty on failure.
  static Interfaces read();

  // Addresses of `family` on the interface whose network holds `client` (any
  // family); when none does, those of the first interface that is not
  // loopback. IPv6 link-local addresses are left out unless nothing else is.
  std::vector<const InterfaceAddress*> for_client(const sockaddr* client, int family) const;

 private:
  std::vector<InterfaceAddress> addrs_;
};

}  // namespace hush::local

// Where hush learns who a client address is: the kernel's neighbour tables
// (MAC addresses), DHCP lease files and /etc/hosts (names). Each parser takes
// the text of one source and returns what it could read, skipping lines it
// does not understand, so a stray line never hides the others.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hush::clients {

struct Neighbour {
  std::string ip;   // canonical text form (inet_ntop)
  std::string mac;  // lower-case "aa:bb:cc:dd:ee:ff"
};

struct Lease {
  std::string ip;
  std::string mac;       // empty for DHCPv6 leases, which carry no MAC
  std::string hostname;  // empty when the client sent none
  int64_t expires = 0;   // seconds since the epoch; 0 = infinite
};

struct HostName {
  std::string ip;
  std::string name;  // the first (canonical) name on the line
};

// /proc/net/arp: complete entries only (flags with 0x2 set, MAC not all zero).
std::vector<Neighbour> parse_proc_arp(std::string_view text);
// `ip neigh show` (either family): entries with an lladdr that are not FAILED
// or INCOMPLETE.
std::vector<Neighbour> parse_ip_neigh(std::string_view text);
// dnsmasq's lease file: "EXPIRY MAC IP HOSTNAME CLIENT-ID" per line, "*" for
// no hostname; DHCPv6 lines follow a "duid" line and hold an IAID instead of a MAC.
std::vector<Lease> parse_dnsmasq_leases(std::string_view text);
// ISC dhcpd.leases: `lease IP { ... }` blocks; the last block for an address
// wins (the file is append-only), and blocks whose binding state is not
// active are ignored.
std::vector<Lease> parse_isc_leases(std::string_view text);
// /etc/hosts; loopback, unspecified and multicast addresses are skipped
// since they name no device on the network.
std::vector<HostName> parse_hosts(std::string_view text);

// Canonical text of an address ("2001:DB8::01" -> "2001:db8::1"), or "" when
// `text` is not an IPv4 or IPv6 address.
std::string canonical_ip(std::string_view text);
// Canonical MAC ("AA-BB-CC-DD-EE-FF" -> "aa:bb:cc:dd:ee:ff"), or "".
std::string canonical_mac(std::string_view text);

}  // namespace hush::clients

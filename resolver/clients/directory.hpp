// Who each client address is: a device, keyed by its MAC address when the
// neighbour table or a DHCP lease knows it (so the rotating IPv6 privacy
// addresses of one phone are one device), else by the address itself.
// A Directory is built whole from its sources and never changes afterwards,
// so the log writer can read it while the next one is being built.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "clients/sources.hpp"

namespace hush::clients {

struct Identity {
  std::string key;   // "mac:aa:bb:cc:dd:ee:ff" or "ip:192.0.2.7"
  std::string mac;   // empty when unknown
  std::string name;  // hosts file, else DHCP hostname, else PTR; empty when unknown
};

// Paths of the sources; an empty path turns that source off.
struct Sources {
  std::string hosts_file = "/etc/hosts";
  std::string dnsmasq_leases = "/var/lib/misc/dnsmasq.leases";
  std::string isc_leases = "/var/lib/dhcp/dhcpd.leases";
  std::string proc_arp = "/proc/net/arp";
  // Run to list IPv6 neighbours; its output is parsed as `ip neigh show`.
  std::string ip6_neigh_command = "ip -6 neigh show";
};

// What a directory is built from; `ptr_names` maps an address to the name its
// PTR lookup returned.
struct Inputs {
  std::vector<Neighbour> neighbours;
  std::vector<Lease> leases;
  std::vector<HostName> hosts;
  std::unordered_map<std::string, std::string> ptr_names;
};

// Reads every source in `src`; a missing or unreadable one contributes
// nothing (leases and hosts are optional on most systems).
Inputs read_inputs(const Sources& src);

class Directory {
 public:
  Directory() = default;
  // Expired leases (expires != 0 and < now_s) are ignored.
  Directory(const Inputs& in, int64_t now_s);

  // The identity of `ip` (canonical text). Unknown addresses get an
  // "ip:" identity with no name.
  Identity lookup(const std::string& ip) const;
  // Addresses that have neither a hosts nor a DHCP name: candidates for PTR.
  std::vector<std::string> unnamed() const;
  size_t size() const { return by_ip_.size(); }
  // Differs between any two directories built in this process, so a cache
  // of lookups can tell it is stale.
  uint64_t generation() const { return generation_; }

 private:
  struct Known {
    std::string mac;
    std::string name;
  };
  std::unordered_map<std::string, Known> by_ip_;
  std::unordered_map<std::string, std::string> name_by_mac_;
  uint64_t generation_ = 0;
};

}  // namespace hush::clients

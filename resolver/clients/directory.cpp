#include "clients/directory.hpp"

#include "base/file.hpp"

#include <atomic>
#include <cstdio>

namespace hush::clients {

namespace {
// A source that is missing or unreadable reads as empty: a device then
// just has no name from it.
std::string read_or_empty(const std::string& path) {
  if (path.empty()) return "";
  return read_file(path).value_or("");
}

std::string run_command(const std::string& cmd) {
  if (cmd.empty()) return "";
  std::string out;
  if (FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}
}  // namespace

Inputs read_inputs(const Sources& src) {
  Inputs in;
  in.neighbours = parse_proc_arp(read_or_empty(src.proc_arp));
  for (auto& n : parse_ip_neigh(run_command(src.ip6_neigh_command))) in.neighbours.push_back(std::move(n));
  in.leases = parse_dnsmasq_leases(read_or_empty(src.dnsmasq_leases));
  for (auto& l : parse_isc_leases(read_or_empty(src.isc_leases))) in.leases.push_back(std::move(l));
  in.hosts = parse_hosts(read_or_empty(src.hosts_file));
  return in;
}

Directory::Directory(const Inputs& in, int64_t now_s) {
  static std::atomic<uint64_t> built{0};
  generation_ = ++built;
  for (const auto& [ip, name] : in.ptr_names) by_ip_[ip].name = name;
  // Later sources override earlier ones: PTR < DHCP < hosts file for names,
  // DHCP < neighbour table for MACs (the kernel sees the live link).
  for (const Lease& l : in.leases) {
    if (l.expires != 0 && l.expires < now_s) continue;
    Known& k = by_ip_[l.ip];
    if (!l.mac.empty()) k.mac = l.mac;
    if (!l.hostname.empty()) {
      k.name = l.hostname;
      if (!l.mac.empty()) name_by_mac_[l.mac] = l.hostname;
    }
  }
  for (const Neighbour& n : in.neighbours) by_ip_[n.ip].mac = n.mac;
  for (const HostName& h : in.hosts) {
    Known& k = by_ip_[h.ip];
    k.name = h.name;
    if (!k.mac.empty()) name_by_mac_[k.mac] = h.name;
  }
  // A device named through one address (its DHCPv4 lease) keeps that name on
  // its other addresses (IPv6 privacy addresses seen in the neighbour table).
  for (auto& [ip, k] : by_ip_) {
    if (k.mac.empty()) continue;
    auto it = name_by_mac_.find(k.mac);
    if (it != name_by_mac_.end()) k.name = it->second;
  }
}

Identity Directory::lookup(const std::string& ip) const {
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end()) return {"ip:" + ip, "", ""};
  const Known& k = it->second;
  return {k.mac.empty() ? "ip:" + ip : "mac:" + k.mac, k.mac, k.name};
}

std::vector<std::string> Directory::unnamed() const {
  std::vector<std::string> out;
  for (const auto& [ip, k] : by_ip_)
    if (k.name.empty()) out.push_back(ip);
  return out;
}

}  // namespace hush::clients

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "clients/directory.hpp"

using namespace hush::clients;

namespace {
const std::string kData = std::string(HUSH_SOURCE_DIR) + "/tests/data/clients/";
constexpr int64_t kNow = 1800000000;  // after the sample leases were written, before most expire

Inputs sample_inputs() {
  Sources src;
  src.proc_arp = kData + "proc_net_arp";
  src.dnsmasq_leases = kData + "dnsmasq.leases";
  src.isc_leases = kData + "dhcpd.leases";
  src.hosts_file = kData + "hosts";
  src.ip6_neigh_command = "cat " + kData + "ip_neigh";
  return read_inputs(src);
}
}  // namespace

TEST_CASE("read_inputs reads every source; a missing one adds nothing") {
  Inputs in = sample_inputs();
  CHECK(in.neighbours.size() == 3 + 5);
  CHECK(in.leases.size() == 5 + 2);
  CHECK(in.hosts.size() == 2);

  Sources missing;
  missing.proc_arp = kData + "does-not-exist";
  missing.dnsmasq_leases = "";
  missing.isc_leases = "/nonexistent/dhcpd.leases";
  missing.hosts_file = "";
  missing.ip6_neigh_command = "";
  Inputs none = read_inputs(missing);
  CHECK(none.neighbours.empty());
  CHECK(none.leases.empty());
  CHECK(none.hosts.empty());
}

TEST_CASE("a phone's IPv4 and rotating IPv6 addresses are one device") {
  Directory d(sample_inputs(), kNow);
  Identity v4 = d.lookup("192.168.1.20");
  CHECK(v4.key == "mac:3c:22:fb:12:34:56");
  CHECK(v4.name == "annas-phone");
  for (const char* ip : {"2001:db8:1::a1b2:c3d4", "2001:db8:1::5e6f:7788", "fe80::3e22:fbff:fe12:3456"}) {
    INFO(ip);
    Identity v6 = d.lookup(ip);
    CHECK(v6.key == v4.key);
    CHECK(v6.name == "annas-phone");  // named through the DHCPv4 lease of the same MAC
  }
}

TEST_CASE("names: hosts file over DHCP over PTR; expired leases ignored") {
  Inputs in = sample_inputs();
  in.ptr_names["192.168.1.50"] = "ptr-name.lan";
  in.ptr_names["192.168.1.99"] = "laptop.lan";
  Directory d(in, kNow);
  CHECK(d.lookup("192.168.1.50").name == "media-pi");   // hosts, despite DHCP "*" and PTR
  CHECK(d.lookup("192.168.1.77").name == "tv");         // hosts over DHCP "living-room-tv"
  CHECK(d.lookup("2001:db8:1::77").name == "tv");       // same MAC as 192.168.1.77
  CHECK(d.lookup("192.168.1.99").name == "laptop.lan"); // PTR only
  CHECK(d.lookup("192.168.1.60").name.empty());         // lease expired in 2001
  CHECK(d.lookup("10.0.0.23").name == "kids-tablet-2");
  CHECK(d.lookup("10.0.0.25").name.empty());            // ISC lease ended 2024-01-05
}

TEST_CASE("unknown addresses are their own device; unnamed ones are PTR candidates") {
  Directory d(sample_inputs(), kNow);
  Identity u = d.lookup("192.168.1.123");
  CHECK(u.key == "ip:192.168.1.123");
  CHECK(u.mac.empty());
  CHECK(u.name.empty());
  auto unnamed = d.unnamed();
  CHECK(std::find(unnamed.begin(), unnamed.end(), "192.168.1.1") != unnamed.end());
  CHECK(std::find(unnamed.begin(), unnamed.end(), "192.168.1.20") == unnamed.end());
  CHECK(Directory(sample_inputs(), kNow).generation() != d.generation());
}

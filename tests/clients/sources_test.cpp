#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "clients/sources.hpp"

using namespace hush::clients;

namespace {
std::string data(const std::string& name) {
  std::ifstream in(std::string(HUSH_SOURCE_DIR) + "/tests/data/clients/" + name);
  REQUIRE(in);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("canonical forms of addresses and MACs") {
  struct Row {
    const char* in;
    const char* ip;
    const char* mac;
  };
  const Row rows[] = {
      {"192.168.1.7", "192.168.1.7", ""},
      {"2001:DB8:0:0::01", "2001:db8::1", ""},
      {"fe80::1%eth0", "fe80::1", ""},
      {"::ffff:10.0.0.1", "10.0.0.1", ""},
      {"AA-BB-CC-DD-EE-FF", "", "aa:bb:cc:dd:ee:ff"},
      {"a:b:c:d:e:f", "", "0a:0b:0c:0d:0e:0f"},
      {"00:00:00:00:00:00", "", ""},
      {"aa:bb:cc:dd:ee", "", ""},
      {"not-an-address", "", ""},
  };
  for (const Row& r : rows) {
    INFO(r.in);
    CHECK(canonical_ip(r.in) == r.ip);
    CHECK(canonical_mac(r.in) == r.mac);
  }
}

TEST_CASE("/proc/net/arp: complete entries with a real MAC") {
  auto n = parse_proc_arp(data("proc_net_arp"));
  REQUIRE(n.size() == 3);
  CHECK(n[0].ip == "192.168.1.1");
  CHECK(n[0].mac == "a0:b1:c2:d3:e4:f5");
  CHECK(n[1].ip == "192.168.1.20");
  CHECK(n[1].mac == "3c:22:fb:12:34:56");  // lower-cased
  CHECK(n[2].ip == "192.168.1.50");        // flags 0x6 include "complete"
}

TEST_CASE("ip neigh: entries with lladdr that are neither FAILED nor INCOMPLETE") {
  auto n = parse_ip_neigh(data("ip_neigh"));
  std::vector<std::pair<std::string, std::string>> got;
  for (auto& e : n) got.emplace_back(e.ip, e.mac);
  std::vector<std::pair<std::string, std::string>> want = {
      {"fe80::1", "a0:b1:c2:d3:e4:f5"},
      {"2001:db8:1::a1b2:c3d4", "3c:22:fb:12:34:56"},
      {"2001:db8:1::5e6f:7788", "3c:22:fb:12:34:56"},
      {"fe80::3e22:fbff:fe12:3456", "3c:22:fb:12:34:56"},
      {"2001:db8:1::77", "5a:0b:cc:01:02:03"},
  };
  CHECK(got == want);
}

TEST_CASE("dnsmasq leases: v4 with MAC, v6 without, '*' is no name") {
  auto l = parse_dnsmasq_leases(data("dnsmasq.leases"));
  REQUIRE(l.size() == 5);
  CHECK(l[0].ip == "192.168.1.20");
  CHECK(l[0].mac == "3c:22:fb:12:34:56");
  CHECK(l[0].hostname == "annas-phone");
  CHECK(l[0].expires == 1893456000);
  CHECK(l[1].hostname.empty());
  CHECK(l[3].expires == 0);
  CHECK(l[4].ip == "2001:db8:1::100");
  CHECK(l[4].mac.empty());  // the IAID is not a MAC
  CHECK(l[4].hostname == "printer");
}

TEST_CASE("ISC dhcpd.leases: the last active block per address wins") {
  auto l = parse_isc_leases(data("dhcpd.leases"));
  REQUIRE(l.size() == 2);
  CHECK(l[0].ip == "10.0.0.23");
  CHECK(l[0].mac == "08:00:27:4e:66:a1");
  CHECK(l[0].hostname == "kids-tablet-2");
  CHECK(l[0].expires == 0);  // "ends never"
  CHECK(l[1].ip == "10.0.0.25");
  CHECK(l[1].hostname.empty());
  CHECK(l[1].expires == 1704456000);  // 2024-01-05 12:00:00 UTC
}

TEST_CASE("hosts file: first name per line, no loopback or multicast") {
  auto h = parse_hosts(data("hosts"));
  REQUIRE(h.size() == 2);
  CHECK(h[0].ip == "192.168.1.50");
  CHECK(h[0].name == "media-pi");
  CHECK(h[1].ip == "192.168.1.77");
  CHECK(h[1].name == "tv");
}

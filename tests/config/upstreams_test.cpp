// The forms an upstream may be written in, and what `hush check` says of
// the ones it cannot use.
#include <catch2/catch.hpp>

#include <string>

#include "base/address.hpp"
#include "config/upstreams.hpp"

using hush::parse_upstream;
using hush::upstream::Server;
using hush::upstream::Transport;

namespace {
Server parsed(const std::string& text) {
  Server s;
  std::string why;
  INFO(text);
  REQUIRE(parse_upstream(text, s, why));
  CHECK(why.empty());
  return s;
}
std::string refused(const std::string& text) {
  Server s;
  std::string why;
  INFO(text);
  CHECK_FALSE(parse_upstream(text, s, why));
  return why;
}
}  // namespace

TEST_CASE("a bare address is plain DNS on port 53, or the port given") {
  Server s = parsed("9.9.9.9");
  CHECK(s.transport == Transport::Udp);
  CHECK(hush::format_address(s.addr) == "9.9.9.9:53");
  CHECK(s.text == "9.9.9.9");
  CHECK(hush::format_address(parsed("127.0.0.1:5353").addr) == "127.0.0.1:5353");
  CHECK(hush::format_address(parsed("[2620:fe::fe]:53").addr) == "[2620:fe::fe]:53");
  CHECK(parsed("2620:fe::fe").addr.ss_family == AF_INET6);
}

TEST_CASE("udp:// and tcp:// name the plain transport") {
  CHECK(parsed("udp://9.9.9.9").transport == Transport::Udp);
  Server t = parsed("tcp://9.9.9.9:5300");
  CHECK(t.transport == Transport::Tcp);
  CHECK(t.port == 5300);
  CHECK(hush::format_address(t.addr) == "9.9.9.9:5300");
}

TEST_CASE("tls:// takes an address, a name, or an address and the certificate's name") {
  Server a = parsed("tls://9.9.9.9");
  CHECK(a.transport == Transport::Tls);
  CHECK(a.port == 853);
  CHECK(hush::format_address(a.addr) == "9.9.9.9:853");
  CHECK(a.tls_name.empty());  // the certificate must carry the address
  CHECK(a.host.empty());

  Server n = parsed("tls://DNS.Quad9.net");
  CHECK(n.host == "dns.quad9.net");
  CHECK(n.tls_name == "dns.quad9.net");
  CHECK(n.addr.ss_family == AF_UNSPEC);  // looked up through the bootstrap servers
  CHECK(n.port == 853);

  Server both = parsed("tls://1.1.1.1:8853#cloudflare-dns.com");
  CHECK(hush::format_address(both.addr) == "1.1.1.1:8853");
  CHECK(both.tls_name == "cloudflare-dns.com");
  CHECK(both.host.empty());

  Server v6 = parsed("tls://[2606:4700:4700::1111]#one.one.one.one");
  CHECK(hush::format_address(v6.addr) == "[2606:4700:4700::1111]:853");
  CHECK(parsed("tls://dns.example:8853").port == 8853);
}

TEST_CASE("https:// takes a name or address, a port and a path") {
  Server h = parsed("https://dns.quad9.net/dns-query");
  CHECK(h.transport == Transport::Https);
  CHECK(h.host == "dns.quad9.net");
  CHECK(h.port == 443);
  CHECK(h.path == "/dns-query");
  CHECK(parsed("https://dns.example:8443").path == "/dns-query");
  CHECK(parsed("https://dns.example:8443").port == 8443);
  CHECK(parsed("https://127.0.0.1/q").host.empty());
}

TEST_CASE("a bad upstream is explained: what is wrong and where") {
  CHECK_THAT(refused("quic://9.9.9.9"), Catch::Contains("unknown scheme 'quic'") && Catch::Contains("tls://"));
  CHECK_THAT(refused("dns.quad9.net"), Catch::Contains("only tls:// and https://"));
  CHECK_THAT(refused("udp://dns.quad9.net"), Catch::Contains("only tls:// and https://"));
  CHECK_THAT(refused("tls://9.9.9.9:99999"), Catch::Contains("'tls://9.9.9.9:99999'"));
  CHECK_THAT(refused("tls://dns.example:0"), Catch::Contains("bad port '0'"));
  CHECK_THAT(refused("tls://dns.example:x"), Catch::Contains("bad port 'x'"));
  CHECK_THAT(refused("tls://1.1.1.1#bad_name!"), Catch::Contains("after '#'"));
  CHECK_THAT(refused("tls://"), Catch::Contains("no server address"));
  CHECK_THAT(refused("tls://-bad-.example"), Catch::Contains("neither an IP address nor a host name"));
  CHECK_THAT(refused("999.1.1.1"), Catch::Contains("'999.1.1.1'"));
  CHECK_THAT(refused("https://dns.example/a b"), Catch::Contains("path"));
}

TEST_CASE("host names are checked label by label") {
  CHECK(hush::valid_host_name("dns.quad9.net"));
  CHECK(hush::valid_host_name("a"));
  CHECK_FALSE(hush::valid_host_name(""));
  CHECK_FALSE(hush::valid_host_name("a..b"));
  CHECK_FALSE(hush::valid_host_name("-a.b"));
  CHECK_FALSE(hush::valid_host_name("a-.b"));
  CHECK_FALSE(hush::valid_host_name(std::string(64, 'a') + ".b"));
  CHECK_FALSE(hush::valid_host_name("a_b.c"));
}

#include "report/bypass.hpp"

#include <catch2/catch.hpp>

#include "report/report.hpp"

using namespace hush;
using namespace hush::report;

TEST_CASE("encrypted resolvers are known by their names and subdomains, and only those", "[report]") {
  CHECK(encrypted_resolver("dns.google") == "Google Public DNS");
  CHECK(encrypted_resolver("dns.google.") == "Google Public DNS");
  CHECK(encrypted_resolver("mozilla.cloudflare-dns.com") == "Cloudflare 1.1.1.1");
  CHECK(encrypted_resolver("abc123.dns.nextdns.io") == "NextDNS");
  CHECK(encrypted_resolver("dns.quad9.net") == "Quad9");
  CHECK(encrypted_resolver("www.google.com").empty());
  CHECK(encrypted_resolver("notdns.google").empty());
  CHECK(encrypted_resolver("cloudflare.com").empty());
  CHECK(encrypted_resolver("quad9.net").empty());
  CHECK(encrypted_resolver("").empty());
}

TEST_CASE("a device's bypass evidence: the resolver names it asked, most asked first", "[report]") {
  CompanyUsage google;
  google.names = {{"www.google.com", "", 40, 0, 1, 2}, {"dns.google", "", 3, 3, 5, 6}};
  CompanyUsage site;
  site.names = {{"mozilla.cloudflare-dns.com", "", 9, 0, 7, 8}};
  auto ev = bypass_evidence({google, site});
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].name == "mozilla.cloudflare-dns.com");
  CHECK(ev[0].resolver == "Cloudflare 1.1.1.1");
  CHECK(ev[0].queries == 9);
  CHECK(ev[0].last_seen_us == 8);
  CHECK(ev[1].name == "dns.google");
  CHECK(ev[1].blocked == 3);
  CHECK(bypass_evidence({}).empty());
}

TEST_CASE("quiet on the network: silent for an hour while the neighbour table holds the device") {
  const int64_t now = int64_t(1'800'000'000) * 1'000'000;
  querylog::Device phone;
  phone.mac = "3c:22:fb:12:34:56";
  phone.addresses = {"192.168.1.23"};
  phone.last_seen_us = now - 2 * kQuietAfterUs;
  const std::vector<clients::Neighbour> table = {{"192.168.1.1", "00:11:22:33:44:55"},
                                                 {"192.168.1.40", "3c:22:fb:12:34:56"}};
  // By MAC: the phone's address changed since it last asked.
  auto q = quiet_on_network(phone, table, now);
  REQUIRE(q);
  CHECK(q->address == "192.168.1.40");
  CHECK(q->mac == phone.mac);
  CHECK(q->last_query_us == phone.last_seen_us);
  // Asked something within the hour: not quiet.
  phone.last_seen_us = now - kQuietAfterUs / 2;
  CHECK_FALSE(quiet_on_network(phone, table, now));
  // Gone from the network: not quiet, just off.
  phone.last_seen_us = now - 2 * kQuietAfterUs;
  CHECK_FALSE(quiet_on_network(phone, {{"192.168.1.23", "aa:aa:aa:aa:aa:aa"}}, now));
  // Without a MAC, by address.
  querylog::Device tv;
  tv.addresses = {"fd00::7", "192.168.1.1"};
  tv.last_seen_us = now - 3 * kQuietAfterUs;
  q = quiet_on_network(tv, table, now);
  REQUIRE(q);
  CHECK(q->address == "192.168.1.1");
  tv.addresses = {"192.168.1.99"};
  CHECK_FALSE(quiet_on_network(tv, table, now));
}

#include "report/bypass.hpp"

#include <catch2/catch.hpp>

#include "report/report.hpp"

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

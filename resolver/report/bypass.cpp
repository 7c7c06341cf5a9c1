#include "report/bypass.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "report/report.hpp"

namespace hush::report {

namespace {
// Host names the resolvers publish for DNS over HTTPS/TLS/QUIC, from each
// operator's own setup pages (written for hush from those public facts; a
// name matches with its subdomains, e.g. <id>.dns.nextdns.io). Plain-DNS
// addresses are not names and cannot be seen here; the "hagezi-doh" catalog
// list blocks far more of them.
constexpr std::array<std::pair<std::string_view, std::string_view>, 27> kResolvers{{
    {"dns.google", "Google Public DNS"},
    {"dns.google.com", "Google Public DNS"},
    {"cloudflare-dns.com", "Cloudflare 1.1.1.1"},
    {"one.one.one.one", "Cloudflare 1.1.1.1"},
    {"dns.quad9.net", "Quad9"},
    {"dns9.quad9.net", "Quad9"},
    {"dns10.quad9.net", "Quad9"},
    {"dns11.quad9.net", "Quad9"},
    {"doh.opendns.com", "Cisco OpenDNS"},
    {"dns.opendns.com", "Cisco OpenDNS"},
    {"doh.familyshield.opendns.com", "Cisco OpenDNS"},
    {"dns.nextdns.io", "NextDNS"},
    {"adguard-dns.com", "AdGuard DNS"},
    {"dns.adguard.com", "AdGuard DNS"},
    {"dns-family.adguard.com", "AdGuard DNS"},
    {"doh.cleanbrowsing.org", "CleanBrowsing"},
    {"dns.mullvad.net", "Mullvad DNS"},
    {"doh.dns.sb", "DNS.SB"},
    {"dot.sb", "DNS.SB"},
    {"dns.controld.com", "Control D"},
    {"freedns.controld.com", "Control D"},
    {"doh.libredns.gr", "LibreDNS"},
    {"dns0.eu", "dns0.eu"},
    {"dns.alidns.com", "AliDNS"},
    {"doh.pub", "DNSPod"},
    {"dot.pub", "DNSPod"},
    {"ordns.he.net", "Hurricane Electric"},
}};

bool under(std::string_view name, std::string_view domain) {
  return name == domain ||
         (name.size() > domain.size() && name.ends_with(domain) && name[name.size() - domain.size() - 1] == '.');
}
}  // namespace

std::string_view encrypted_resolver(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  for (const auto& [domain, resolver] : kResolvers)
    if (under(name, domain)) return resolver;
  return {};
}

std::vector<BypassEvidence> bypass_evidence(const std::vector<CompanyUsage>& companies) {
  std::vector<BypassEvidence> out;
  for (const CompanyUsage& c : companies)
    for (const NameUsage& n : c.names)
      if (std::string_view resolver = encrypted_resolver(n.name); !resolver.empty())
        out.push_back({n.name, std::string(resolver), n.queries, n.blocked, n.last_seen_us});
  std::sort(out.begin(), out.end(), [](const BypassEvidence& a, const BypassEvidence& b) {
    return a.queries != b.queries ? a.queries > b.queries : a.name < b.name;
  });
  return out;
}

std::optional<QuietEvidence> quiet_on_network(const querylog::Device& device,
                                              const std::vector<clients::Neighbour>& neighbours, int64_t now_us) {
  if (device.last_seen_us == 0 || now_us - device.last_seen_us < kQuietAfterUs) return std::nullopt;
  for (const clients::Neighbour& n : neighbours) {
    bool same = !device.mac.empty() ? n.mac == device.mac
                                    : std::find(device.addresses.begin(), device.addresses.end(), n.ip) !=
                                          device.addresses.end();
    if (same) return QuietEvidence{n.ip, n.mac, device.last_seen_us};
  }
  return std::nullopt;
}

}  // namespace hush::report

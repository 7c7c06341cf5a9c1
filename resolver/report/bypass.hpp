// Signs that a device may be going around hush: it asked for the name of a
// public encrypted-DNS resolver (DNS over HTTPS, TLS or QUIC), so its other
// questions may be going there, where hush neither sees nor blocks them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hush::report {

struct CompanyUsage;

struct BypassEvidence {
  std::string name;      // the name asked
  std::string resolver;  // whose resolver, e.g. "Google Public DNS"
  int64_t queries = 0, blocked = 0;
  int64_t last_seen_us = 0;
};

// The resolver `name` belongs to (it or a parent is a known resolver name),
// or "" when it is none.
std::string_view encrypted_resolver(std::string_view name);

// The evidence in a device's companies: every name that is a resolver's,
// most queries first.
std::vector<BypassEvidence> bypass_evidence(const std::vector<CompanyUsage>& companies);

}  // namespace hush::report

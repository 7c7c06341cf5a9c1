// Signs that a device may be going around hush: it asked for the name of a
// public encrypted-DNS resolver (DNS over HTTPS, TLS or QUIC), so its other
// questions may be going there, where hush neither sees nor blocks them; or
// it has gone quiet while it is still on the network.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/sources.hpp"
#include "querylog/reader.hpp"

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

// A device hush has not heard from for a while although the neighbour table
// holds it (by MAC, else by one of its addresses): a phone or TV asks
// something every few minutes while it is on, so its questions are likely
// going elsewhere (a hard-coded resolver, a VPN).
struct QuietEvidence {
  std::string address, mac;  // the neighbour entry that holds it
  int64_t last_query_us = 0;
};

// How long a present device must be silent before it counts as quiet.
constexpr int64_t kQuietAfterUs = int64_t(3600) * 1'000'000;

std::optional<QuietEvidence> quiet_on_network(const querylog::Device& device,
                                              const std::vector<clients::Neighbour>& neighbours, int64_t now_us);

}  // namespace hush::report

// The action the policy built from `cfg` at `now` takes on `name` asked by
// the IPv4 address `client`; `edge` gets when the controls next change.
#pragma once

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "policy/inputs.hpp"

namespace hush::test {

inline blocklists::Action decide_at(const Config& cfg, const std::string& name, const char* client, int64_t now,
                                    int64_t& edge) {
  auto pc = policy::gather_inputs(cfg, false, now, &edge);
  blocklists::BuildReport report;
  auto p = blocklists::Policy::build(pc, &report);
  REQUIRE(p);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, client, &sa.sin_addr);
  auto* a = reinterpret_cast<const sockaddr*>(&sa);
  return p->decide(name, 1, p->groups_for(a), a).action;
}

}  // namespace hush::test

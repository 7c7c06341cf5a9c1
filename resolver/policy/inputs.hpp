// The one path from settings to the policy in force: the configured lists,
// subscribed lists, allow/deny entries, device groups and local names. `hush
// serve`, `hush query` and the dashboard all build through here, so they
// cannot disagree.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "hush/blocklists/policy.h"

namespace hush {

// Builds the blocking policy from the configuration, logging each list's
// counts and problems. With `persist` the compiled lists are kept in the data
// directory, so the next start maps them instead of parsing. Returns null
// only when the build itself failed.
// `lists`, when given, receives each list's counts and file time (/metrics).
std::shared_ptr<const blocklists::Policy> build_policy(const Config& cfg, bool persist,
                                                       std::vector<metrics::ListInfo>* lists = nullptr);

// Client rules for the devices that `hush clients group` (or the dashboard)
// put in groups: one rule per address each was seen with. Empty when the
// query log does not exist yet.
std::vector<blocklists::ClientRule> device_group_rules(const std::string& data_dir);

// Builds the local records and names, logging every problem with its line.
std::shared_ptr<const local::Data> build_local(const Config& cfg);

}  // namespace hush

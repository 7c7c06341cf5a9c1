// The one path from settings to the policy in force. Every input is gathered
// here: the configured lists and allow/deny entries, subscribed lists, the
// dashboard's allow/deny entries (rules.json), the timed exceptions, pauses
// and blocked services (controls.json, policy/controls.hpp), the schedules
// (schedules.json and [[schedule]], policy/schedules.hpp), [[clients]] and the device
// groups (clients/groups.hpp), special names, and the local names. `hush
// serve`, `hush query` and the dashboard (through the server's rebuild) all
// build through here, so they cannot disagree.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "hush/blocklists/policy.h"

namespace hush::policy {

// The blocklist engine's input: cfg.policy_config() plus the subscribed
// lists, the dashboard's allow/deny entries, the controls in force at `now_s`
// (unix seconds), what the schedules in a window at `now_s` turn on or off,
// and the device groups, read from the data directory now. A store that
// cannot be read adds nothing and is logged. Without `persist` the
// compiled-lists cache is left out. `next_edge`, when given, receives when
// the controls in force next change or a schedule's window opens or closes
// (0: never by themselves).
blocklists::PolicyConfig gather_inputs(const Config& cfg, bool persist, int64_t now_s, int64_t* next_edge = nullptr);

// Builds the blocking policy from gather_inputs(), logging each list's
// counts and problems. With `persist` the compiled lists are kept in the data
// directory, so the next start maps them instead of parsing. Returns null
// only when the build itself failed.
// `lists`, when given, receives each list's counts and file time (/metrics).
// With `write_cache_later`, lists compiled from text are written only when
// the caller calls Policy::write_cache() (serve: once it answers).
// The controls are taken at the clock's now; `next_edge` as for gather_inputs().
std::shared_ptr<const blocklists::Policy> build_policy(const Config& cfg, bool persist,
                                                       std::vector<metrics::ListInfo>* lists = nullptr,
                                                       bool write_cache_later = false, int64_t* next_edge = nullptr);

// Builds the local records and names, logging every problem with its line.
std::shared_ptr<const local::Data> build_local(const Config& cfg);

}  // namespace hush::policy

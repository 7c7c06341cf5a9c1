#include "policy/inputs.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "base/clock.hpp"
#include "base/log.hpp"
#include "local/load.hpp"
#include "clients/groups.hpp"
#include "policy/controls.hpp"
#include "policy/rules.hpp"
#include "policy/schedules.hpp"
#include "hush/blocklists/subscriptions/subscriptions.h"

namespace hush::policy {

blocklists::PolicyConfig gather_inputs(const Config& cfg, bool persist, int64_t now_s, int64_t* next_edge) {
  blocklists::PolicyConfig pc = cfg.policy_config();
  if (!persist) pc.compiled_cache_path.clear();
  // Subscribed lists (hush lists add): their last good local copies.
  std::string error;
  for (auto& l : blocklists::subs::subscribed_lists(cfg.server.data_dir, &error)) pc.lists.push_back(std::move(l));
  if (!error.empty()) log::error("subscriptions: ", error);
  // Lists switched off (blocking.disabled_lists) stay configured but block nothing.
  const std::vector<std::string>& off = cfg.blocking.disabled_lists;
  std::erase_if(pc.lists, [&off](const blocklists::ListSource& l) {
    return std::find(off.begin(), off.end(), l.name) != off.end();
  });
  // The dashboard's allow/deny entries, after the configuration's own.
  error.clear();
  RulesStore(cfg.server.data_dir).append_to(pc.allow, pc.deny, &error);
  if (!error.empty()) log::error("allow/deny entries: ", error);
  // Timed exceptions, pauses and blocked services: those in force now.
  error.clear();
  std::vector<Control> controls = ControlsStore(cfg.server.data_dir).active(now_s, &error);
  if (!error.empty()) log::error("timed exceptions and services: ", error);
  std::vector<std::string> problems;
  apply_controls(controls, pc, problems);
  for (const std::string& p : problems) log::warn(p);
  // Schedules: what those in a window now turn on or off.
  error.clear();
  std::vector<Schedule> schedules = ScheduleStore(cfg.server.data_dir).all(&error);
  if (!error.empty()) log::error("schedules: ", error);
  // The configuration file's, but those for a device not found when it was read.
  for (const Schedule& s : cfg.schedules)
    if (!s.group.empty()) schedules.push_back(s);
  problems.clear();
  int64_t window_edge = apply_schedules(schedules, now_s, pc, problems);
  for (const std::string& p : problems) log::warn(p);
  if (next_edge) {
    int64_t control_edge = next_end(controls, now_s);
    *next_edge = !control_edge ? window_edge : !window_edge ? control_edge : std::min(control_edge, window_edge);
  }
  // Devices put in groups: every address the device was seen with gets its groups.
  for (auto& r : clients::device_group_rules(cfg.server.data_dir)) pc.clients.push_back(std::move(r));
  return pc;
}

std::shared_ptr<const blocklists::Policy> build_policy(const Config& cfg, bool persist,
                                                       std::vector<metrics::ListInfo>* lists, bool write_cache_later,
                                                       int64_t* next_edge) {
  blocklists::BuildReport report;
  blocklists::PolicyConfig pc = gather_inputs(cfg, persist, now_seconds(), next_edge);
  pc.write_cache_later = write_cache_later;
  auto policy = blocklists::Policy::build(pc, &report);
  if (lists) {
    lists->clear();
    for (const blocklists::ListReport& l : report.lists) {
      metrics::ListInfo info{l.name, l.entries, 0, l.error.empty()};
      std::error_code ec;
      auto mtime = std::filesystem::last_write_time(l.path, ec);
      if (!ec)
        info.modified_unix = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::file_clock::to_sys(mtime).time_since_epoch())
                                 .count();
      lists->push_back(std::move(info));
    }
  }
  for (const std::string& e : report.errors) log::error(e);
  for (const blocklists::ListReport& l : report.lists) {
    if (!l.error.empty()) {
      log::error("list ", l.name, " (", l.path, "): ", l.error);
      continue;
    }
    log::info("list ", l.name, ": ", l.entries, " rules from ", l.stats.lines, " lines, ",
              l.stats.invalid, " invalid", l.stats.skipped_browser ? ", " : "",
              l.stats.skipped_browser ? std::to_string(l.stats.skipped_browser) + " browser-only skipped" : "");
    for (const blocklists::InvalidLine& bad : l.stats.first_invalid)
      log::warn(l.path, ":", bad.line, ": ", bad.reason, ": ", bad.text);
  }
  if (policy)
    log::info("blocking ", report.unique_entries, " names from ", report.lists.size(), " lists (",
              policy->memory_bytes() / 1024, " KiB, ", int(report.build_ms), " ms",
              report.from_cache ? ", from the compiled cache" : "", ")");
  return policy;
}

std::shared_ptr<const local::Data> build_local(const Config& cfg) {
  std::vector<local::LoadError> errors;
  auto data = local::load(cfg.local, errors);
  for (const local::LoadError& e : errors) log::warn("local records: ", e.describe());
  log::info("local domain ", cfg.local.domain, ": ", data->zone.size(), " records");
  return data;
}

}  // namespace hush::policy

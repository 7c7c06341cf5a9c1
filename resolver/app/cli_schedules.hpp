// `hush schedule`: weekly windows for a device, a group or everyone during
// which services, lists, companies or rules are blocked, or blocking is off.
//   hush schedule add [--device D | --group G] --days mon-fri --from 21:00 --to 07:00
//                     [--zone Europe/Berlin] (--block-service youtube | --block-list NAME |
//                     --block-company ID | --block RULE ... | --off)
//   hush schedule ls [--json] | hush schedule rm ID
// Neither --device nor --group means everyone. They change
// <data-dir>/schedules.json whether or not `hush serve` runs; a running hush
// applies a change within about two seconds, and each window's start and end
// by itself at that moment. With --config, ls shows the file's [[schedule]]
// tables too, and rm refuses to remove one of them (the file is the user's).
#pragma once

#include <CLI/CLI.hpp>

#include <ostream>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace hush {

struct ScheduleCommand {
  CLI::App *add = nullptr, *ls = nullptr, *rm = nullptr;
  std::string device, group, days, from, to, zone, id;
  std::vector<std::string> services, lists, companies, rules;
  bool off = false, json = false;
  bool ran() const;
  // The subcommands that read --config and --data-dir.
  std::vector<CLI::App*> with_data_dir() const;
};

// The configuration file's [[schedule]] tables made ready for the policy,
// in two steps. check_config_schedules: companies turned into their names
// and each schedule checked (policy/schedules.hpp); a problem goes to
// `errors` (false). find_schedule_devices: each device found in the query
// log and, with `join`, put in its own group and a telemetry preset's list
// subscribed (the server does that, as server.user, when it reads the file;
// `hush check` and the CLI only look); a device not seen yet goes to
// `warnings`, and its schedule waits for the next reload.
bool check_config_schedules(Config& cfg, std::vector<std::string>& errors);
void find_schedule_devices(Config& cfg, bool join, std::vector<std::string>& warnings);
// Both.
bool ready_config_schedules(Config& cfg, bool join, std::vector<std::string>& errors,
                            std::vector<std::string>& warnings);

// Registers `schedule` on `app`.
void add_schedule_commands(CLI::App& app, ScheduleCommand& cmd);

// Runs whichever subcommand was given. Returns the exit code (cli_format.hpp).
int run_schedule_command(const ScheduleCommand& cmd, const Config& cfg, std::ostream& out, std::ostream& err);

}  // namespace hush

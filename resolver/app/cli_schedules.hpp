// `hush schedule`: weekly windows for a device, a group or everyone during
// which services, lists, companies or rules are blocked, or blocking is off.
//   hush schedule add [--device D | --group G] --days mon-fri --from 21:00 --to 07:00
//                     [--zone Europe/Berlin] (--block-service youtube | --block-list NAME |
//                     --block-company ID | --block RULE ... | --off)
//   hush schedule ls [--json] | hush schedule rm ID
// Neither --device nor --group means everyone. They change
// <data-dir>/schedules.json whether or not `hush serve` runs; a running hush
// applies a change within about two seconds, and each window's start and end
// by itself at that moment.
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

// Registers `schedule` on `app`.
void add_schedule_commands(CLI::App& app, ScheduleCommand& cmd);

// Runs whichever subcommand was given. Returns the exit code (cli_format.hpp).
int run_schedule_command(const ScheduleCommand& cmd, const Config& cfg, std::ostream& out, std::ostream& err);

}  // namespace hush

// `hush timed` and `hush services`: timed exceptions, pauses and blocked
// services for one device, a group or everyone.
//   hush timed allow|block NAME --for 30m [--device D | --group G]
//   hush timed pause --for 15m [--device D | --group G]
//   hush timed ls [--json] | hush timed cancel ID
//   hush services ls [--json]
//   hush services block NAME [--device D | --group G] [--for 2h] | unblock NAME [...]
// Neither --device nor --group means everyone. They change
// <data-dir>/controls.json whether or not `hush serve` runs; a running hush
// applies a change within about two seconds, and a timed one ends by itself.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "config/config.hpp"

namespace hush {

struct ControlsCommand {
  CLI::App *allow = nullptr, *block = nullptr, *pause = nullptr, *ls = nullptr, *cancel = nullptr;
  CLI::App *services_ls = nullptr, *services_block = nullptr, *services_unblock = nullptr;
  std::string name, device, group, duration, id;
  bool json = false;
  bool ran() const;
  // A subcommand that writes (not ls).
  bool changes_settings() const { return *allow || *block || *pause || *cancel || *services_block || *services_unblock; }
  // The subcommands that read --config and --data-dir.
  std::vector<CLI::App*> with_data_dir() const;
};

// The group and label that --device D / --group G / neither (everyone)
// stand for; a device joins its own group when `join`. "" or why not, with
// the exit code to give in `code`. Also for `hush schedule`.
std::string resolve_whom(const Config& cfg, const std::string& device, const std::string& group, bool join,
                         std::string& out_group, std::string& label, int& code);

// Registers `timed` and `services` on `app`.
void add_controls_commands(CLI::App& app, ControlsCommand& cmd);

// Runs whichever subcommand was given. Returns the exit code (cli_format.hpp).
int run_controls_command(const ControlsCommand& cmd, const Config& cfg, std::ostream& out, std::ostream& err);

}  // namespace hush

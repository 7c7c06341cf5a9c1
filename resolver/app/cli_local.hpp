// `hush local ls|add|rm`: the home's own records, edited while hush runs
// (the server picks up the records file within two seconds).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "config/config.hpp"

namespace hush {

struct LocalCommand {
  CLI::App* ls = nullptr;
  CLI::App* add = nullptr;
  CLI::App* rm = nullptr;
  std::vector<std::string> record;  // NAME [TTL] TYPE DATA...
  std::string name, type;
  bool ran() const { return *ls || *add || *rm; }
};

// Registers the subcommands under `local`; config and data-dir flags are
// read by the caller into the Config passed to run_local_command.
void add_local_commands(CLI::App* local, LocalCommand& cmd);

// Runs whichever subcommand was given. Returns the exit code.
int run_local_command(const LocalCommand& cmd, const Config& cfg);

}  // namespace hush

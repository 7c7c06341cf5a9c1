// `hush lists add|rm|ls|update|catalog`: blocklists followed by URL. They
// work on <data-dir>/hush.db and <data-dir>/lists/ and take effect in a
// running server within about two seconds (it polls the subscriptions'
// generation number). `hush lists enable|disable NAME` switch any list (of
// [[lists]] or subscribed) on or off in the configuration file's
// blocking.disabled_lists, as the dashboard does (config/edit.hpp).
// `hush lists check FILE` stays in main.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "config/config.hpp"

namespace hush {

struct ListsCommand {
  CLI::App* add = nullptr;
  CLI::App* rm = nullptr;
  CLI::App* ls = nullptr;
  CLI::App* update = nullptr;
  CLI::App* catalog = nullptr;
  CLI::App* enable = nullptr;
  CLI::App* disable = nullptr;
  std::string url, name, interval;
  std::vector<std::string> groups;
  bool subdomains = false;
  bool no_update = false;
  bool ran() const { return *add || *rm || *ls || *update || *catalog || *enable || *disable; }
  // The subcommands that read --config and --data-dir.
  std::vector<CLI::App*> with_data_dir() const { return {add, rm, ls, update, enable, disable}; }
};

// Registers the subcommands under `lists`.
void add_lists_commands(CLI::App* lists, ListsCommand& cmd);

// Runs whichever subcommand was given with the settings in `cfg`
// (data_dir, [subscriptions]). Returns the exit code: 0 done, 1 a download
// or the database failed, 2 bad arguments.
int run_lists_command(const ListsCommand& cmd, const Config& cfg);

// Run as root on a data directory that belongs to another user: hands the
// database, list copies and settings files a command created to that user.
void give_to_dir_owner(const std::string& dir);

// "90s", "30m", "6h", "2d" or a plain number of hours; -1 if malformed.
int64_t parse_duration(const std::string& text);

}  // namespace hush

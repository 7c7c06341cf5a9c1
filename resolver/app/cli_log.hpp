// The commands that read the query log: `hush log tail|search`, `hush stats`
// and `hush clients [rename|group]`. They open <data-dir>/hush.db
// themselves, so they work whether or not `hush serve` is running; only
// `hush stats --memory` asks the running server (its /metrics).
#pragma once

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace hush {

struct LogCommands;

// Registers the commands on `app`; the returned object holds their options
// and must outlive app.parse().
std::shared_ptr<LogCommands> add_log_commands(CLI::App& app);

// The file given with --config, "" when none: main loads it and passes on
// what these commands need from it (below).
const std::string& log_config_file(const LogCommands& cmds);

// The data directory from the configuration, used when --data-dir is not
// given (else ./hush-data). Call after app.parse(), before run_log_commands.
void set_configured_data_dir(LogCommands& cmds, const std::string& dir);

// http.listen from the configuration, where `hush stats --memory` asks the
// running server when --http is not given.
void set_configured_http(LogCommands& cmds, const std::string& listen);

// True when app.parse() chose one of these commands.
bool log_command_chosen(const LogCommands& cmds);

// After app.parse(): runs the chosen command, printing to `out` and problems
// to `err`. Returns its exit code (0 ok, 1 cannot read the log, 2 bad
// argument), or nullopt when none of these commands was chosen.
std::optional<int> run_log_commands(const LogCommands& cmds, std::ostream& out, std::ostream& err);

}  // namespace hush

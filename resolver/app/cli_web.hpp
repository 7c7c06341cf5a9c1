// The dashboard's commands: `hush passwd` (sets the admin password, read from
// the terminal without echo or from the first line of stdin) and `hush token
// create NAME | ls | rm ID` (API tokens for scripts). They edit
// <data_dir>/web-auth.json, which a running server re-reads, so they work
// whether or not `hush serve` runs.
#pragma once

#include <iosfwd>
#include <memory>

namespace CLI {
class App;
}

namespace hush::web {

struct WebCommands;

// Registers the commands on `app`; the returned object holds their options
// and must outlive app.parse().
std::shared_ptr<WebCommands> add_web_commands(CLI::App& app);

// True when app.parse() chose one of these commands.
bool web_command_chosen(const WebCommands& cmds);

// Runs the chosen command. Returns its exit code: 0 ok, 1 failed, 2 bad input.
int run_web_commands(const WebCommands& cmds, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace hush::web

// `hush alerts test [-c FILE]`: sends a test message to every
// [[alerts.sink]] of the configuration, now, and says per sink whether it
// was delivered and, if not, why. Works whether or not `hush serve` runs.
#pragma once

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <string>

namespace hush {

struct AlertsCommand {
  CLI::App* test = nullptr;
  std::string config_file;
  bool ran() const { return test && test->parsed(); }
};

void add_alerts_commands(CLI::App& app, AlertsCommand& cmd);

// Exit code: 0 every sink took the message, 1 one did not, 2 bad configuration.
int run_alerts_command(const AlertsCommand& cmd, std::ostream& out, std::ostream& err);

}  // namespace hush

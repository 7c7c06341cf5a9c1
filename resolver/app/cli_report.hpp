// `hush report`: the phone-home report in the terminal, and its actions.
//   hush report [DEVICE] [--since 7d] [--json]     companies a device (or every device) talked to
//   hush report --new [DEVICE] [--since 24h]       first contacts with a company or a name
//   hush report --company ID [--since 7d]          the devices that talk to a company
//   hush report who NAME                           which company a name belongs to
//   hush report block|unblock COMPANY --device D | --group G
//   hush report subscribe COMPANY --device D | --group G [--list ID] [--url URL]
// They read <data-dir>/hush.db and work whether or not `hush serve` runs; a
// running hush applies the actions within about two seconds.
#pragma once

#include <iosfwd>
#include <memory>

namespace CLI {
class App;
}

namespace hush {

struct ReportCommands;

// Registers `report` on `app`; the returned object holds its options and
// must outlive app.parse().
std::shared_ptr<ReportCommands> add_report_command(CLI::App& app);

// True when app.parse() chose `report`.
bool report_command_chosen(const ReportCommands& cmds);

// Runs it, printing to `out` and problems to `err`. Returns the exit code:
// 0 done, 1 the log or the stores could not be read or written, 2 a bad
// argument (an unknown device or company, a malformed duration).
int run_report_command(const ReportCommands& cmds, std::ostream& out, std::ostream& err);

}  // namespace hush

// Schedules: weekly windows (days, from-to wall-clock time, possibly over
// midnight) in a time zone, for one group, a device's own group or everyone,
// during which lists, companies, services or rules are turned on, or
// blocking is turned off. Kept in <data_dir>/schedules.json, and in the
// configuration file's [[schedule]] tables, which hush only reads (at start
// and on SIGHUP): the dashboard and `hush schedule rm` refuse to remove them
// and say where they are written.
//
// No query looks at a clock for them: every policy build takes the
// schedules whose windows cover the `now` it is given (policy/inputs.hpp)
// and says when that next changes (a window opens or closes); the server's
// main loop rebuilds and publishes the policy at that moment, as it does
// when a timed control ends (policy/controls.hpp).
//
// A window is wall-clock time in its zone: "21:00" is 21:00 on the day the
// clocks go forward or back too. A time the clocks skip (02:30 on a spring
// change) begins at the change; a time they repeat (02:30 on an autumn
// change) is its first occurrence. The zones come from abseil's time zone
// library over the system's tz database (/usr/share/zoneinfo, kept current
// by Debian's tzdata): libstdc++ 12 has no std::chrono::tzdb, and libc's
// zone is one per process (TZ), which the log's times and the query log's
// days also read, so a second zone cannot be switched in beside them.
//
// The dashboard (in the server) and the CLI (another process) both change
// the file: each change is one read-change-write under a FileLock, as for
// controls.json, and the server notices the file's new time within two
// seconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/schedule.hpp"
#include "hush/blocklists/policy.h"

namespace hush::policy {

// The data and its text forms (days, clock times) are config/schedule.hpp's.
using hush::Schedule;
using hush::Window;
using hush::clock_text;
using hush::days_text;
using hush::parse_clock;
using hush::parse_days;

// Bounds: schedules kept, windows in one, items (lists, services,
// companies and rules together) in one, and the rules its companies may add.
inline constexpr size_t kMaxSchedules = 100;
inline constexpr size_t kMaxWindows = 28;
inline constexpr size_t kMaxScheduleItems = 64;
inline constexpr size_t kMaxCompanyRules = 4000;

// Whether a zone name is known to the tz database ("" is the system's).
bool known_zone(const std::string& zone);

// Where a schedule stands at `now` (unix seconds): in a window or not, and
// the next moment that changes (0: never, as for a schedule without days).
struct WindowState {
  bool in = false;
  int64_t next_change = 0;
};
WindowState window_state(const Schedule& s, int64_t now);

// Checks a schedule to be stored: whom, zone, windows, items, bounds.
// Services are brought to their ids. "" or why not.
std::string check_schedule(Schedule& s);

// The configuration file's schedules (Config::schedules), checked as a
// stored one is, with names of their own that no two share. Each problem is
// one line naming FILE:LINE and the schedule. False if there is any.
bool check_config_schedules(std::vector<Schedule>& schedules, std::vector<std::string>& errors);

// Why schedule `id` cannot be removed, naming its file and line, when it is
// one of the configuration file's; "" when it is not.
std::string refuse_removal(const std::vector<Schedule>& from_file, const std::string& id);

class ScheduleStore {
 public:
  explicit ScheduleStore(const std::string& data_dir);

  // Every schedule, oldest first. A file that cannot be parsed gives none
  // and says why in `error`.
  std::vector<Schedule> all(std::string* error = nullptr);

  // Checks and adds `s` (id and added are set here).
  std::optional<Schedule> add(Schedule s, int64_t now, std::string& error);

  // False when there is no such id.
  bool remove(const std::string& id, std::string& error);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::mutex mu_;
};

// Adds what the schedules in a window at `now` turn on to a policy build's
// input: paused groups, deny rules, a list's or a telemetry preset's list's
// groups. A list that is not there adds nothing and is named in `errors`.
// Returns the next moment any of them enters or leaves a window (0: none).
int64_t apply_schedules(const std::vector<Schedule>& schedules, int64_t now, blocklists::PolicyConfig& pc,
                        std::vector<std::string>& errors);

}  // namespace hush::policy

// Schedules: weekly windows (days, from-to wall-clock time, possibly over
// midnight) in a time zone, for one group, a device's own group or everyone,
// during which lists, companies, services or rules are turned on, or
// blocking is turned off. Kept in <data_dir>/schedules.json.
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

#include "hush/blocklists/policy.h"

namespace hush::policy {

struct Window {
  uint8_t days = 0;  // the days it starts on: bit 0 Monday ... bit 6 Sunday
  int from = 0;      // minutes after midnight it starts at, 0 to 1439
  int to = 0;        // minutes after midnight it ends at, 1 to 1440; at or before `from`: the next day
};

struct Schedule {
  std::string id;
  std::string group;  // a group, a device's own group ("device-<id>"), or "*" for everyone
  std::string label;  // whom, as said when it was made ("tablet", "group kids", "everyone")
  std::string zone;   // a tz database name ("Europe/Berlin"); "" the system's
  std::vector<Window> windows;
  bool off = false;   // blocking off during the windows; else the items below are on
  std::vector<std::string> lists;     // lists (configured or subscribed) by name
  std::vector<std::string> services;  // service presets by id (policy/services.hpp)
  std::vector<std::string> companies; // company ids from the phone-home map, as shown
  std::vector<std::string> company_rules;  // their names as deny rules, taken when the schedule was made
  std::vector<std::string> rules;     // deny rules ("||example.com^", "/regex/")
  int64_t added = 0;
};

// Bounds: schedules kept, windows in one, items (lists, services,
// companies and rules together) in one, and the rules its companies may add.
inline constexpr size_t kMaxSchedules = 100;
inline constexpr size_t kMaxWindows = 28;
inline constexpr size_t kMaxScheduleItems = 64;
inline constexpr size_t kMaxCompanyRules = 4000;

// "mon-fri", "sat,sun", "mon,wed-fri", "daily", "weekdays", "weekends" as
// day bits; 0 and `error` set when it is none of these.
uint8_t parse_days(const std::string& text, std::string& error);
// The days as text again ("mon-fri", "sat,sun", "daily").
std::string days_text(uint8_t days);
// "21:00" or "7:30" as minutes after midnight ("24:00" too, with `end`);
// -1 when malformed.
int parse_clock(const std::string& text, bool end);
std::string clock_text(int minutes);

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

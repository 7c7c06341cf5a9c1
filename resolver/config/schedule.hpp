// A schedule as data: weekly windows and what they turn on or off, for one
// group, a device's own group or everyone. Declared here, below policy/,
// because the configuration file holds schedules too ([[schedule]]); what
// they mean at a moment (time zones, the policy build) is policy/schedules.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hush {

struct Window {
  uint8_t days = 0;  // the days it starts on: bit 0 Monday ... bit 6 Sunday
  int from = 0;      // minutes after midnight it starts at, 0 to 1439
  int to = 0;        // minutes after midnight it ends at, 1 to 1440; at or before `from`: the next day
};

struct Schedule {
  std::string id;     // schedules.json: random hex; the configuration file: its name
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
  // Only for a schedule of the configuration file: "FILE:LINE" of its
  // [[schedule]] table, and the device as written there (name, MAC or
  // address), which the server turns into `group` when it reads the file.
  std::string source;
  std::string device;
};

// "mon-fri", "sat,sun", "mon,wed-fri", "daily", "weekdays", "weekends" as
// day bits; 0 and `error` set when it is none of these.
uint8_t parse_days(const std::string& text, std::string& error);
// The days as text again ("mon-fri", "sat,sun", "daily").
std::string days_text(uint8_t days);
// "21:00" or "7:30" as minutes after midnight ("24:00" too, with `end`);
// -1 when malformed.
int parse_clock(const std::string& text, bool end);
std::string clock_text(int minutes);

}  // namespace hush

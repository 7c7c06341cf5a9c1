// Controls: allow or block a name, pause blocking, or block a service preset
// (policy/services.hpp) for one group, a device's own group ("device-<id>")
// or everyone ("*"), until an end time or, for a service, until removed.
// Kept in <data_dir>/controls.json with their end time in wall-clock unix
// seconds, so they survive a restart and end at the same moment after one.
//
// No query ever looks at a clock for them: every policy build takes the
// controls in force at the `now` it is given (policy/inputs.hpp) and says
// when that set next changes (next_end()); the server's main loop rebuilds
// and publishes at that moment. A later timed input (a schedule) adds its
// own edges the same way.
//
// The dashboard (in the server) and the CLI (another process) both change
// the file: like rules.json, each change is one read-change-write under a
// FileLock, and the server notices the file's new time within two seconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hush/blocklists/policy.h"

namespace hush::policy {

struct Control {
  std::string id;
  std::string kind;    // "allow", "deny", "pause" or "service"
  std::string target;  // the name (allow, deny), the service id (service), "" (pause)
  std::string group;   // a group, a device's own group, or "*" for everyone
  std::string label;   // whom, as said when it was made ("tablet", "group kids", "everyone")
  int64_t until = 0;   // unix seconds it ends at; 0: until removed (services only)
  int64_t added = 0;
};

// Bounds: controls kept at once (ended ones are dropped at the next write),
// and the longest a timed control may run.
inline constexpr size_t kMaxControls = 1000;
inline constexpr int64_t kMaxControlSeconds = 7 * 86400;

class ControlsStore {
 public:
  explicit ControlsStore(const std::string& data_dir);

  // The controls in force at `now` (ended ones left out), oldest first. A
  // file that cannot be parsed gives none and says why in `error`.
  std::vector<Control> active(int64_t now, std::string* error = nullptr);

  // Checks and adds `c` (id and added are set here). One with the same
  // kind, target and group is replaced, so "pause 10 more minutes" moves
  // the end instead of stacking a second pause.
  std::optional<Control> add(Control c, int64_t now, std::string& error);

  // Ends a control now. False when there is no such id (or it has ended).
  bool remove(const std::string& id, int64_t now, std::string& error);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::mutex mu_;
};

// Adds `controls` to a policy build's input: allow/deny entries (they beat
// lists and the configured entries of the same rank), paused groups, the
// service presets' rules, and the groups of a subscribed catalog list that a
// telemetry preset stands for. A preset whose list is not subscribed adds
// nothing and is named in `errors`.
void apply_controls(const std::vector<Control>& controls, blocklists::PolicyConfig& pc,
                    std::vector<std::string>& errors);

// The first end after `now` among `controls`; 0 when none ends.
int64_t next_end(const std::vector<Control>& controls, int64_t now);

// The group subscribed catalog lists are put in when a telemetry preset
// subscribes them: no client is in it, so the list blocks only for the
// groups its controls add.
inline constexpr const char* kServiceListsGroup = "service-lists";

}  // namespace hush::policy

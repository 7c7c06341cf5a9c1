// Controls: allow or block a name, pause blocking, or block a service preset
// (policy/services.hpp) for one group, a device's own group ("device-<id>")
// or everyone ("*"), until an end time or, for a service, until removed.
// Kept in <data_dir>/controls.json with their end time in wall-clock unix
// seconds, so they survive a restart and end at the same moment after one.
//
// No query ever looks at a clock for them: every policy build takes the
// controls in force at the `now` it is given (policy/inputs.hpp) and says
// when that set next changes (next_end()); the server's main loop rebuilds
// and publishes at that moment.
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
#include "hush/blocklists/subscriptions/subscriptions.h"

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
// controls for one group (a device's own group is one), and the longest a
// timed control may run.
inline constexpr size_t kMaxControls = 1000;
inline constexpr size_t kMaxControlsPerGroup = 100;
inline constexpr int64_t kMaxControlSeconds = 7 * 86400;

// The group that holds only this device (the report's actions use it too).
std::string device_group(int64_t device_id);

// Puts the device in its own group (keeping its other groups) so a control
// can name it; "" or why not (no such device, no query log yet).
std::string join_device_group(const std::string& data_dir, int64_t device_id);

class ControlsStore {
 public:
  explicit ControlsStore(const std::string& data_dir);

  // The controls in force at `now` (ended ones left out), oldest first. A
  // file that cannot be parsed gives none and says why in `error`.
  std::vector<Control> active(int64_t now, std::string* error = nullptr);

  // Checks and adds `c` (id and added are set here; an allow or deny name is
  // brought to its plain form). One with the same kind, target and group is
  // replaced, so "pause 10 more minutes" moves the end instead of stacking
  // a second pause.
  std::optional<Control> add(Control c, int64_t now, std::string& error);

  // Ends a control now. False when there is no such id (or it has ended).
  bool remove(const std::string& id, int64_t now, std::string& error);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::mutex mu_;
};

// Adds `controls` to a policy build's input: allow/deny entries (marked
// $important, so a timed allow beats the lists and the standing deny
// entries, and a timed block the standing allow entries), paused groups, the
// service presets' rules, and the target groups of the catalog list a
// telemetry preset stands for. A preset whose list is not subscribed adds
// nothing and is named in `errors`.
void apply_controls(const std::vector<Control>& controls, blocklists::PolicyConfig& pc,
                    std::vector<std::string>& errors);

// The first end after `now` among `controls`; 0 when none ends.
int64_t next_end(const std::vector<Control>& controls, int64_t now);

// The group a telemetry preset's catalog list is subscribed for when no one
// subscribed it: no client is in it, so the list blocks only for the groups
// the preset's controls add (apply_controls).
inline constexpr const char* kServiceListsGroup = "service-lists";

// Before a telemetry preset is blocked: subscribes its catalog list (for
// kServiceListsGroup) unless a subscription of it exists. The download is
// left to the server's updater. "" or why not; nothing to do for a rule preset.
std::string ensure_service_list(const std::string& data_dir, const blocklists::subs::Settings& settings,
                                const std::string& service);

}  // namespace hush::policy

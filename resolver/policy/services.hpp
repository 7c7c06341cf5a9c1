// Blocked-service presets (YouTube, TikTok, ... and the vendor telemetry
// sets): the data is blocklists/services/services.toml, compiled into the
// binary, with its source and licence in that file. A preset is either a
// set of deny rules or a list of the subscription catalog; controls
// (policy/controls.hpp) switch presets on for a group or a device.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hush::policy {

struct Service {
  std::string id;       // "youtube"
  std::string name;     // "YouTube"
  std::vector<std::string> rules;  // deny patterns ("||youtube.com^"); empty for a catalog preset
  std::string catalog;  // the catalog list it stands for, "" for a rule preset
};

// Every preset, in the data file's order. Parsed once; the data is checked
// by the tests, so a bad file fails the build's tests, not a user.
const std::vector<Service>& services();

// The preset with this id or name (case-insensitive), or null.
const Service* find_service(std::string_view id_or_name);

}  // namespace hush::policy

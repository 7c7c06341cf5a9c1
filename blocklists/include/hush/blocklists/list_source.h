// A list file as the configuration names it, and what reading it gave: the
// words shared by the policy (policy.h) and the compiled lists below it
// (compiled_lists.h), which must not include the policy.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "hush/blocklists/format.h"

namespace hush::blocklists {

struct ListSource {
  std::string name;
  std::string path;
  std::vector<std::string> groups{"default"};
  bool subdomains = false;  // plain/hosts entries also block their subdomains
  bool operator==(const ListSource&) const = default;
};

struct ListReport {
  std::string name;
  std::string path;
  std::string error;  // non-empty when the file could not be read
  ParseStats stats;
  size_t entries = 0;  // rules accepted from this list (before dedupe)
};

}  // namespace hush::blocklists

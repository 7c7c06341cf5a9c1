// Reading an override file of the company map (format in companies.hpp).
// Internal to the report module.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hush::report {

struct OverrideLine {
  std::string domain;    // normalized
  std::string company;   // as written; "-" removes the name's company
  std::string category;  // "" when not given
  int line = 0;
};

// Parses `text`; each bad line appends "<source>:<line>: why" to `errors` and
// is skipped.
std::vector<OverrideLine> parse_overrides(std::string_view text, const std::string& source,
                                          std::vector<std::string>& errors);

}  // namespace hush::report

// Everything derived from the subscribed list files, and nothing from the
// rest of the configuration: this is what the compiled cache stores, so a
// change of groups, clients or allow/deny entries never forces a re-parse.
#pragma once

#include <string>
#include <vector>

#include "hush/blocklists/compiled_set.h"
#include "hush/blocklists/format.h"
#include "hush/blocklists/list_source.h"

namespace hush::blocklists {

struct CompiledLists {
  std::vector<ListReport> lists;  // index = list id
  SetTable sets;                  // list-id sets used by `block` and `allow`
  CompiledSet block;              // plain block names
  CompiledSet allow;              // plain "@@"/passthru names
  std::vector<Rule> rules;        // regexes and rules with modifiers
  std::vector<uint32_t> rule_list;  // list id of each rule
  size_t dropped_covered = 0;
  size_t badfiltered = 0;

  size_t memory_bytes() const;
};

// Reads, parses and compiles the lists. Unreadable files are recorded in
// their ListReport::error and contribute nothing.
CompiledLists compile_lists(const std::vector<ListSource>& sources);

// Same, from texts already in memory (tests, `lists check`).
struct ListText {
  ListSource source;
  std::string text;
  std::string error;
};
CompiledLists compile_texts(const std::vector<ListText>& lists);

}  // namespace hush::blocklists

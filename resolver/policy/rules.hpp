// The allow and deny entries made in the dashboard (or through the API, or
// `hush report block`), kept in <data_dir>/rules.json and added to the
// configuration's own blocking.allow/deny by every policy build
// (policy/inputs.hpp).
// Thread-safe; the file is written through a temporary and re-read on every
// call, so a change by another process is seen too. Expected failures come
// back as false/nullopt plus a message.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hush/blocklists/policy.h"

namespace hush::policy {

struct Rule {
  std::string id;
  std::string kind;                    // "allow" or "deny"
  std::string pattern;                 // as blocking.allow/deny take it
  std::vector<std::string> groups{"default"};
  std::string comment;
  int64_t added = 0;                   // unix seconds
};

class RulesStore {
 public:
  explicit RulesStore(const std::string& data_dir);
  std::vector<Rule> list(std::string* error = nullptr);
  // Checks the pattern (the policy builder must accept it) and the groups;
  // refuses an exact duplicate.
  std::optional<Rule> add(Rule r, std::string& error);
  // add() for several entries with one write of the file (blocking a
  // company adds hundreds). All or none: the first bad entry fails the call
  // and the error names it.
  std::optional<std::vector<Rule>> add_all(std::vector<Rule> rules, std::string& error);
  bool remove(const std::string& id, std::string& error);
  // remove() for several ids with one write; all or none (an unknown id fails).
  bool remove_all(const std::vector<std::string>& ids, std::string& error);
  // Every entry for group `from` is for group `to` instead; how many changed.
  size_t rename_group(const std::string& from, const std::string& to, std::string& error);
  // Appends the stored entries to these vectors; a file that cannot be
  // parsed adds nothing and says why in `error`.
  void append_to(std::vector<blocklists::Entry>& allow, std::vector<blocklists::Entry>& deny,
                 std::string* error = nullptr);

 private:
  bool save(const std::vector<Rule>& rules, std::string& error);
  // Reads the file, lets `change` edit the entries (false: leave the file
  // alone) and writes it once.
  template <class F>
  bool update(std::string& error, F change);
  std::string path_;
  std::mutex mu_;
};

}  // namespace hush::policy

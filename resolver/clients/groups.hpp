// Device groups: the groups a device was put in with `hush clients group`,
// the dashboard or the report's actions. They live in the devices table of
// <data_dir>/hush.db, which the query log creates and fills with devices and
// their addresses; this is the one owner that reads them as policy input and
// writes them. It speaks SQL to that file directly, so clients/ needs nothing
// from querylog/ (which sits above it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/sqlite.hpp"
#include "hush/blocklists/policy.h"

namespace hush::clients {

// A device's groups as the devices table keeps them: one comma-separated text.
std::vector<std::string> split_groups(const std::string& text);

// True when `g` is a usable group name: 1 to 32 of a-z, 0-9, '_' and '-'.
bool valid_group(const std::string& g);

class DeviceGroups {
 public:
  // Opens the database of `data_dir`, read-only unless `writable` (set()
  // needs it). Null, with `err`, when there is no database yet (hush has not
  // logged a query) or it cannot be opened. One object per thread.
  static std::unique_ptr<DeviceGroups> open(const std::string& data_dir, bool writable, sqlite::Error& err);

  // One client rule per address each grouped device was seen with, ordered
  // by device and address; a device known by its client ID (key "id:NAME")
  // gives one "id:NAME" rule instead, since its addresses may be a NAT
  // router's. A device only in "default" gives none. Empty,
  // with `err`, when the read fails.
  std::vector<blocklists::ClientRule> rules(sqlite::Error& err);

  // The device's groups. Empty, with `err`, when the device does not exist
  // (SQLITE_NOTFOUND) or the read fails.
  std::vector<std::string> groups(int64_t device_id, sqlite::Error& err);

  // Replaces the device's groups (duplicates dropped). False with `err` when
  // a name is not valid_group() or none is given (SQLITE_MISMATCH), the
  // device does not exist (SQLITE_NOTFOUND) or the write fails.
  bool set(int64_t device_id, const std::vector<std::string>& groups, sqlite::Error& err);

  // True when another connection (the log writer, another process) committed
  // a change to the file since the last call (PRAGMA data_version): a check
  // of a page header, so rules() need only be read again after one.
  bool changed();

 private:
  explicit DeviceGroups(sqlite::Db db) : db_(std::move(db)) {}
  sqlite::Db db_;
  int64_t data_version_ = -1;
};

// The device groups' client rules for a policy build: rules() of the
// database in `data_dir`, or none when it does not exist yet or cannot be
// read (logged by the caller's policy build, not here).
std::vector<blocklists::ClientRule> device_group_rules(const std::string& data_dir);

// Watches the device groups of a running server: changed() says when the
// rules differ from those last seen (a device moved, or a grouped device
// showed up at a new address), keeping one connection and reading the rules
// only after the file changed. Main thread only.
class GroupsWatch {
 public:
  // Reads the current rules, so the first changed() compares with them.
  explicit GroupsWatch(std::string data_dir);
  bool changed();

 private:
  std::string data_dir_;
  std::unique_ptr<DeviceGroups> db_;  // null until the database exists
  std::vector<blocklists::ClientRule> seen_;
};

}  // namespace hush::clients

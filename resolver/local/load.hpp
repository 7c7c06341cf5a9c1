// Building the local data from the settings, and the records file that
// `hush local add|rm` edit while the server runs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "local/interfaces.hpp"
#include "local/zone.hpp"

namespace hush::local {

struct Settings {
  std::string domain = "lan";
  std::string hostname = "hush";       // hush answers "<hostname>.<domain>" with its own address
  std::vector<std::string> aliases;    // more names for hush itself
  unsigned ttl = 300;
  std::vector<std::string> records;    // zone-file lines
  std::vector<std::string> hosts_files;
  std::vector<std::string> zone_files;
  std::string records_file;            // `hush local add` writes here; "" = none
};

struct Data {
  explicit Data(const Settings& s) : zone(s.domain, s.ttl), ttl(s.ttl) {}
  Zone zone;
  Interfaces interfaces;
  std::vector<std::string> own_names;  // lower case, no trailing dot
  uint32_t ttl;
};

// Loads every source; problems are appended to `errors` (with file and line)
// and the good records still load.
std::shared_ptr<const Data> load(const Settings& s, std::vector<LoadError>& errors);

// The records file: one zone-file line per record. add() checks the record
// first and refuses an exact duplicate; rm() removes every record of NAME
// (and TYPE when given). Both return "" or what went wrong, and write the
// file through a temporary so a crash never leaves half a file.
std::string add_record(const Settings& s, const std::string& line);
std::string remove_records(const Settings& s, const std::string& name, const std::string& type,
                           size_t* removed);
std::vector<std::string> read_records_file(const std::string& path);
// The dashboard's edit: replaces the line `old_line` of the records file
// (the same words) with `line`, checked first; `line` empty removes it.
// Returns "" or what went wrong ("no such record" when `old_line` is not there).
std::string replace_record(const Settings& s, const std::string& old_line, const std::string& line);

}  // namespace hush::local

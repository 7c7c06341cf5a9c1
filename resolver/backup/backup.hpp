// Backup and restore of everything a user set: the configuration file, the
// allow/deny entries (rules.json), timed exceptions, pauses and blocked
// services (controls.json), schedules (schedules.json), local records, the dashboard's password
// hash and API token hashes (web-auth.json), the report's corrections,
// devices with their names and groups, list subscriptions with their state,
// optionally the subscribed lists' local copies and the query log.
//
// The file is one JSON document (nlohmann-json, already a dependency):
// every part is text a user can read and diff, the dashboard sends and
// receives it as it is, and no second container library is needed. The
// query log, a SQLite file, is the one binary part; it goes in base64 and
// only with --with-log.
//
//   {"format": "hush-backup", "version": 1, "hush": "0.1.0", "created": <unix s>,
//    "sha256": "<hex of contents.dump()>", "contents": {...}}
//
// nlohmann's objects keep their keys sorted, so contents.dump() is the same
// text on every machine and the checksum covers every byte of every part.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hush::backup {

inline constexpr int kFormatVersion = 1;

// Where the parts live.
struct Place {
  std::string data_dir;
  std::string config_file;  // "" : no configuration file (backup: none kept; restore: not written)
};

struct MakeOptions {
  bool with_lists = false;  // the subscribed lists' local copies
  bool with_log = false;    // the query log, through SQLite's online backup
  std::string hush_version;
  int64_t now_unix = 0;
};

// The backup document as text, or nullopt with `error`.
std::optional<std::string> make(const Place& from, const MakeOptions& opts, std::string& error);

// The document around `contents` (format, version, checksum), as make()
// writes it; sync sends settings it took from make()'s contents this way.
std::string document(const nlohmann::json& contents, const std::string& hush_version, int64_t now_unix);

// A checked backup: format, version and checksum verified, every part
// parsed as the server would parse it.
struct Backup {
  nlohmann::json contents;
  int64_t created = 0;
  std::string hush_version;
  // Subscriptions whose list copy in the data directory stays as it is, with
  // the download state the backup gives (sync keeps a replica's own), instead
  // of being downloaded again whole.
  std::set<std::string> keep_lists;
};

// Checks `text` whole; nullopt with a message naming the first problem.
std::optional<Backup> parse(const std::string& text, std::string& error);

// One line of a restore's preview.
struct Change {
  std::string part;  // "configuration", "rules", "devices", ...
  std::string what;  // what differs ("3 entries -> 5", "unchanged")
  std::string when;  // "at once", "at the next reload (SIGHUP)", "after a restart", ""
};

struct Plan {
  std::vector<Change> changes;
  std::vector<std::string> errors;  // non-empty: apply() refuses
};

// What restoring `b` into `to` would change; reads, writes nothing. Also
// checks every part against its own parser (the configuration, rules,
// records), so a plan without errors is one apply() can carry out.
Plan preview(const Backup& b, const Place& to);

// Applies `b` as a whole or not at all: every file is written aside and
// checked first, the database changes in one transaction, and only after
// it commits are the files renamed into place (under the same lock files
// the server and the other commands take). Returns "" or why nothing changed.
std::string apply(const Backup& b, const Place& to);

// The plan as lines for a terminal or the dashboard.
std::string describe(const Plan& p);
nlohmann::json to_json(const Plan& p);

}  // namespace hush::backup

// Backup and restore of everything a user set: the configuration file, the
// allow/deny entries (rules.json), timed exceptions, pauses and blocked
// services (controls.json), schedules (schedules.json), local records, the dashboard's password
// hash and API token hashes (web-auth.json), the report's corrections,
// devices with their names and groups, list subscriptions with their state,
// optionally the subscribed lists' local copies and the query log.
//
// The settings are one JSON document (nlohmann-json, already a dependency):
// every part is text a user can read and diff, and the dashboard sends and
// receives it as it is.
//
//   {"format": "hush-backup", "version": 2, "hush": "0.1.0", "created": <unix s>,
//    "sha256": "<hex of contents.dump()>", "contents": {...}}
//
// nlohmann's objects keep their keys sorted, so contents.dump() is the same
// text on every machine and the checksum covers every byte of every part.
//
// The query log (--with-log), a SQLite file that can reach a GiB, is never
// held in memory: the document is then written on one line, and the log's
// bytes follow that line as they are, `contents.log.bytes` of them with
// their SHA-256 in `contents.log.sha256` (so the document's checksum covers
// them too). `head -n 1 FILE` is the document; `tail -c +$((1 + $(head -n 1
// FILE | wc -c))) FILE > log.db` is the log, which sqlite3 opens.
// Format version 1 kept the log base64 inside the document; such files
// are still read (whole, in memory).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hush::backup {

inline constexpr int kFormatVersion = 2;

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

// The backup document as text, or nullopt with `error` (opts.with_log is
// for make_file()).
std::optional<std::string> make(const Place& from, const MakeOptions& opts, std::string& error);

// A backup on its way to a file: the document, and with --with-log a
// consistent copy of the query log (SQLite's online backup) beside the
// data directory's database, removed with this object.
struct Made {
  std::string document;
  std::string log_copy;  // "" : no log
  int64_t log_bytes = 0;
  Made() = default;
  Made(const Made&) = delete;
  Made& operator=(const Made&) = delete;
  ~Made();
};
std::unique_ptr<Made> make_file(const Place& from, const MakeOptions& opts, std::string& error);

// Writes `m` to `fd`: the document, then the log's bytes read piece by
// piece. Returns "" or why it failed.
std::string write(const Made& m, int fd);

// The document around `contents` (format, version, checksum), as make()
// writes it; sync sends settings it took from make()'s contents this way.
std::string document(const nlohmann::json& contents, const std::string& hush_version, int64_t now_unix);

// The query log a backup carries, checked against its checksum.
struct LogFile {
  std::string dir;   // a directory of its own, removed with this object
  std::string path;  // the log's bytes in `dir`, for a restore; "" : only checked
  int64_t bytes = 0;
  std::optional<std::string> problem;  // once checked as a database: "" or what is wrong
  LogFile() = default;
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  ~LogFile();
};

// A checked backup: format, version and checksum verified, every part
// parsed as the server would parse it.
struct Backup {
  nlohmann::json contents;  // without "log": that is `log`
  std::shared_ptr<LogFile> log;  // null: none in the backup
  int64_t created = 0;
  std::string hush_version;
  // Subscriptions whose list copy in the data directory stays as it is, with
  // the download state the backup gives (sync keeps a replica's own), instead
  // of being downloaded again whole.
  std::set<std::string> keep_lists;
};

// Where a backup's bytes come from: fills `buf` with up to `n` bytes and
// returns how many (0 at the end), or -1 on a read error.
using ReadFn = std::function<long(char* buf, size_t n)>;

// Larger than any settings document a home has (a few hundred KiB; with a
// 1M-name list copy 33 MB) and than a version-1 --with-log file of a full
// default log (querylog.max_size_mib 1024, in base64), which is read whole.
inline constexpr size_t kMaxDocumentBytes = size_t(1536) << 20;

// Reads and checks a backup piece by piece: the document (at most
// kMaxDocumentBytes), then the log's bytes when it has one, hashed as they
// go by and, when `log_dir` (given the checked contents) names a
// directory, written to a new file under it for a restore; "" only checks
// them. nullopt with a message naming the first problem.
std::optional<Backup> read(const ReadFn& in, const std::function<std::string(const nlohmann::json&)>& log_dir,
                           std::string& error);

// read() over text in memory (a request body, a sync document).
std::optional<Backup> parse(std::string_view text, std::string& error,
                            const std::function<std::string(const nlohmann::json&)>& log_dir = {});

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

// What backup.cpp and restore.cpp share: the parts' names and the helpers
// for the checksum, base64 and SQLite's online backup.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace hush::backup {

inline constexpr const char* kFormatName = "hush-backup";

// The settings files of the data directory a backup carries whole.
inline constexpr std::array<const char*, 6> kFiles = {"rules.json",    "local.records", "web-auth.json",
                                                      "companies.txt", "controls.json", "schedules.json"};

// The subscriptions table's columns a backup keeps (not the download
// lease, which belongs to a running process).
struct Column {
  const char* name;
  bool text;
};
inline constexpr std::array<Column, 19> kSubscriptionColumns = {{
    {"name", true},        {"url", true},          {"catalog_id", true},  {"groups", true},
    {"subdomains", false}, {"interval_s", false},  {"added", false},      {"last_attempt", false},
    {"last_success", false}, {"last_changed", false}, {"next_update", false}, {"failures", false},
    {"last_error", true},  {"etag", true},         {"last_modified", false}, {"entries", false},
    {"invalid", false},    {"bytes", false},       {"content_hash", false},
}};

// The log goes through memory in pieces of this size, whatever its size.
inline constexpr size_t kPiece = size_t(256) << 10;

std::string sha256_hex(std::string_view data);

// A SHA-256 fed piece by piece, for a log that is never held whole.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  std::string hex();  // once, at the end

 private:
  void* ctx_;
};

// contents.log of format version 2: the size and checksum of the log's
// bytes that follow the document; nullopt when `v` is not one.
struct LogEntry {
  int64_t bytes = 0;
  std::string sha256;
};
std::optional<LogEntry> log_entry(const nlohmann::json& v);

std::string base64(std::string_view data);
std::optional<std::string> unbase64(std::string_view text);
// SQLite's online backup API from `from` into `to`: a consistent copy of a
// database another process is writing. Returns "" or why it failed.
std::string copy_database(const std::string& from, const std::string& to);

}  // namespace hush::backup

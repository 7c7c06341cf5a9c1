// Reading the query log: what the CLI prints and the dashboard serves. Each
// call runs a few indexed reads; none scans all raw rows except a domain
// substring search, which scans the time range it is given.
//
// A Reader holds its own connection; WAL lets it read while the writer
// writes. One Reader per thread. Every call reports failure in `err` and
// then returns an empty result.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "querylog/record.hpp"
#include "querylog/sqlite.hpp"

namespace hush::querylog {

constexpr int64_t kForever = std::numeric_limits<int64_t>::max();

using StatusCounts = std::array<int64_t, kStatusCount>;  // indexed by Status
inline int64_t total(const StatusCounts& c) {
  int64_t t = 0;
  for (int64_t v : c) t += v;
  return t;
}

struct LogEntry {
  int64_t id = 0;
  int64_t time_us = 0;
  int64_t device_id = 0;
  std::string device;  // display name: custom name, else discovered name, else address
  std::string client_ip;
  std::string domain;
  uint16_t qtype = 0;
  Transport transport = Transport::Udp;
  Status status = Status::Forwarded;
  uint16_t rcode = 0;
  std::string reason, upstream, answer;
  uint32_t latency_us = 0;
};

struct QueryFilter {
  std::vector<int64_t> devices;  // empty: every device
  std::string domain_contains;   // empty: any domain
  // Free search: the name, the device's name, the client's address or the
  // answer contains it (case-insensitive); empty: anything.
  std::string text_contains;
  std::optional<Status> status;
  std::optional<uint16_t> qtype;
  int64_t since_us = 0;          // inclusive
  int64_t until_us = kForever;   // exclusive
  // Paging. Newest first, rows with id < before_id (0: from the newest). With
  // after_id set instead, oldest first from id > after_id (for --follow).
  int64_t before_id = 0;
  int64_t after_id = 0;
  size_t limit = 100;
};

struct QueryPage {
  std::vector<LogEntry> rows;
  // before_id for the next (older) page; 0 when this page reached the end.
  int64_t next_before_id = 0;
};

struct Summary {
  StatusCounts counts{};  // every query answered, logged or not (see Writer)
  int64_t devices = 0;   // devices that asked anything in the range
  int64_t dropped = 0;   // queries never logged (queue full, storage failures), all time
  int64_t total() const { return querylog::total(counts); }
  double blocked_percent() const;
};

enum class Bucket { Minute, Hour };
struct Point {
  int64_t start_us = 0;
  StatusCounts counts{};
};

struct Ranked {
  std::string name;    // domain, or device display name for top_clients
  int64_t id = 0;      // domain id or device id
  int64_t total = 0;
  int64_t blocked = 0;
};

struct Device {
  int64_t id = 0;
  std::string key;            // "mac:..." or "ip:..."
  std::string mac;
  std::string name;           // what to show: custom, else discovered, else first address
  std::string discovered_name;
  std::string custom_name;
  std::vector<std::string> groups;
  std::vector<std::string> addresses;  // most recently seen first
  int64_t first_seen_us = 0, last_seen_us = 0;
  int64_t queries = 0, blocked = 0;    // within the range asked for
};

// Where a page of devices ends: the last device's last_seen and id. The
// next page continues below it, so a device seen again while a client pages
// moves to the front instead of showing twice.
struct DeviceCursor {
  int64_t last_seen_us = 0;
  int64_t id = 0;
};

struct DevicePage {
  std::vector<Device> devices;
  int64_t total = 0;                  // devices in the log
  std::optional<DeviceCursor> next;   // nullopt: this page reached the end
};

struct SeenDomain {
  std::string domain;
  int64_t first_seen_us = 0, last_seen_us = 0;
};

class Reader {
 public:
  // Opens `path` (read-only unless `writable`, which rename_device needs).
  // Returns nullptr and `err` when it is missing or not a hush query log.
  static std::unique_ptr<Reader> open(const std::string& path, bool writable, sqlite::Error& err);

  // Devices that `who` names: a custom or discovered name, a MAC, an address
  // or a device key; case-insensitive for names.
  std::vector<int64_t> find_devices(const std::string& who, sqlite::Error& err);

  QueryPage queries(const QueryFilter& f, sqlite::Error& err);
  // Totals per status, to the minute for ranges up to two days that the
  // per-minute counts still cover, else to the hour (whole hours from the
  // hour `since_us` falls in).
  Summary summary(const std::vector<int64_t>& devices, int64_t since_us, int64_t until_us,
                  sqlite::Error& err);
  // One point per minute or hour that had queries, oldest first.
  std::vector<Point> history(const std::vector<int64_t>& devices, int64_t since_us, int64_t until_us,
                             Bucket bucket, sqlite::Error& err);
  // Most asked domains. Ranges up to two days count raw rows exactly;
  // longer ones count whole UTC days from the per-day table.
  std::vector<Ranked> top_domains(const std::vector<int64_t>& devices, int64_t since_us,
                                  int64_t until_us, size_t n, bool blocked_only, sqlite::Error& err);
  // Most active devices; minute or hour precision as for summary().
  std::vector<Ranked> top_clients(int64_t since_us, int64_t until_us, size_t n, sqlite::Error& err);
  // Every device, most recently seen first, with counts from `since_us`.
  std::vector<Device> devices(int64_t since_us, sqlite::Error& err);
  // At most `limit` devices in the same order, after `after` (nullopt: from
  // the first); the work is the page's, not the log's.
  DevicePage device_page(int64_t since_us, size_t limit, std::optional<DeviceCursor> after, sqlite::Error& err);
  // Calls `fn` with each device's id, display name and groups, one row at a
  // time, so that a summary over all devices holds none of them.
  void each_device_groups(const std::function<void(int64_t id, const std::string& name,
                                                   const std::vector<std::string>& groups)>& fn,
                          sqlite::Error& err);
  // One device with counts from `since_us`; nullopt when the log has none.
  std::optional<Device> device(int64_t id, int64_t since_us, sqlite::Error& err);
  // Domains the device asked for the first time at or after `since_us`,
  // newest first.
  std::vector<SeenDomain> new_domains(int64_t device_id, int64_t since_us, size_t n, sqlite::Error& err);
  // How many there are, counted through the (device_id, first_seen) index
  // up to `cap` (a bound on the work; `cap` itself means "at least cap").
  int64_t count_new_domains(int64_t device_id, int64_t since_us, int64_t cap, sqlite::Error& err);

  // Sets the name shown for the device (empty: back to the discovered one).
  // False on failure; err.code is SQLITE_NOTFOUND when the log has no such
  // device. (A device's groups are clients::DeviceGroups'.)
  bool rename_device(int64_t device_id, const std::string& name, sqlite::Error& err);

 private:
  explicit Reader(sqlite::Db db) : db_(std::move(db)) {}
  // The id range that holds every row of [since, until) (see schema.hpp).
  void id_range(int64_t since_us, int64_t until_us, int64_t& lo, int64_t& hi, sqlite::Error& err);
  StatusCounts sum_counts(const char* table, int64_t unit_us, const std::vector<int64_t>& devices,
                          int64_t since_us, int64_t until_us, sqlite::Error& err);
  // Whether per-minute rows serve [since, until): short ranges they still cover.
  bool use_minutes(int64_t since_us, int64_t until_us, sqlite::Error& err);
  // Rows of `devices` matching `where` (ordered, limited), with addresses,
  // display names and counts from `since_us`.
  std::vector<Device> select_devices(const std::string& where, const std::vector<int64_t>& binds,
                                     int64_t since_us, size_t limit, sqlite::Error& err);

  sqlite::Db db_;
};

// "30s", "15m", "24h", "7d" -> microseconds; nullopt when malformed.
std::optional<int64_t> parse_duration(const std::string& text);

}  // namespace hush::querylog

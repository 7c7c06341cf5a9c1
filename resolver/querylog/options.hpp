// Settings of the query log, and the privacy patterns that keep clients and
// domains out of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hush::querylog {

struct Options {
  std::string path;                       // the database, <data_dir>/hush.db
  // Raw query rows and per-minute counts.
  int64_t raw_retention_s = 30 * 86400;
  // Per-hour counts, per-day domain counts, first/last seen; never below
  // raw_retention_s (raw rows need the names these keep).
  int64_t aggregate_retention_s = 365 * 86400;
  bool anonymous = false;                 // keep counts only: no client, no domain
  // Matched against the client's IP, MAC and device name. A query from a
  // matching client is not recorded at all, not even in the counts.
  std::vector<std::string> ignore_clients;
  // Matched against the domain; a pattern without wildcards also covers its
  // subdomains ("bank.example" hides "www.bank.example").
  std::vector<std::string> ignore_domains;
  // Devices the log creates at most; queries from further new addresses are
  // logged under one shared "other devices" entry, so sources spoofed from
  // inside an allowed network cannot grow the devices table without end.
  size_t max_devices = 10000;
  // The database's used size (pages in use, not free ones) at most; past it
  // the writer removes the oldest days, raw rows first, until it is under
  // 90% of this. 0: no cap.
  int64_t max_size_bytes = 0;
  size_t queue_per_worker = 8192;         // records; more are dropped and counted
  int64_t commit_interval_us = 1000000;   // a batch is written at least this often
  size_t max_batch = 50000;               // or as soon as it holds this many records
};

// Case-insensitive glob: '*' matches any run of characters (dots too), '?' one.
bool glob_match(std::string_view pattern, std::string_view text);

class Privacy {
 public:
  Privacy() = default;
  Privacy(const std::vector<std::string>& clients, const std::vector<std::string>& domains);
  bool hides_domain(std::string_view name) const;
  // Any of the client's identifiers may match; empty ones are skipped.
  bool hides_client(std::string_view ip, std::string_view mac, std::string_view name) const;

 private:
  std::vector<std::string> clients_, domains_;
};

}  // namespace hush::querylog

// The Prometheus text exposition (format 0.0.4) of hush's counters, for
// /metrics. Rendering only: the server gathers a Snapshot (summing the
// workers' counters) and this turns it into text. No locks, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "metrics/counters.hpp"

namespace hush::metrics {

struct ListInfo {
  std::string name;
  size_t entries = 0;         // rules read from the list (before dedupe)
  int64_t modified_unix = 0;  // the file's mtime; 0 when unknown
  bool ok = true;             // false: the file could not be read at the last load
};

struct Snapshot {
  const Counters* totals = nullptr;       // summed over the workers
  std::vector<std::string> upstreams;     // names, by index in Counters::upstreams
  size_t cache_entries = 0;
  size_t blocked_names = 0;               // unique entries of the policy in force
  size_t policy_bytes = 0;
  std::vector<ListInfo> lists;
  int64_t lists_loaded_unix = 0;          // when the policy in force was built
  uint64_t reloads_ok = 0, reloads_failed = 0;
  int64_t started_unix = 0;
  int64_t now_unix = 0;
  struct QueryLog {
    uint64_t dropped = 0;          // records the query log could not take
    uint64_t over_device_cap = 0;  // new addresses logged as "other devices"
  };
  std::optional<QueryLog> querylog;  // none without a query log
  struct Dnstap {
    uint64_t sent = 0;     // answers sent to the collector
    uint64_t dropped = 0;  // answers not sent: queue full, collector away
  };
  std::optional<Dnstap> dnstap;  // none without dnstap export
  struct Export {
    uint64_t sent = 0;     // JSON lines written to syslog or the file
    uint64_t dropped = 0;  // lines lost: queue full, receiver away, failed write
  };
  std::optional<Export> log_export;  // none without [export]
  struct Sync {
    uint64_t version = 0;       // the primary's settings version in force
    int64_t heard_unix = 0;     // when the primary last answered; 0: never
  };
  std::optional<Sync> sync;  // none unless a replica
  struct Alerts {
    uint64_t posted = 0;   // events handed to the dispatcher
    uint64_t dropped = 0;  // events the full queue or a full outbox turned away
    uint64_t sent = 0;     // messages delivered (a digest counts once)
    uint64_t failed = 0;   // messages given up after the last retry
  };
  std::optional<Alerts> alerts;  // none without [[alerts.sink]]
  // Where memory goes (server.memory_budget_mib). Parts are what each holds
  // as it counts itself; "other" is the rest of the resident set (code,
  // query-log rings, threads, malloc's free lists).
  struct Memory {
    size_t budget = 0;  // 0: no budget
    size_t rss = 0;
    size_t lists = 0, cache = 0, querylog = 0, sqlite = 0;
    size_t cache_share = 0, querylog_share = 0, sqlite_share = 0;
    bool fixed_over = false;  // what is not shared already takes the budget
  };
  std::optional<Memory> memory;
  std::string version;
};

// Appends the exposition of `s` to `out`.
void render(const Snapshot& s, std::string& out);

// Escapes a label value (backslash, double quote, newline).
std::string escape_label(const std::string& v);

}  // namespace hush::metrics

// Sync between hush instances: one primary, any number of replicas that
// follow its settings (everything a backup holds, backup/backup.hpp, except
// what belongs to one box: the configuration file's local keys such as its
// listen addresses (config/edit.hpp key_is_local), the dashboard password
// and API tokens, the query log, the lists' downloaded copies and their
// download state, when devices were seen).
//
// The primary's side is a versioned feed: the shared settings as a backup
// document, a version that grows by one each time they change, and an epoch
// (a random id made with the feed's state) so a replica notices a primary
// whose data directory was replaced and starts over instead of waiting for a
// version it will never see again. The state lives in
// <data_dir>/sync-feed.json, so versions keep growing over restarts.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/backup.hpp"

namespace hush::sync {

// The file a replica keeps its place in (version, epoch); its presence also
// tells the command-line tools that this data directory follows a primary.
inline constexpr const char* kReplicaFile = "sync-replica.json";
inline constexpr const char* kFeedFile = "sync-feed.json";
// The subscriptions' columns a user sets; the others are one box's download state.
inline constexpr std::array<const char*, 7> kSharedSubscriptionColumns = {
    "name", "url", "catalog_id", "groups", "subdomains", "interval_s", "added"};

// A backup's contents without what belongs to one box (see above).
nlohmann::json shared_settings(nlohmann::json contents);

// Why a write on a replica is refused, naming where to make it.
std::string replica_refusal(const std::string& primary);
// The primary `data_dir` follows (its replica mark), or "" when none.
std::string replica_primary(const std::string& data_dir);

// One version of the shared settings.
struct Snapshot {
  uint64_t version = 0;
  std::string epoch;
  std::string document;  // a backup document (backup::parse reads it)
  int64_t changed_unix = 0;
};

// A replica the primary heard from lately, for its dashboard.
struct ReplicaSeen {
  std::string address;
  uint64_t version = 0;  // the version it said it holds
  int64_t last_seen_unix = 0;
  uint64_t queries = 0, blocked = 0;  // its answers and blocked ones since it started, as it said
};

class Feed {
 public:
  // `place.config_file` "": the configuration is not offered.
  Feed(backup::Place place, std::string hush_version);

  // The settings read again, at most every 250 ms (callers share the
  // reading in between); the version moves on when they differ. Null with
  // `error` when they cannot be read: the last good snapshot stays.
  std::shared_ptr<const Snapshot> refresh(std::string& error);
  // A snapshot newer than `since` (or of an epoch other than `epoch`) as soon
  // as there is one, or the current one when `timeout` passes first.
  // `pause(d)` waits between looks and returns false to give up early (the
  // client went away, the server stops).
  std::shared_ptr<const Snapshot> wait_newer(uint64_t since, const std::string& epoch,
                                             std::chrono::milliseconds timeout,
                                             const std::function<bool(std::chrono::milliseconds)>& pause,
                                             std::string& error);

  // Notes that `address` asked holding `version`, with its summary (at
  // most 64 replicas kept).
  void seen(const std::string& address, uint64_t version, int64_t now_unix, uint64_t queries = 0,
            uint64_t blocked = 0);
  std::vector<ReplicaSeen> replicas() const;

 private:
  backup::Place place_;
  std::string hush_version_;
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;
  std::string hash_;
  std::chrono::steady_clock::time_point next_read_{};
  std::map<std::string, ReplicaSeen> replicas_;
};

}  // namespace hush::sync

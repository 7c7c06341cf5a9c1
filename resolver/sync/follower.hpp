// The replica's side of sync (feed.hpp): one thread long-polls the primary's
// /api/sync/state with the version it holds, applies each new version through
// the same all-or-nothing path a restore takes (backup::apply), keeps its
// place in <data_dir>/sync-replica.json, and calls `applied` so the server
// puts the settings in force at once. While the primary is away it keeps
// serving with the last settings it applied and tries again after 1, 2, 4
// ... up to 30 s.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "backup/backup.hpp"

namespace hush::sync {

// What a replica shows in its dashboard and API.
struct Status {
  std::string primary;
  uint64_t version = 0;      // the version of the primary's settings in force here; 0: none yet
  std::string epoch;
  int64_t applied_unix = 0;  // when it was applied
  int64_t heard_unix = 0;    // when the primary last answered
  std::string error;         // why the last attempt failed ("" : it did not)
};

struct FollowerOptions {
  std::string primary;  // https://HOST:PORT
  std::string token;
  std::string ca_file;
  backup::Place place;  // the data directory only: the configuration file stays the replica's own
  int wait_s = 25;      // how long the primary may hold a request open
  std::string hush_version;
  std::function<void()> applied;  // a new version was written into the data directory
};

class Follower {
 public:
  explicit Follower(FollowerOptions o);
  ~Follower();  // stops within a second
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  void start();
  Status status() const;

  // Applies one document of the primary's (version `version`, epoch
  // `epoch`): "" or why nothing changed. Public for tests.
  std::string apply(const std::string& document, uint64_t version, const std::string& epoch);

 private:
  void run();
  // One request; returns false when it failed (and the back-off applies).
  bool poll_once();
  bool pause(std::chrono::milliseconds d);
  // Writes the place held to <data_dir>/sync-replica.json.
  void apply_mark();

  FollowerOptions o_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  Status status_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace hush::sync

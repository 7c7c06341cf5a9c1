// The replica's side of sync (feed.hpp): one thread long-polls the primary's
// /api/sync/state with the version it holds, applies each new version through
// the same all-or-nothing path a restore takes (backup::apply), keeps its
// place in <data_dir>/sync-replica.json, and calls `applied` so the server
// puts the settings in force at once. The primary's configuration, but for
// this box's local keys, is written into the replica's file through the one
// writer of the file (config/edit.hpp) and reloaded as by SIGHUP; keys a
// reload cannot change are named as waiting for a restart. While the primary is away it keeps
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
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/backup.hpp"
#include "config/config.hpp"

namespace hush::sync {

// What a replica shows in its dashboard and API.
struct Status {
  std::string primary;
  uint64_t version = 0;      // the version of the primary's settings in force here; 0: none yet
  std::string epoch;
  int64_t applied_unix = 0;  // when it was applied
  int64_t heard_unix = 0;    // when the primary last answered
  std::string error;         // why the last attempt failed ("" : it did not)
  std::string needs_restart;  // configuration keys taken from the primary that apply after a restart
};

struct FollowerOptions {
  std::string primary;  // https://HOST:PORT
  std::string token;
  std::string ca_file;
  // The data directory, and the configuration file ("": the replica's
  // configuration stays its own) whose shared keys follow the primary's.
  backup::Place place;
  int wait_s = 25;      // how long the primary may hold a request open
  std::string hush_version;
  std::function<void()> applied;  // a new version was written into the data directory
  // This box's summary for the primary's dashboard, sent with each request:
  // queries answered and blocked since it started (the logs stay per box).
  std::function<std::pair<uint64_t, uint64_t>()> totals;
  // Keys a reload can change were written into the configuration file;
  // true when the reload put them in force.
  std::function<bool()> reload;
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
  // The primary's configuration (text or null) written into this box's
  // file; "" or why not.
  std::string follow_config(const nlohmann::json& config, std::vector<KeyChange>& changed);
  // Writes the place held to <data_dir>/sync-replica.json.
  void apply_mark();

  FollowerOptions o_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  Status status_;
  std::atomic<bool> stop_{false};
  bool said_unwritable_ = false;  // the configuration file cannot be written (said once)
  std::thread thread_;
};

}  // namespace hush::sync

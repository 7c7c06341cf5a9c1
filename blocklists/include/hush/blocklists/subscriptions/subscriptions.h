// Subscriptions: blocklists followed by URL, kept current on a schedule.
//
// State lives in SQLite, in <data_dir>/hush.db (tables subscriptions and
// subscription_meta; the query log shares the file but not the tables), and
// the last good copy of each list in <data_dir>/lists/<name>.txt. Several
// processes may use the same data directory at once (the server's background
// updater and `hush lists ...`): every change bumps a generation number in
// subscription_meta, which the server polls to rebuild its policy, and an
// update takes a per-list lease so two processes never download the same list
// at the same time.
//
// Never lose a working list: a download replaces the local copy only when it
// succeeded, looks like a list (not HTML, no NUL bytes), has rules, and did
// not shrink by more than Settings::shrink_limit. Otherwise the old copy
// stays in force and last_error says why.
//
// Threading: one Subscriptions object may be used from several threads (an
// internal mutex guards the connection; downloads run outside it).
// Failure model: expected failures come back as values (bool + error text,
// UpdateResult::error); nothing throws.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "hush/blocklists/policy.h"
#include "hush/blocklists/subscriptions/catalog.h"
#include "hush/blocklists/subscriptions/download.h"

namespace hush::blocklists::subs {

struct Settings {
  int64_t interval_s = 24 * 3600;  // default time between updates of a list
  uint64_t max_bytes = 50ull << 20;
  double shrink_limit = 0.9;       // refuse a version with fewer than (1 - this) x old rules
  long connect_timeout_s = 15;
  long total_timeout_s = 300;
  long max_redirects = 5;
  int64_t retry_min_s = 300;       // first retry after a failure; doubles up to the interval
  double jitter = 0.1;             // +-10 % on every scheduled time
};

struct Subscription {
  std::string name;
  std::string url;
  std::string catalog_id;  // "" unless added as catalog:ID
  std::vector<std::string> groups{"default"};
  bool subdomains = false;
  int64_t interval_s = 0;  // 0: Settings::interval_s
  int64_t added = 0;       // unix seconds
  int64_t last_attempt = 0;
  int64_t last_success = 0;  // last download that ended well (200 accepted, or 304)
  int64_t last_changed = 0;  // last time the local copy was replaced
  int64_t next_update = 0;
  int failures = 0;          // consecutive failed attempts
  std::string last_error;    // "" after a good update
  std::string etag;
  int64_t last_modified = 0;
  uint64_t entries = 0;      // rules in the local copy
  uint64_t invalid = 0;      // invalid lines in the local copy
  uint64_t bytes = 0;
  std::string path;          // <data_dir>/lists/<name>.txt (may not exist yet)
  bool has_copy = false;     // the local copy exists
};

struct AddRequest {
  std::string url;          // http(s)://, file://, or catalog:ID
  std::string name;         // "" = catalog id, or derived from the URL
  std::vector<std::string> groups;  // empty = {"default"}
  bool subdomains = false;
  int64_t interval_s = 0;   // 0 = default
  // Hold the list's download lease: the caller calls update() next. If it
  // never does, the lease runs out (total timeout + 60 s) and the server's
  // updater takes the list. false: due at once for whoever updates first.
  bool claim = true;
};

struct UpdateResult {
  enum class Outcome { Updated, Unchanged, NotModified, Failed, Busy };
  std::string name;
  Outcome outcome = Outcome::Failed;
  std::string error;     // Failed/Busy: why
  uint64_t entries = 0;  // rules in the copy in force afterwards
  uint64_t invalid = 0;
  bool changed() const { return outcome == Outcome::Updated; }
};
const char* outcome_name(UpdateResult::Outcome o);

using Clock = std::function<int64_t()>;  // unix seconds

class Subscriptions {
 public:
  // Opens (creating when needed) <data_dir>/hush.db and <data_dir>/lists.
  // Returns null and sets `error` when the database cannot be used.
  static std::unique_ptr<Subscriptions> open(const std::string& data_dir, const Settings& settings,
                                             std::string& error, Clock clock = {});
  ~Subscriptions();

  // Adds a subscription (not downloaded yet: call update(), see
  // AddRequest::claim). Fails on a bad
  // URL or name, an unknown catalog id, or a name/URL already subscribed.
  std::optional<Subscription> add(const AddRequest& req, std::string& error);
  // Removes the subscription and its local copy. False if there is none.
  bool remove(const std::string& name, std::string& error);
  std::vector<Subscription> list();
  std::optional<Subscription> get(const std::string& name);
  // Replaces the groups a list applies to (at least one). False if there is
  // no such list or a group name is not [a-z0-9_-].
  bool set_groups(const std::string& name, const std::vector<std::string>& groups, std::string& error);

  // Downloads one list now (whether due or not) and applies the result.
  // `progress` may be null; `stop` aborts a running download.
  UpdateResult update(const std::string& name,
                      std::function<bool(uint64_t, uint64_t)> progress = {},
                      const std::atomic<bool>* stop = nullptr);
  // Updates every list whose next_update has come, one after the other.
  std::vector<UpdateResult> update_due(const std::atomic<bool>* stop = nullptr);
  // Seconds until the next list is due (0 if one is due now; -1 if none).
  int64_t seconds_until_due();

  // Changes with every add, remove and replaced local copy.
  int64_t generation();

  const Settings& settings() const { return settings_; }
  void set_settings(const Settings& s) { settings_ = s; }
  const std::string& data_dir() const { return data_dir_; }

  Subscriptions(const Subscriptions&) = delete;
  Subscriptions& operator=(const Subscriptions&) = delete;

 private:
  struct Impl;
  Subscriptions(std::unique_ptr<Impl> impl, std::string data_dir, const Settings& settings, Clock clock);
  int64_t now() const;
  int64_t jittered(int64_t seconds);
  // update()'s steps: take the lease and read the row (nullopt, with `res`
  // saying why, when there is no such list or another process has it),
  // download and check the new copy, then record the outcome.
  struct Fetched;
  std::optional<Subscription> claim(const std::string& name, UpdateResult& res, uint64_t& old_hash);
  Fetched download(const Subscription& sub, uint64_t old_hash, std::function<bool(uint64_t, uint64_t)> progress,
                   const std::atomic<bool>* stop, UpdateResult& res);
  UpdateResult record(const Subscription& sub, const Fetched& got, UpdateResult res);
  std::unique_ptr<Impl> d_;
  std::string data_dir_;
  Settings settings_;
  Clock clock_;
  std::mt19937_64 rng_;
};

// The subscribed lists that have a local copy, as the policy builder takes
// them. Opens the database read-only and never creates it; no database or
// no subscriptions gives an empty vector (and `error` says why when the file
// exists but cannot be read).
std::vector<ListSource> subscribed_lists(const std::string& data_dir, std::string* error = nullptr);

// Where a subscription's local copy lives.
std::string list_path(const std::string& data_dir, const std::string& name);

// Checks a list file before it replaces `old_entries` rules: parses it and
// fills entries/invalid; returns "" or why it must not be used (no rules, an
// HTML page, binary, shrank by more than `shrink_limit`).
std::string validate_list(const std::string& path, const std::string& name, bool subdomains,
                          uint64_t old_entries, double shrink_limit, uint64_t& entries,
                          uint64_t& invalid);

// Downloads a URL given as a list in the configuration or with --blocklist
// into `dest` through a temporary file, with the same checks as a
// subscription (against the copy already at `dest`). Returns "" on success;
// otherwise why, and `dest` (if it exists) is left as it was.
std::string fetch_to_file(const std::string& url, const std::string& dest, const Settings& s);

}  // namespace hush::blocklists::subs

// Subscribed lists in the running server, and lists given by URL.
//
// ListUpdater runs on the server's main loop: tick() (every 2 s) starts the
// due downloads on one background thread (never a DNS worker; one list at a
// time) and says when the subscribed lists changed, whether by its own
// updates or by `hush lists add/rm/update` in another process (they bump a
// generation number in <data_dir>/hush.db); the caller then rebuilds the
// policy and publishes it while the workers keep answering.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "hush/blocklists/subscriptions/subscriptions.h"

namespace hush {

blocklists::subs::Settings subscription_settings(const Config& cfg);

// Replaces every http(s):// list in cfg.lists (from --blocklist or [[lists]])
// by a local copy under <data_dir>/url-lists/: downloaded now with the
// subscription checks; when the download fails the copy from the last good
// download is used, and without one the list is reported as unreadable by the
// policy build. Logs what happened. Always returns true (for && chains).
bool fetch_url_lists(Config& cfg);

class ListUpdater {
 public:
  // Opens the subscriptions in cfg.server.data_dir; on failure logs and
  // does nothing later (the server serves without subscriptions).
  explicit ListUpdater(const Config& cfg);
  ~ListUpdater();  // stops a running download and joins the thread

  // Main thread only. Returns true when the subscribed lists changed since
  // the last call, so the policy must be rebuilt.
  bool tick();

  ListUpdater(const ListUpdater&) = delete;
  ListUpdater& operator=(const ListUpdater&) = delete;

 private:
  std::unique_ptr<blocklists::subs::Subscriptions> subs_;
  std::thread worker_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stop_{false};
  int64_t seen_generation_ = -1;
};

}  // namespace hush

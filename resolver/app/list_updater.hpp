// Subscribed lists in the running server.
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

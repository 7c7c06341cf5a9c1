#include "app/list_updater.hpp"

#include "base/log.hpp"

namespace hush {

namespace subs = blocklists::subs;

ListUpdater::ListUpdater(const Config& cfg) {
  std::string error;
  subs_ = subs::Subscriptions::open(cfg.server.data_dir, cfg.subscription_settings(), error);
  if (!subs_) {
    log::error("subscriptions: ", error, "; subscribed lists are not updated");
    return;
  }
  seen_generation_ = subs_->generation();
}

ListUpdater::~ListUpdater() {
  stop_ = true;
  if (worker_.joinable()) worker_.join();
}

bool ListUpdater::tick() {
  if (!subs_) return false;
  if (!running_ && worker_.joinable()) worker_.join();
  if (!running_ && subs_->seconds_until_due() == 0) {
    running_ = true;
    worker_ = std::thread([this] {
      for (const subs::UpdateResult& r : subs_->update_due(&stop_)) {
        if (r.outcome == subs::UpdateResult::Outcome::Failed)
          log::warn("list ", r.name, ": update failed: ", r.error, "; the copy in force (", r.entries,
                    " rules) stays");
        else if (r.outcome == subs::UpdateResult::Outcome::Updated)
          log::info("list ", r.name, ": updated, ", r.entries, " rules, ", r.invalid, " invalid lines");
        else if (r.outcome != subs::UpdateResult::Outcome::Busy)
          log::debug("list ", r.name, ": ", subs::outcome_name(r.outcome));
      }
      running_ = false;
    });
  }
  int64_t g = subs_->generation();
  if (g == seen_generation_) return false;
  seen_generation_ = g;
  return true;
}

}  // namespace hush

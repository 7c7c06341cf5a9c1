#include "policy/list_updates.hpp"

#include <cstdio>
#include <filesystem>

#include "base/log.hpp"

namespace hush {

namespace subs = blocklists::subs;

subs::Settings subscription_settings(const Config& cfg) {
  subs::Settings s;
  s.interval_s = int64_t(cfg.subscriptions.interval_hours) * 3600;
  s.max_bytes = cfg.subscriptions.max_bytes;
  s.shrink_limit = cfg.subscriptions.shrink_limit;
  s.connect_timeout_s = long(cfg.subscriptions.connect_timeout_s);
  s.total_timeout_s = long(cfg.subscriptions.total_timeout_s);
  return s;
}

namespace {

// <data_dir>/url-lists/<hash>-<last path segment>: the hash keeps two URLs
// apart, the file name keeps the parser's hints ("onlydomains", "regex").
std::string url_copy_path(const std::string& data_dir, const std::string& url) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : url) {
    h ^= c;
    h *= 1099511628211ull;
  }
  std::string base = url.substr(0, url.find_first_of("?#"));
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  base = base.substr(base.find_last_of('/') + 1);
  std::string clean;
  for (char c : base)
    clean += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '-';
  if (clean.size() > 64) clean.resize(64);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%08llx", static_cast<unsigned long long>(h & 0xffffffffu));
  return data_dir + "/url-lists/" + hex + "-" + clean;
}

}  // namespace

bool fetch_url_lists(Config& cfg) {
  subs::Settings s = subscription_settings(cfg);
  for (blocklists::ListSource& l : cfg.lists) {
    if (l.path.rfind("http://", 0) != 0 && l.path.rfind("https://", 0) != 0) continue;
    std::string url = l.path;
    l.path = url_copy_path(cfg.server.data_dir, url);
    std::string why = subs::fetch_to_file(url, l.path, s);
    std::error_code ec;
    if (why.empty())
      log::info("list ", l.name, ": downloaded ", url);
    else if (std::filesystem::exists(l.path, ec))
      log::warn("list ", l.name, ": ", url, ": ", why, "; using the copy from the last good download");
    else
      log::error("list ", l.name, ": ", url, ": ", why, "; no earlier copy to use");
  }
  return true;
}

ListUpdater::ListUpdater(const Config& cfg) {
  std::string error;
  subs_ = subs::Subscriptions::open(cfg.server.data_dir, subscription_settings(cfg), error);
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

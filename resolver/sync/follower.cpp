#include "sync/follower.hpp"

#include <curl/curl.h>

#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

#include "base/clock.hpp"
#include "base/file.hpp"
#include "base/log.hpp"
#include "config/config.hpp"
#include "config/edit.hpp"
#include "sync/feed.hpp"

namespace hush::sync {

using json = nlohmann::json;

namespace {

// Settings are at most a few MiB without list copies; larger is not a primary.
constexpr size_t kMaxDocument = size_t(64) << 20;
constexpr int kMaxBackoffS = 30;

struct Reply {
  std::string body;
  std::string version, epoch;
  const std::atomic<bool>* stop = nullptr;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Reply*>(user);
  if (r->body.size() + size * n > kMaxDocument) return 0;
  r->body.append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Reply*>(user);
  std::string line(data, size * n);
  auto value = [&line](const char* name) -> std::optional<std::string> {
    size_t len = strlen(name);
    if (line.size() <= len || strncasecmp(line.c_str(), name, len) != 0) return std::nullopt;
    std::string v = line.substr(len);
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of(" \t\r\n") + 1);
    return v;
  };
  if (auto v = value("X-Hush-Sync-Version:")) r->version = *v;
  if (auto v = value("X-Hush-Sync-Epoch:")) r->epoch = *v;
  return size * n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Reply*>(user)->stop->load() ? 1 : 0;
}

// The download state and copy of a list this replica already follows under
// the same name and URL stay; only what a user set comes from the primary.
void keep_local_lists(backup::Backup& b, const std::string& data_dir) {
  std::string error;
  auto text = backup::make({data_dir, ""}, {}, error);
  if (!text) return;
  json mine = json::parse(*text, nullptr, false);
  if (mine.is_discarded()) return;
  for (json& s : b.contents["subscriptions"])
    for (const json& m : mine["contents"]["subscriptions"]) {
      if (m["name"] != s["name"] || m["url"] != s["url"]) continue;
      for (auto it = m.begin(); it != m.end(); ++it)
        if (std::find(kSharedSubscriptionColumns.begin(), kSharedSubscriptionColumns.end(), it.key()) ==
            kSharedSubscriptionColumns.end())
          s[it.key()] = *it;
      b.keep_lists.insert(s["name"].get<std::string>());
    }
}

}  // namespace

Follower::Follower(FollowerOptions o) : o_(std::move(o)) {
  status_.primary = o_.primary;
  json held = json::parse(read_file(o_.place.data_dir + "/" + kReplicaFile).value_or("{}"), nullptr, false);
  if (held.is_object() && held.value("primary", std::string()) == o_.primary) {
    status_.version = held.value("version", uint64_t(0));
    status_.epoch = held.value("epoch", std::string());
    status_.applied_unix = held.value("applied", int64_t(0));
  }
}

Follower::~Follower() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Follower::start() {
  // The mark the command-line tools look for, before the first answer.
  if (status_.version == 0) apply_mark();
  thread_ = std::thread([this] { run(); });
}

Status Follower::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void Follower::apply_mark() {
  json held{{"primary", o_.primary}, {"version", status_.version}, {"epoch", status_.epoch},
            {"applied", status_.applied_unix}};
  if (std::string e = write_file_atomic(o_.place.data_dir + "/" + kReplicaFile, {held.dump() + "\n"}); !e.empty())
    log::warn("sync: ", e);
}

bool Follower::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, d, [this] { return stop_.load(); });
}

std::string Follower::apply(const std::string& document, uint64_t version, const std::string& epoch) {
  std::string error;
  auto b = backup::parse(document, error);
  if (!b) return error;
  b->contents = shared_settings(std::move(b->contents));
  keep_local_lists(*b, o_.place.data_dir);
  // The password and tokens stay this box's own (a restore without the
  // file would remove it).
  if (auto auth = read_file(o_.place.data_dir + "/web-auth.json")) b->contents["files"]["web-auth.json"] = *auth;
  std::vector<KeyChange> changed;
  if (std::string e = follow_config(b->contents["config"], changed); !e.empty()) return e;
  backup::Place to{o_.place.data_dir, ""};
  if (std::string e = backup::apply(*b, to); !e.empty()) return e;
  std::string live, restart;
  for (const KeyChange& k : changed) (k.live ? live : restart) += ((k.live ? live : restart).empty() ? "" : ", ") + k.name;
  {
    std::lock_guard lock(mu_);
    status_.version = version;
    status_.epoch = epoch;
    status_.applied_unix = now_seconds();
    if (!restart.empty()) status_.needs_restart = restart;
  }
  apply_mark();
  if (!live.empty() && o_.reload && !o_.reload())
    log::warn("sync: the configuration from the primary (", live, ") did not reload; see the reload's message");
  if (!restart.empty())
    log::warn("sync: the primary's ", restart, " differ from this hush's; they apply after a restart");
  if (o_.applied) o_.applied();
  return "";
}

std::string Follower::follow_config(const json& config, std::vector<KeyChange>& changed) {
  if (o_.place.config_file.empty() || !config.is_string()) return "";
  // A file hush may not write (root's, say) stays as it is: the other
  // settings still follow.
  std::string dir = std::filesystem::path(o_.place.config_file).parent_path().string();
  if (::access(o_.place.config_file.c_str(), W_OK) != 0 || ::access(dir.empty() ? "." : dir.c_str(), W_OK) != 0) {
    if (!said_unwritable_)
      log::warn("sync: ", o_.place.config_file, " cannot be written by this hush; its configuration does not follow the primary's");
    said_unwritable_ = true;
    return "";
  }
  std::vector<std::string> errors;
  if (follow_config_file(o_.place.config_file, config.get<std::string>(), changed, errors)) return "";
  std::string all;
  for (const std::string& e : errors) all += (all.empty() ? "" : "; ") + e;
  return "the primary's configuration does not fit here: " + all;
}

bool Follower::poll_once() {
  Status held = status();
  Reply reply;
  reply.stop = &stop_;
  std::string url = o_.primary;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/api/sync/state?since=" + std::to_string(held.version) + "&epoch=" + held.epoch +
         "&wait=" + std::to_string(o_.wait_s);
  if (o_.totals) {
    auto [queries, blocked] = o_.totals();
    url += "&queries=" + std::to_string(queries) + "&blocked=" + std::to_string(blocked);
  }
  CURL* c = curl_easy_init();
  if (!c) return false;
  std::string auth = "Authorization: Bearer " + o_.token;
  curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, long(o_.wait_s + 15));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &reply);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &reply);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!o_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, o_.ca_file.c_str());
  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (stop_) return true;
  std::string error;
  if (rc != CURLE_OK) error = std::string("cannot reach the primary: ") + curl_easy_strerror(rc);
  else if (code != 200 && code != 204) {
    json j = json::parse(reply.body, nullptr, false);
    error = "the primary answered " + std::to_string(code) +
            (j.is_object() && j.contains("error") ? ": " + j["error"].get<std::string>() : "");
  }
  if (error.empty()) {
    std::lock_guard lock(mu_);
    status_.heard_unix = now_seconds();
  }
  if (error.empty() && code == 200) {
    uint64_t version = strtoull(reply.version.c_str(), nullptr, 10);
    error = apply(reply.body, version, reply.epoch);
    if (error.empty()) log::info("sync: settings of version ", version, " from ", o_.primary, " in force");
    else error = "version " + reply.version + " from the primary not applied: " + error;
  }
  std::lock_guard lock(mu_);
  if (!error.empty() && error != status_.error) log::warn("sync: ", error, "; serving with the settings held");
  status_.error = error;
  return error.empty();
}

void Follower::run() {
  int backoff_s = 1;
  while (!stop_) {
    if (poll_once()) {
      backoff_s = 1;
      continue;
    }
    if (!pause(std::chrono::seconds(backoff_s))) return;
    backoff_s = std::min(backoff_s * 2, kMaxBackoffS);
  }
}

}  // namespace hush::sync

#include "sync/feed.hpp"

#include <algorithm>
#include <thread>

#include "backup/parts.hpp"
#include "base/clock.hpp"
#include "base/file.hpp"
#include "base/random_hex.hpp"
#include "config/edit.hpp"

namespace hush::sync {

using json = nlohmann::json;

namespace {

constexpr auto kReadEvery = std::chrono::milliseconds(250);
constexpr size_t kMaxReplicasSeen = 64;

bool shared_column(std::string_view name) {
  return std::find(kSharedSubscriptionColumns.begin(), kSharedSubscriptionColumns.end(), name) !=
         kSharedSubscriptionColumns.end();
}

}  // namespace

json shared_settings(json c) {
  std::string error;
  std::optional<std::string> config =
      c["config"].is_string() ? shared_config_text(c["config"].get<std::string>(), error) : std::nullopt;
  c["config"] = config ? json(*config) : json(nullptr);
  c["files"].erase("web-auth.json");
  c["lists"] = json::object();
  c.erase("log");
  // Download state and sighting times change without anyone setting
  // anything; left in, every list update would be a new version.
  for (json& s : c["subscriptions"])
    for (auto it = s.begin(); it != s.end(); ++it)
      if (!shared_column(it.key())) *it = it->is_string() ? json("") : json(0);
  for (json& d : c["devices"]) {
    d["first_seen"] = d["last_seen"] = 0;
    for (json& a : d["addresses"]) a["first_seen"] = a["last_seen"] = 0;
  }
  return c;
}

std::string replica_refusal(const std::string& primary) {
  return "this hush is a replica of " + primary + ": its settings follow the primary; make the change there";
}

std::string replica_primary(const std::string& data_dir) {
  json held = json::parse(read_file(data_dir + "/" + kReplicaFile).value_or("{}"), nullptr, false);
  return held.is_object() ? held.value("primary", std::string()) : std::string();
}

Feed::Feed(backup::Place place, std::string hush_version)
    : place_(std::move(place)), hush_version_(std::move(hush_version)) {}

std::shared_ptr<const Snapshot> Feed::refresh(std::string& error) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (current_ && now < next_read_) return current_;
  next_read_ = now + kReadEvery;
  auto text = backup::make(place_, {false, false, hush_version_, now_seconds()}, error);
  if (!text) return current_;
  json contents = shared_settings(json::parse(*text)["contents"]);
  std::string hash = backup::sha256_hex(contents.dump());
  if (current_ && hash == hash_) return current_;
  // The first read after a start: carry on from the stored version.
  auto snap = std::make_shared<Snapshot>();
  std::string state_file = place_.data_dir + "/" + kFeedFile;
  json state = json::parse(read_file(state_file).value_or("{}"), nullptr, false);
  if (!state.is_object()) state = json::object();
  snap->epoch = state.value("epoch", std::string());
  snap->version = state.value("version", uint64_t(0));
  if (snap->epoch.empty()) {
    snap->epoch = random_hex(8);
    snap->version = 0;
  }
  if (state.value("sha256", std::string()) != hash || snap->version == 0) {
    ++snap->version;
    json next{{"epoch", snap->epoch}, {"version", snap->version}, {"sha256", hash}, {"changed", now_seconds()}};
    if (std::string e = write_file_atomic(state_file, {next.dump() + "\n"}); !e.empty()) {
      error = e;
      return current_;
    }
    snap->changed_unix = now_seconds();
  } else {
    snap->changed_unix = state.value("changed", int64_t(0));
  }
  snap->document = backup::document(contents, hush_version_, snap->changed_unix);
  hash_ = hash;
  current_ = snap;
  return current_;
}

std::shared_ptr<const Snapshot> Feed::wait_newer(uint64_t since, const std::string& epoch,
                                                 std::chrono::milliseconds timeout,
                                                 const std::function<bool(std::chrono::milliseconds)>& pause,
                                                 std::string& error) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto snap = refresh(error);
    if (!snap) return nullptr;
    if (snap->epoch != epoch || snap->version > since) return snap;
    if (std::chrono::steady_clock::now() >= deadline || !pause(kReadEvery)) return snap;
  }
}

void Feed::seen(const std::string& address, uint64_t version, int64_t now_unix, uint64_t queries, uint64_t blocked) {
  std::lock_guard lock(mu_);
  if (!replicas_.count(address) && replicas_.size() >= kMaxReplicasSeen) {
    auto oldest = std::min_element(replicas_.begin(), replicas_.end(), [](const auto& a, const auto& b) {
      return a.second.last_seen_unix < b.second.last_seen_unix;
    });
    replicas_.erase(oldest);
  }
  replicas_[address] = {address, version, now_unix, queries, blocked};
}

std::vector<ReplicaSeen> Feed::replicas() const {
  std::lock_guard lock(mu_);
  std::vector<ReplicaSeen> out;
  for (const auto& item : replicas_) out.push_back(item.second);
  return out;
}

}  // namespace hush::sync

// The primary's feed without a server: the version moves only when what a
// replica follows changes, survives a restart, and leaves out what belongs
// to one box.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sync/feed.hpp"

using namespace hush;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Dir {
  fs::path path;
  Dir() {
    char t[] = "/tmp/hush-feed-XXXXXX";
    path = mkdtemp(t);
  }
  ~Dir() { fs::remove_all(path); }
};

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

// Past the feed's 250 ms between reads.
std::shared_ptr<const sync::Snapshot> fresh(sync::Feed& f) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string error;
  auto s = f.refresh(error);
  INFO(error);
  REQUIRE(s);
  return s;
}

}  // namespace

TEST_CASE("sync feed: a new version only when the shared settings change, kept over a restart", "[sync]") {
  Dir dir;
  write(dir.path / "local.records", "nas.lan A 192.168.1.10\n");
  write(dir.path / "web-auth.json", R"({"password": "x", "tokens": []})");
  std::string epoch;
  {
    sync::Feed feed({dir.path.string(), ""}, "test");
    auto first = fresh(feed);
    CHECK(first->version == 1);
    epoch = first->epoch;
    CHECK(epoch.size() == 16);
    auto doc = json::parse(first->document);
    CHECK(doc["format"] == "hush-backup");
    CHECK(doc["contents"]["files"]["local.records"] == "nas.lan A 192.168.1.10\n");
    CHECK_FALSE(doc["contents"]["files"].contains("web-auth.json"));
    CHECK(doc["contents"]["config"].is_null());
    // The password is this box's own: changing it is no new version.
    write(dir.path / "web-auth.json", R"({"password": "y", "tokens": []})");
    CHECK(fresh(feed)->version == 1);
    write(dir.path / "local.records", "nas.lan A 192.168.1.11\n");
    CHECK(fresh(feed)->version == 2);
  }
  sync::Feed again({dir.path.string(), ""}, "test");
  auto after = fresh(again);
  CHECK(after->version == 2);
  CHECK(after->epoch == epoch);
  std::string error;
  auto waited = again.wait_newer(2, epoch, std::chrono::milliseconds(600),
                                 [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); return true; }, error);
  CHECK(waited->version == 2);  // nothing newer: the current one after the wait
  CHECK(again.wait_newer(5, "another", std::chrono::seconds(30), [](std::chrono::milliseconds) { return false; }, error)
            ->epoch == epoch);  // another epoch: at once
}

TEST_CASE("sync feed: a list's download state, when devices were seen and local configuration keys are not shared", "[sync]") {
  json c = {{"config", "[server]\nlisten = [\"0.0.0.0:53\"]\n[blocking]\nmode = \"nxdomain\"\n"},
            {"files", {{"web-auth.json", "{}"}, {"rules.json", "{}"}}},
            {"lists", {{"ads", "YQ=="}}},
            {"log", "AAAA"},
            {"subscriptions", json::array({{{"name", "ads"}, {"url", "https://l/ads.txt"}, {"groups", "default"},
                                            {"etag", "\"abc\""}, {"last_success", 99}, {"entries", 5}}})},
            {"devices", json::array({{{"key", "k"}, {"groups", "kids"}, {"first_seen", 5}, {"last_seen", 7},
                                      {"addresses", json::array({{{"ip", "192.0.2.2"}, {"first_seen", 5}, {"last_seen", 7}}})}}})}};
  json s = sync::shared_settings(c);
  // The configuration without this box's own keys.
  CHECK(s["config"].get<std::string>().find("nxdomain") != std::string::npos);
  CHECK(s["config"].get<std::string>().find("0.0.0.0:53") == std::string::npos);
  CHECK(sync::shared_settings(json{{"config", "not [toml"}, {"files", json::object()}, {"subscriptions", json::array()},
                                   {"devices", json::array()}})["config"].is_null());
  CHECK_FALSE(s["files"].contains("web-auth.json"));
  CHECK(s["files"].contains("rules.json"));
  CHECK(s["lists"].empty());
  CHECK_FALSE(s.contains("log"));
  CHECK(s["subscriptions"][0]["url"] == "https://l/ads.txt");
  CHECK(s["subscriptions"][0]["etag"] == "");
  CHECK(s["subscriptions"][0]["last_success"] == 0);
  CHECK(s["devices"][0]["groups"] == "kids");
  CHECK(s["devices"][0]["last_seen"] == 0);
  CHECK(s["devices"][0]["addresses"][0]["ip"] == "192.0.2.2");
  CHECK(s["devices"][0]["addresses"][0]["last_seen"] == 0);
}

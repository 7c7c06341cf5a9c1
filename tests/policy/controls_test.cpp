// Timed exceptions, per-group pauses and blocked services: the store (bounds,
// replacing, ending, surviving a new process), and what a policy build at a
// given moment makes of them. Every clock here is a number the test moves.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "hush/blocklists/subscriptions/catalog.h"
#include "decide.hpp"
#include "policy/controls.hpp"
#include "policy/inputs.hpp"
#include "policy/services.hpp"
#include "support/temp_dir.hpp"

using hush::blocklists::Action;
using hush::policy::Control;
using hush::policy::ControlsStore;

namespace {

constexpr int64_t kNow = 1'800'000'000;  // a fixed "now", moved by hand

Control make(std::string kind, std::string target, std::string group, int64_t until) {
  Control c;
  c.kind = std::move(kind);
  c.target = std::move(target);
  c.group = std::move(group);
  c.until = until;
  return c;
}

// A data directory, two clients in groups of their own (as a device's own
// group would be) and a list; decide() builds the policy as `hush serve`
// would at the moment given.
struct Home {
  hush::test::TempDir dir;
  hush::Config cfg;
  std::string list = (dir.path / "ads.txt").string();
  int64_t edge = 0;

  Home() {
    cfg.server.data_dir = dir.path.string();
    FILE* f = fopen(list.c_str(), "w");
    fputs("||ads.example^\n", f);
    fclose(f);
    cfg.lists.push_back({"ads", list, {"default"}, false});
    cfg.clients = {{"10.0.0.2", {"default", "device-1"}}, {"10.0.0.3", {"default", "kids"}}};
  }
  Action decide(const std::string& name, const char* client, int64_t now) {
    return hush::test::decide_at(cfg, name, client, now, edge);
  }
};

}  // namespace

TEST_CASE("controls store: checks, replaces the same control, ends, survives a new store", "[controls]") {
  hush::test::TempDir dir;
  ControlsStore store(dir.path.string());
  std::string error;
  auto a = store.add(make("allow", "||Video.Example^", "device-1", kNow + 1800), kNow, error);
  REQUIRE(a);
  CHECK(a->target == "video.example");
  CHECK(a->added == kNow);
  // Bad input: a clear error, nothing stored.
  CHECK_FALSE(store.add(make("allow", "two words", "kids", kNow + 60), kNow, error));
  CHECK(error.find("name") != std::string::npos);
  CHECK_FALSE(store.add(make("pause", "", "kids", kNow + 8 * 86400), kNow, error));
  CHECK(error.find("7 days") != std::string::npos);
  CHECK_FALSE(store.add(make("pause", "", "kids", kNow), kNow, error));
  CHECK_FALSE(store.add(make("pause", "", "kids", 0), kNow, error));
  CHECK_FALSE(store.add(make("pause", "", "Kids!", kNow + 60), kNow, error));
  CHECK_FALSE(store.add(make("service", "myspace", "kids", 0), kNow, error));
  CHECK(error.find("no service") != std::string::npos);
  CHECK_FALSE(store.add(make("deny", "/(unclosed/", "kids", kNow + 60), kNow, error));

  // A second pause for the same group moves the end instead of stacking.
  REQUIRE(store.add(make("pause", "", "kids", kNow + 300), kNow, error));
  auto longer = store.add(make("pause", "", "kids", kNow + 900), kNow + 10, error);
  REQUIRE(longer);
  REQUIRE(store.add(make("service", "YouTube", "kids", 0), kNow, error));
  CHECK(store.active(kNow + 10).size() == 3);

  // A new store on the same directory (a restart) sees them with their ends.
  ControlsStore again(dir.path.string());
  auto after_restart = again.active(kNow + 20);
  REQUIRE(after_restart.size() == 3);
  CHECK(after_restart[1].until == kNow + 900);
  CHECK(after_restart[2].target == "youtube");
  CHECK(hush::policy::next_end(after_restart, kNow + 20) == kNow + 900);
  // Time passes: the pause ends at its second, the allow later, the service stays.
  CHECK(again.active(kNow + 899).size() == 3);
  CHECK(again.active(kNow + 900).size() == 2);
  CHECK(again.active(kNow + 1800).size() == 1);
  CHECK(again.active(kNow + 100000).size() == 1);
  CHECK(hush::policy::next_end(again.active(kNow + 100000), kNow + 100000) == 0);

  // Cancel now.
  CHECK(again.remove(longer->id, kNow + 30, error));
  CHECK_FALSE(again.remove(longer->id, kNow + 30, error));
  CHECK(store.active(kNow + 30).size() == 2);
}

TEST_CASE("controls store: bounded per group and in all", "[controls]") {
  hush::test::TempDir dir;
  ControlsStore store(dir.path.string());
  std::string error;
  for (size_t i = 0; i < hush::policy::kMaxControlsPerGroup; ++i)
    REQUIRE(store.add(make("deny", "n" + std::to_string(i) + ".example", "kids", kNow + 60), kNow, error));
  CHECK_FALSE(store.add(make("deny", "one-more.example", "kids", kNow + 60), kNow, error));
  CHECK(error.find("at most") != std::string::npos);
  CHECK(store.add(make("deny", "one-more.example", "device-1", kNow + 60), kNow, error));
  // Once they have ended they no longer count.
  CHECK(store.add(make("deny", "one-more.example", "kids", kNow + 120), kNow + 60, error));
}

TEST_CASE("policy at a moment: timed allow, timed block, pauses end by themselves", "[controls]") {
  Home h;
  ControlsStore store(h.cfg.server.data_dir);
  std::string error;
  REQUIRE(store.add(make("allow", "ads.example", "device-1", kNow + 600), kNow, error));
  REQUIRE(store.add(make("deny", "games.example", "*", kNow + 300), kNow, error));
  REQUIRE(store.add(make("pause", "", "kids", kNow + 120), kNow, error));

  CHECK(h.decide("x.ads.example", "10.0.0.2", kNow) == Action::Allow);   // the device's allow beats the list
  CHECK(h.decide("x.ads.example", "10.0.0.9", kNow) == Action::Block);   // others still blocked
  CHECK(h.decide("x.ads.example", "10.0.0.3", kNow) == Action::Pass);    // kids paused: nothing blocked
  CHECK(h.decide("use-application-dns.net", "10.0.0.3", kNow) == Action::Pass);
  CHECK(h.decide("www.games.example", "10.0.0.9", kNow) == Action::Block);  // everyone
  CHECK(h.decide("www.games.example", "10.0.0.2", kNow) == Action::Block);
  CHECK(h.edge == kNow + 120);

  // Past the pause's end: the kids are blocked again; the next edge moves on.
  CHECK(h.decide("x.ads.example", "10.0.0.3", kNow + 120) == Action::Block);
  CHECK(h.edge == kNow + 300);
  CHECK(h.decide("www.games.example", "10.0.0.9", kNow + 300) == Action::Pass);
  CHECK(h.edge == kNow + 600);
  CHECK(h.decide("x.ads.example", "10.0.0.2", kNow + 600) == Action::Block);
  CHECK(h.edge == 0);
}

TEST_CASE("a timed block beats a standing allow entry; a pause for everyone", "[controls]") {
  Home h;
  h.cfg.blocking.allow.push_back({"news.example", {"default"}});
  ControlsStore store(h.cfg.server.data_dir);
  std::string error;
  CHECK(h.decide("news.example", "10.0.0.2", kNow) == Action::Allow);
  REQUIRE(store.add(make("deny", "news.example", "device-1", kNow + 60), kNow, error));
  CHECK(h.decide("news.example", "10.0.0.2", kNow) == Action::Block);
  CHECK(h.decide("news.example", "10.0.0.3", kNow) == Action::Allow);
  REQUIRE(store.add(make("pause", "", "*", kNow + 60), kNow, error));
  CHECK(h.decide("x.ads.example", "10.0.0.9", kNow) == Action::Pass);
  CHECK(h.decide("x.ads.example", "10.0.0.9", kNow + 60) == Action::Block);
}

// Names each service's own site and apps use (seen in their pages and
// their apps' traffic), one or more per preset.
TEST_CASE("service presets block the services' real names for the group only", "[controls][services]") {
  const std::vector<std::pair<std::string, std::vector<std::string>>> real = {
      {"youtube", {"www.youtube.com", "i.ytimg.com", "rr3---sn-4g5e6nsz.googlevideo.com", "youtubei.googleapis.com", "youtu.be"}},
      {"tiktok", {"www.tiktok.com", "api16-normal-c-useast1a.tiktokv.com", "v16-webapp.tiktok.com", "p16-sign-va.tiktokcdn.com"}},
      {"instagram", {"www.instagram.com", "i.instagram.com", "scontent-lhr8-1.cdninstagram.com"}},
      {"facebook", {"www.facebook.com", "static.xx.fbcdn.net", "connect.facebook.net", "edge-mqtt.facebook.com"}},
      {"snapchat", {"app.snapchat.com", "cf-st.sc-cdn.net", "www.snapchat.com"}},
      {"netflix", {"www.netflix.com", "ipv4-c001-lhr001-ix.1.oca.nflxvideo.net", "assets.nflxext.com", "occ-0-1-2.1.nflxso.net"}},
      {"twitch", {"www.twitch.tv", "gql.twitch.tv", "static-cdn.jtvnw.net", "usher.ttvnw.net"}},
      {"roblox", {"www.roblox.com", "apis.roblox.com", "tr.rbxcdn.com"}},
      {"fortnite", {"www.fortnite.com", "account-public-service-prod.ol.epicgames.com", "launcher-public-service-prod06.ol.epicgames.com"}},
      {"discord", {"discord.com", "gateway.discord.gg", "cdn.discordapp.com", "media.discordapp.net"}},
      {"whatsapp", {"web.whatsapp.com", "mmg.whatsapp.net", "g.whatsapp.net", "wa.me"}},
      {"telegram", {"web.telegram.org", "t.me", "telegram.me"}},
      {"steam", {"store.steampowered.com", "steamcommunity.com", "cdn.cloudflare.steamstatic.com", "api.steampowered.com"}},
  };
  Home h;
  ControlsStore store(h.cfg.server.data_dir);
  std::string error;
  for (const auto& [id, names] : real) {
    INFO(id);
    REQUIRE(hush::policy::find_service(id));
    REQUIRE(store.add(make("service", id, "kids", 0), kNow, error));
  }
  for (const auto& [id, names] : real)
    for (const std::string& n : names) {
      INFO(n);
      CHECK(h.decide(n, "10.0.0.3", kNow) == Action::Block);
      CHECK(h.decide(n, "10.0.0.2", kNow) == Action::Pass);
    }
  // Not every Google or Meta name: a search, a mail, a map still work.
  CHECK(h.decide("www.google.com", "10.0.0.3", kNow) == Action::Pass);
  CHECK(h.decide("mail.google.com", "10.0.0.3", kNow) == Action::Pass);
  CHECK(h.edge == 0);
}

TEST_CASE("service presets: the data file is whole; telemetry presets name catalog lists", "[services]") {
  const auto& all = hush::policy::services();
  REQUIRE(all.size() >= 13);
  for (const auto& s : all) {
    INFO(s.id);
    CHECK_FALSE(s.name.empty());
    CHECK(s.rules.empty() != s.catalog.empty());  // one or the other
    if (!s.catalog.empty()) {
      bool found = false;
      for (const auto& e : hush::blocklists::subs::catalog()) found = found || e.id == s.catalog;
      CHECK(found);
    }
    for (const std::string& r : s.rules) CHECK((r.starts_with("||") && r.ends_with("^")));
  }
  CHECK(hush::policy::find_service("YouTube") == hush::policy::find_service("youtube"));
}

TEST_CASE("a telemetry preset blocks through its catalog list, for its group only", "[controls][services]") {
  Home h;
  // The list as if subscribed and downloaded (the catalog's name for it).
  std::string copy = (h.dir.path / "xiaomi.txt").string();
  FILE* f = fopen(copy.c_str(), "w");
  fputs("||tracking.intl.miui.com^\n", f);
  fclose(f);
  h.cfg.lists.push_back({"hagezi-xiaomi", copy, {hush::policy::kServiceListsGroup}, false});
  ControlsStore store(h.cfg.server.data_dir);
  std::string error;
  CHECK(h.decide("tracking.intl.miui.com", "10.0.0.2", kNow) == Action::Pass);
  REQUIRE(store.add(make("service", "xiaomi-telemetry", "device-1", 0), kNow, error));
  CHECK(h.decide("tracking.intl.miui.com", "10.0.0.2", kNow) == Action::Block);
  CHECK(h.decide("tracking.intl.miui.com", "10.0.0.3", kNow) == Action::Pass);
}

// [subscriptions] keys, and URLs accepted as lists by resolve().
#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "helpers.hpp"

using namespace subs_test;

TEST_CASE("config: [subscriptions] keys", "[config]") {
  TempDir d;
  auto path = (d.path() / "hush.toml").string();
  write_file(path,
             "[subscriptions]\ninterval_hours = 6\nmax_bytes = 1048576\nshrink_limit = 0.5\n"
             "connect_timeout_s = 3\ntotal_timeout_s = 30\n");
  hush::Config cfg;
  std::vector<std::string> errors;
  REQUIRE(hush::load_config_file(path, cfg, errors));
  auto s = cfg.subscription_settings();
  CHECK(s.interval_s == 6 * 3600);
  CHECK(s.max_bytes == 1048576);
  CHECK(s.shrink_limit == Approx(0.5));
  CHECK(s.connect_timeout_s == 3);
  CHECK(s.total_timeout_s == 30);

  hush::Config defaults;
  auto def = defaults.subscription_settings();
  CHECK(def.interval_s == 86400);
  CHECK(def.max_bytes == 50u << 20);
  CHECK(def.shrink_limit == Approx(0.9));

  write_file(path, "[subscriptions]\nshrink_limit = 1.5\ninterval_hours = 0\nbogus = 1\n");
  hush::Config bad;
  errors.clear();
  CHECK_FALSE(hush::load_config_file(path, bad, errors));
  REQUIRE(errors.size() == 3);
  std::string all;
  for (const std::string& e : errors) all += e + "\n";
  CHECK(all.find("hush.toml:2: subscriptions.shrink_limit: expected a number from 0 to 1") != std::string::npos);
  CHECK(all.find("hush.toml:3: subscriptions.interval_hours") != std::string::npos);
  CHECK(all.find("unknown key 'subscriptions.bogus'") != std::string::npos);
}

TEST_CASE("config: http(s) URLs are lists, other schemes are not", "[config]") {
  hush::Config cfg;
  cfg.upstream.servers = {"127.0.0.1:53"};
  cfg.lists.push_back({"", "https://raw.githubusercontent.com/hagezi/dns-blocklists/main/adblock/native.xiaomi.txt"});
  cfg.lists.push_back({"", "https://small.oisd.nl/"});
  cfg.lists.push_back({"", "file:///etc/hush/mine.txt"});
  std::vector<std::string> errors;
  REQUIRE(hush::resolve(cfg, errors));
  CHECK(cfg.lists[0].name == "native.xiaomi.txt");
  CHECK(cfg.lists[0].path.rfind("https://", 0) == 0);  // downloaded later by fetch_url_lists
  CHECK(cfg.lists[1].name == "small.oisd.nl");
  CHECK(cfg.lists[2].path == "/etc/hush/mine.txt");
  cfg.lists.push_back({"", "ftp://example.com/list.txt"});
  errors.clear();
  CHECK_FALSE(hush::resolve(cfg, errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("ftp://example.com/list.txt") != std::string::npos);
}

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "base/address.hpp"
#include "config/config.hpp"

using hush::Config;

namespace {
std::string write_temp(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / ("hush-config-test-" + name);
  std::ofstream(path) << text;
  return path.string();
}
bool any_contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& e : v)
    if (e.find(s) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST_CASE("a valid file overrides the defaults and keeps the rest") {
  auto path = write_temp("good.toml", R"([server]
listen = ["127.0.0.1:5300", "[::1]:5300"]
threads = 2

[upstream]
servers = ["127.0.0.1:5301"]

[cache]
max_ttl = 600
)");
  Config cfg;
  std::vector<std::string> errors;
  REQUIRE(hush::load_config_file(path, cfg, errors));
  REQUIRE(hush::resolve(cfg, errors));
  CHECK(errors.empty());
  CHECK(cfg.listen_addrs.size() == 2);
  CHECK(cfg.server.threads == 2);
  CHECK(cfg.cache.max_ttl == 600);
  CHECK(cfg.cache.max_entries == 100000);
  CHECK(cfg.upstream_addrs.size() == 1);
}

TEST_CASE("every bad key is named with its line") {
  auto path = write_temp("bad.toml", R"([server]
threads = "many"
colour = "blue"

[cache]
max_ttl = -5

[nonsense]
x = 1
)");
  Config cfg;
  std::vector<std::string> errors;
  CHECK_FALSE(hush::load_config_file(path, cfg, errors));
  CHECK(errors.size() == 4);
  CHECK(any_contains(errors, ":2: server.threads: expected an integer from 0 to 256"));
  CHECK(any_contains(errors, ":3: unknown key 'server.colour'"));
  CHECK(any_contains(errors, ":6: cache.max_ttl"));
  CHECK(any_contains(errors, "unknown key 'nonsense'"));
}

TEST_CASE("TOML syntax errors name the line") {
  auto path = write_temp("syntax.toml", "[server]\nthreads = = 2\n");
  Config cfg;
  std::vector<std::string> errors;
  CHECK_FALSE(hush::load_config_file(path, cfg, errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find(path + ":2:") == 0);
}

TEST_CASE("a missing file is an error, not a crash") {
  Config cfg;
  std::vector<std::string> errors;
  CHECK_FALSE(hush::load_config_file("/nonexistent/hush.toml", cfg, errors));
  CHECK(any_contains(errors, "cannot read"));
}

TEST_CASE("upstreams default to the nameservers of resolv.conf") {
  auto resolv = write_temp("resolv.conf", "# comment\nsearch lan\nnameserver 127.0.0.53\nnameserver ::1\n");
  Config cfg;
  std::vector<std::string> errors;
  REQUIRE(hush::resolve(cfg, errors, resolv));
  CHECK(cfg.upstream_addrs.size() == 2);

  auto empty = write_temp("resolv-empty.conf", "search lan\n");
  Config none;
  CHECK_FALSE(hush::resolve(none, errors, empty));
  CHECK(any_contains(errors, "--upstream"));
}

TEST_CASE("values that depend on each other are checked together") {
  Config cfg;
  cfg.upstream.servers = {"127.0.0.1"};
  cfg.cache.min_ttl = 100;
  cfg.cache.max_ttl = 10;
  cfg.server.listen = {"not-an-address"};
  std::vector<std::string> errors;
  CHECK_FALSE(hush::resolve(cfg, errors));
  CHECK(any_contains(errors, "cache.min_ttl"));
  CHECK(any_contains(errors, "server.listen"));
}

TEST_CASE("devices.router: an address with an optional port, named with its line when bad") {
  auto good = write_temp("router.toml", "[upstream]\nservers = [\"127.0.0.1\"]\n[devices]\nrouter = \"192.168.1.1\"\n");
  Config cfg;
  std::vector<std::string> errors;
  REQUIRE(hush::load_config_file(good, cfg, errors));
  REQUIRE(hush::resolve(cfg, errors));
  REQUIRE(cfg.router_addr);
  CHECK(cfg.router_addr->ss_family == AF_INET);

  auto bad = write_temp("router-bad.toml", "[upstream]\nservers = [\"127.0.0.1\"]\n[devices]\nrouter = \"my-router\"\n");
  Config cfg2;
  errors.clear();
  REQUIRE(hush::load_config_file(bad, cfg2, errors));
  CHECK_FALSE(hush::resolve(cfg2, errors));
  CHECK(any_contains(errors, bad + ":4"));
  CHECK(any_contains(errors, "devices.router"));
  CHECK_FALSE(cfg2.router_addr);
}

TEST_CASE("SIGHUP: live keys are taken over, the others that changed need a restart") {
  struct Row {
    const char* toml;
    std::vector<std::string> restart;  // what take_live_keys names
    bool taken;                        // the value reached `current`
  };
  const Row rows[] = {
      {"[blocking]\nmode = \"nxdomain\"\n", {}, true},
      {"[blocking]\ndeny = [\"ads.example\"]\n", {}, true},
      {"[[lists]]\npath = \"/tmp/a.txt\"\n", {}, true},
      {"[server]\nlog_level = \"debug\"\n", {}, true},
      {"[cache]\nmax_entries = 5000\n", {"cache.max_entries"}, false},
      {"[server]\nlisten = [\"127.0.0.1:5454\"]\n[tcp]\nidle_timeout_ms = 500\n",
       {"server.listen", "tcp.idle_timeout_ms"}, false},
      {"[[forward]]\ndomain = \"lan\"\nservers = [\"192.168.1.1\"]\n", {"forward"}, false},
  };
  for (const Row& row : rows) {
    INFO(row.toml);
    Config startup, next;
    std::vector<std::string> errors;
    REQUIRE(hush::load_config_text(row.toml, "next.toml", next, errors));
    Config current = startup;
    CHECK(hush::take_live_keys(startup, next, current) == row.restart);
    bool taken = current.blocking.mode != startup.blocking.mode || current.blocking.deny != startup.blocking.deny ||
                 current.lists != startup.lists || current.server.log_level != startup.server.log_level;
    CHECK(taken == row.taken);
    CHECK(current.server.listen == startup.server.listen);  // restart keys stay as started
    CHECK(current.cache.max_entries == startup.cache.max_entries);
  }
}

TEST_CASE("server.memory_budget_mib: 64 by default, 0 turns it off, a negative one is refused") {
  Config defaults;
  CHECK(defaults.server.memory_budget_mib == 64);
  for (auto [text, mib] : {std::pair{"0", 0u}, std::pair{"48", 48u}}) {
    auto path = write_temp("budget.toml", std::string("[server]\nmemory_budget_mib = ") + text + "\n");
    Config cfg;
    std::vector<std::string> errors;
    REQUIRE(hush::load_config_file(path, cfg, errors));
    CHECK(cfg.server.memory_budget_mib == mib);
  }
  auto path = write_temp("budget-bad.toml", "[server]\nmemory_budget_mib = -1\n");
  Config cfg;
  std::vector<std::string> errors;
  CHECK_FALSE(hush::load_config_file(path, cfg, errors));
  CHECK(any_contains(errors, ":2: server.memory_budget_mib"));
}

TEST_CASE("dnstap: a socket or an address, not both; the keys need a restart") {
  Config cfg;
  std::vector<std::string> errors;
  REQUIRE(hush::load_config_text("[upstream]\nservers = [\"127.0.0.1\"]\n[dnstap]\naddress = \"127.0.0.1:6000\"\n"
                                 "queue = 64\n",
                                 "t.toml", cfg, errors));
  REQUIRE(hush::resolve(cfg, errors));
  CHECK(cfg.dnstap.queue == 64);

  Config both = cfg;
  both.dnstap.socket = "/run/tap.sock";
  CHECK_FALSE(hush::resolve(both, errors));
  CHECK(any_contains(errors, "dnstap: set socket or address, not both"));

  Config bad = cfg;
  bad.dnstap.address = "not an address";
  CHECK_FALSE(hush::resolve(bad, errors));
  CHECK(any_contains(errors, "dnstap.address"));

  // What a restore says about a changed configuration.
  auto changed = hush::differing_keys(Config{}, cfg);
  bool restart = false;
  for (const auto& k : changed)
    if (k.name == "dnstap.address") restart = !k.live;
  CHECK(restart);
  Config off;
  errors.clear();
  CHECK_FALSE(hush::load_config_text("[dnstap]\nqueue = 1\n", "q.toml", off, errors));
}

TEST_CASE("upstream forms: hush check names the key's line and the bad server") {
  auto path = write_temp("upstreams-bad.toml", "[upstream]\nservers = [\"tls://127.0.0.1#ok.example\", \"quic://1.2.3.4\"]\n");
  Config cfg;
  std::vector<std::string> errors;
  REQUIRE(hush::load_config_file(path, cfg, errors));
  CHECK_FALSE(hush::resolve(cfg, errors));
  CHECK(any_contains(errors, ":2: upstream.servers: 'quic://1.2.3.4': unknown scheme 'quic'"));
}

TEST_CASE("a server given by name needs a plain server to look it up") {
  Config cfg;
  std::vector<std::string> errors;
  cfg.upstream.servers = {"tls://dns.example", "127.0.0.2:5300"};
  REQUIRE(hush::resolve(cfg, errors));
  REQUIRE(cfg.bootstrap_addrs.size() == 1);  // the first plain upstream
  CHECK(hush::format_address(cfg.bootstrap_addrs[0]) == "127.0.0.2:5300");
  CHECK(cfg.upstream_servers[0].host == "dns.example");

  Config own;
  own.upstream.servers = {"tls://dns.example"};
  own.upstream.bootstrap = {"tls://1.1.1.1"};
  CHECK_FALSE(hush::resolve(own, errors));
  CHECK(any_contains(errors, "a bootstrap server must be plain DNS"));
}

TEST_CASE("clients: an address, a CIDR or id:NAME; anything else is named with its line") {
  auto path = write_temp("clients.toml",
                         "[upstream]\nservers = [\"127.0.0.1\"]\n"
                         "[[clients]]\naddress = \"id:tablet-mia\"\ngroups = [\"kids\"]\n"
                         "[[clients]]\naddress = \"10.0.0.0/8\"\ngroups = [\"kids\"]\n"
                         "[[clients]]\naddress = \"id:Tablet Mia\"\ngroups = [\"kids\"]\n");
  Config cfg;
  std::vector<std::string> errors;
  CHECK_FALSE(hush::load_config_file(path, cfg, errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find(path + ":9") != std::string::npos);
  CHECK(errors[0].find("\"id:Tablet Mia\" is not an IP address, a CIDR or id:NAME") != std::string::npos);
}

TEST_CASE("[[alerts.sink]] tables are read, and bad ones named with their index") {
  Config cfg;
  std::vector<std::string> errors;
  REQUIRE(hush::load_config_text(R"([upstream]
servers = ["127.0.0.1:5301"]

[alerts]
disk_min_free_mib = 200

[[alerts.sink]]
kind = "ntfy"
url = "https://ntfy.sh/my-hush-topic"
events = ["first_contact", "new_device"]

[[alerts.sink]]
name = "mail"
kind = "email"
url = "smtp://127.0.0.1:2525"
from = "hush@example.net"
to = ["me@example.net"]
plain = true
)", "alerts.toml", cfg, errors));
  REQUIRE(hush::resolve(cfg, errors));
  REQUIRE(cfg.alerts.sinks.size() == 2);
  CHECK(cfg.alerts.sinks[0].name == "ntfy 1");
  CHECK(cfg.alerts.sinks[0].events.size() == 2);
  CHECK(cfg.alerts.sinks[1].plain);
  CHECK(cfg.alerts.disk_min_free_mib == 200);

  Config bad;
  errors.clear();
  REQUIRE(hush::load_config_text(R"([upstream]
servers = ["127.0.0.1:5301"]
[[alerts.sink]]
kind = "webhook"
url = "smtp://nope"
events = ["everything"]
)", "bad.toml", bad, errors));
  CHECK_FALSE(hush::resolve(bad, errors));
  CHECK(any_contains(errors, "alerts.sink[0] (webhook 1): url: expected http:// or https://"));
  CHECK(any_contains(errors, "unknown event 'everything'"));

  errors.clear();
  Config missing;
  CHECK_FALSE(hush::load_config_text("[[alerts.sink]]\nkind = \"webhook\"\nsurl = \"x\"\n", "m.toml", missing, errors));
  CHECK(any_contains(errors, "alerts.sink: missing 'url'"));
  CHECK(any_contains(errors, "unknown key 'alerts.sink.surl'"));
}

TEST_CASE("[[schedule]] tables: one window or several, and bad ones named with their line") {
  Config cfg;
  std::vector<std::string> errors;
  REQUIRE(hush::load_config_text(R"([upstream]
servers = ["127.0.0.1:5301"]

[[schedule]]
name = "kids-night"
group = "kids"
days = "mon-fri"
from = "21:00"
to = "07:00"
zone = "Europe/Berlin"
services = ["youtube", "tiktok"]

[[schedule]]
name = "tablet-homework"
device = "tablet"
windows = [{days = "mon,wed", from = "15:00", to = "17:30"}, {days = "sat", from = "10:00", to = "24:00"}]
rules = ["||games.example^"]

[[schedule]]
name = "open-sunday"
days = "sun"
from = "00:00"
to = "24:00"
off = true
)", "hush.toml", cfg, errors));
  INFO(errors.size());
  REQUIRE(cfg.schedules.size() == 3);
  const hush::Schedule& night = cfg.schedules[0];
  CHECK(night.id == "kids-night");
  CHECK(night.group == "kids");
  CHECK(night.label == "group kids");
  CHECK(night.source == "hush.toml:4");
  REQUIRE(night.windows.size() == 1);
  CHECK(night.windows[0].days == 0x1f);
  CHECK(night.windows[0].from == 21 * 60);
  CHECK(night.windows[0].to == 7 * 60);  // the next morning
  CHECK(night.services == std::vector<std::string>{"youtube", "tiktok"});
  const hush::Schedule& homework = cfg.schedules[1];
  CHECK(homework.group.empty());  // the server finds the device's group
  CHECK(homework.device == "tablet");
  REQUIRE(homework.windows.size() == 2);
  CHECK(homework.windows[1].to == 1440);
  CHECK(cfg.schedules[2].group == "*");
  CHECK(cfg.schedules[2].label == "everyone");
  CHECK(cfg.schedules[2].off);

  // SIGHUP takes them over while serving.
  Config startup, running;
  std::vector<std::string> restart = hush::take_live_keys(startup, cfg, running);
  CHECK(std::find(restart.begin(), restart.end(), "schedule") == restart.end());
  CHECK(running.schedules.size() == 3);

  Config bad;
  errors.clear();
  CHECK_FALSE(hush::load_config_text(R"([[schedule]]
name = "a"
days = "someday"
from = "21:00"
to = "07:00"
off = true

[[schedule]]
name = "b"
group = "kids"
device = "tablet"
windows = [{days = "sat", from = "25:00", to = "07:00"}]
services = ["youtube"]
colour = "red"

[[schedule]]
days = "sat"
)", "bad.toml", bad, errors));
  CHECK(any_contains(errors, "bad.toml:3: schedule 'a': days: expected mon-fri"));
  CHECK(any_contains(errors, "bad.toml:12: schedule 'b': from and to: a time like \"21:00\""));
  CHECK(any_contains(errors, "bad.toml:11: schedule 'b': give group or device, not both"));
  CHECK(any_contains(errors, "bad.toml:14: unknown key 'schedule.colour'"));
  CHECK(any_contains(errors, "bad.toml:16: schedule: missing 'name'"));
}

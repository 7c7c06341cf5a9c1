// Blocked services and timed controls end to end, with a real unbound as the
// upstream: `hush services block youtube --device` makes dig from that
// device's loopback address get the sinkhole answer while another address
// still gets the real one; a pause for the device ends by itself; a timed
// block and the service survive a restart of hush; cancel ends one at once.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <optional>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

constexpr const char* kTablet = "127.0.0.2";
constexpr const char* kLaptop = "127.0.0.3";
constexpr const char* kVideoA = "192.0.2.90";  // what unbound answers for YouTube's names

std::string youtube_zones() {
  std::string conf;
  for (const char* d : {"youtube.com", "googlevideo.com", "ytimg.com"})
    conf += std::string("  local-zone: \"") + d + ".\" redirect\n  local-data: \"" + d + ". 300 IN A " + kVideoA + "\"\n";
  return conf;
}

}  // namespace

TEST_CASE("services and timed controls: per device, ending by themselves, kept over a restart", "[controls]") {
  TempDir dir;
  HushOptions opts;
  Unbound unbound(dir.path() / "unbound", youtube_zones());
  opts.upstreams = {unbound.endpoint()};
  std::optional<Hush> hush;
  hush.emplace(dir.path(), opts);

  // Both devices ask first, so the log knows them.
  REQUIRE(dig_from(*hush, kTablet, "www.youtube.com") == kVideoA);
  REQUIRE(dig_from(*hush, kLaptop, "www.youtube.com") == kVideoA);
  CommandResult block;
  REQUIRE(wait_until([&] { return (block = hush_cli(*hush, {"services", "block", "youtube", "--device", kTablet})).exit_code() == 0; },
                     15s, 200ms));
  INFO(block.out << block.err << hush->log());
  CHECK(block.out.find("blocked service youtube") != std::string::npos);
  CHECK(wait_until([&] { return dig_from(*hush, kTablet, "www.youtube.com") == "0.0.0.0"; }, 10s, 100ms));
  CHECK(dig_from(*hush, kTablet, "rr3---sn-4g5e6nsz.googlevideo.com") == "0.0.0.0");
  CHECK(dig_from(*hush, kTablet, "i.ytimg.com") == "0.0.0.0");
  CHECK(dig_from(*hush, kLaptop, "www.youtube.com") == kVideoA);
  CHECK(dig_from(*hush, kTablet, "www.test") == zone::kWwwA);

  // A pause for the tablet alone: YouTube comes back for it, then the pause
  // ends by itself and the block is in force again.
  REQUIRE(hush_cli(*hush, {"timed", "pause", "--for", "4s", "--device", kTablet}).exit_code() == 0);
  CHECK(wait_until([&] { return dig_from(*hush, kTablet, "www.youtube.com") == kVideoA; }, 4s, 100ms));
  CHECK(wait_until([&] { return dig_from(*hush, kTablet, "www.youtube.com") == "0.0.0.0"; }, 10s, 200ms));
  CHECK(hush->log().find("a timed exception or pause ended") != std::string::npos);

  // A timed block for the laptop, then a restart: both are still in force.
  REQUIRE(hush_cli(*hush, {"timed", "block", "www.test", "--for", "30m", "--device", kLaptop}).exit_code() == 0);
  CHECK(wait_until([&] { return dig_from(*hush, kLaptop, "www.test") == "0.0.0.0"; }, 10s, 100ms));
  hush.reset();
  hush.emplace(dir.path(), opts);
  CHECK(dig_from(*hush, kLaptop, "www.test") == "0.0.0.0");
  CHECK(dig_from(*hush, kTablet, "www.test") == zone::kWwwA);
  CHECK(dig_from(*hush, kTablet, "www.youtube.com") == "0.0.0.0");

  // `timed ls --json` names them; cancel ends the block at once.
  CommandResult ls = hush_cli(*hush, {"timed", "ls", "--json"});
  REQUIRE(ls.exit_code() == 0);
  auto controls = nlohmann::json::parse(ls.out)["controls"];
  REQUIRE(controls.size() == 2);
  std::string id;
  for (const auto& c : controls)
    if (c["kind"] == "deny") id = c["id"];
  REQUIRE(!id.empty());
  REQUIRE(hush_cli(*hush, {"timed", "cancel", id}).exit_code() == 0);
  CHECK(wait_until([&] { return dig_from(*hush, kLaptop, "www.test") == zone::kWwwA; }, 10s, 100ms));
  REQUIRE(hush_cli(*hush, {"services", "unblock", "youtube", "--device", kTablet}).exit_code() == 0);
  CHECK(wait_until([&] { return dig_from(*hush, kTablet, "www.youtube.com") == kVideoA; }, 10s, 100ms));

  // Bad input: a clear message, exit code 2.
  CommandResult bad = hush_cli(*hush, {"services", "block", "myspace", "--device", kTablet});
  CHECK(bad.exit_code() == 2);
  CHECK(bad.err.find("no service 'myspace'") != std::string::npos);
  bad = hush_cli(*hush, {"timed", "pause", "--for", "9d", "--group", "kids"});
  CHECK(bad.exit_code() == 2);
  CHECK(bad.err.find("7 days") != std::string::npos);
  CHECK(hush->running());
}

TEST_CASE("hush query says when a pause lets a name through, as the server would", "[controls]") {
  TempDir dir;
  const fs::path config = dir.path() / "hush.toml";
  write_file(config, "[upstream]\nservers = [\"127.0.0.1:9\"]\n[blocking]\ndeny = [\"ads.test\"]\n"
                     "[[clients]]\naddress = \"127.0.0.5\"\ngroups = [\"kids\"]\n");
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), hush_binary());
    args.insert(args.end(), {"--data-dir", (dir.path() / "data").string(), "--config", config.string()});
    return run_command(args, 20s);
  };
  auto paused = cli({"timed", "pause", "--for", "30m", "--group", "kids"});
  INFO(paused.out << paused.err);
  REQUIRE(paused.exit_code() == 0);
  auto kid = cli({"query", "ads.test", "--client", "127.0.0.5"});
  INFO(kid.out << kid.err);
  CHECK(kid.out.find("blocking is paused for this client") != std::string::npos);
  auto other = cli({"query", "ads.test", "--client", "127.0.0.6"});
  INFO(other.out << other.err);
  CHECK(other.out.find("blocked by") != std::string::npos);
}

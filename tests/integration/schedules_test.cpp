// Schedules end to end, with a real unbound as the upstream: a schedule
// whose window covers now blocks YouTube for the tablet (127.0.0.2), one
// whose window does not leaves the laptop (127.0.0.3) alone; `hush schedule
// ls` says which is on; removing the first lets YouTube through again, and
// a schedule that turns blocking off for the laptop lets a listed name
// through for it alone. A [[schedule]] of the configuration file, for a
// group holding 127.0.0.4, is on from the start, shown with its file and
// line by `hush schedule ls` and the API, refused by `hush schedule rm` and
// DELETE, and changed by editing the file and SIGHUP. The windows are set
// around the wall-clock now of this machine's zone, which hush shares.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <ctime>
#include <regex>

#include "harness.hpp"

using namespace hush_it;

namespace {

constexpr const char* kTablet = "127.0.0.2";
constexpr const char* kLaptop = "127.0.0.3";
constexpr const char* kFiled = "127.0.0.4";
constexpr const char* kVideoA = "192.0.2.90";

// "HH:MM" for `offset` minutes from the local wall-clock now.
std::string clock_from_now(int offset) {
  time_t t = time(nullptr);
  tm local{};
  localtime_r(&t, &local);
  int m = ((local.tm_hour * 60 + local.tm_min + offset) % 1440 + 1440) % 1440;
  char buf[8];
  snprintf(buf, sizeof buf, "%02d:%02d", m / 60, m % 60);
  return buf;
}

// curl against the dashboard: the body, then the status on a line of its own.
std::string api(uint16_t port, const std::string& method, const std::string& path, const std::string& token) {
  return run_command({"curl", "-s", "-X", method, "-w", "\n%{http_code}", "-H", "Authorization: Bearer " + token,
                      "http://127.0.0.1:" + std::to_string(port) + path},
                     10s)
      .out;
}

}  // namespace

TEST_CASE("schedules: a window over now blocks for its device, one later does not", "[schedules]") {
  TempDir dir;
  HushOptions opts;
  Unbound unbound(dir.path() / "unbound",
                  "  local-zone: \"youtube.com.\" redirect\n  local-data: \"youtube.com. 300 IN A " + std::string(kVideoA) + "\"\n");
  opts.upstreams = {unbound.endpoint()};
  opts.extra_args = {"--deny", "www.test"};
  const uint16_t http_port = pick_free_port();
  opts.extra_config = "[http]\nlisten = \"127.0.0.1:" + std::to_string(http_port) +
                      "\"\n\n[[clients]]\naddress = \"127.0.0.4\"\ngroups = [\"default\", \"filed\"]\n\n"
                      "[[schedule]]\nname = \"filed-now\"\ngroup = \"filed\"\ndays = \"daily\"\nfrom = \"00:00\"\n"
                      "to = \"24:00\"\nservices = [\"youtube\"]\n";
  Hush hush(dir.path(), opts);
  const std::string config = hush.config_path().string();

  // The file's schedule is in force from the start, for its group alone.
  CHECK(dig_from(hush, kFiled, "www.youtube.com") == "0.0.0.0");
  CommandResult filed = hush_cli(hush, {"schedule", "ls", "--json", "--config", config});
  INFO(filed.out << filed.err);
  REQUIRE(filed.exit_code() == 0);
  auto from_file = nlohmann::json::parse(filed.out)["schedules"];
  REQUIRE(from_file.size() == 1);
  CHECK(from_file[0]["id"] == "filed-now");
  CHECK(from_file[0]["active"] == true);
  CHECK(from_file[0]["read_only"] == true);
  CHECK(from_file[0]["source"].get<std::string>().find("hush.toml:") != std::string::npos);
  CHECK(hush_cli(hush, {"schedule", "ls", "--config", config}).out.find("hush.toml:") != std::string::npos);
  CommandResult refused = hush_cli(hush, {"schedule", "rm", "filed-now", "--config", config});
  CHECK(refused.exit_code() == 2);
  CHECK(refused.err.find("schedule 'filed-now' is written in the configuration file (" + config + ":") != std::string::npos);
  CommandResult token = run_command({hush_binary(), "token", "create", "schedules-test", "--data-dir", hush.data_dir().string()}, 10s);
  std::smatch tm;
  REQUIRE(std::regex_search(token.out, tm, std::regex("hush_[A-Za-z0-9_]+")));
  const std::string bearer = tm[0];
  std::string listed = api(http_port, "GET", "/api/schedules", bearer);
  CHECK(listed.find("\"read_only\":true") != std::string::npos);
  CHECK(listed.find("\"id\":\"filed-now\"") != std::string::npos);
  std::string deleted = api(http_port, "DELETE", "/api/schedules/filed-now", bearer);
  CHECK(deleted.substr(deleted.rfind('\n') + 1) == "409");
  CHECK(deleted.find("hush.toml:") != std::string::npos);
  CHECK(dig_from(hush, kFiled, "www.youtube.com") == "0.0.0.0");
  // Edited in the file and reloaded: blocking off for the group instead.
  std::string text = read_file(config);
  text.replace(text.find("services = [\"youtube\"]"), std::string("services = [\"youtube\"]").size(), "off = true");
  write_file(config, text);
  REQUIRE(kill(hush.pid(), SIGHUP) == 0);
  CHECK(wait_until([&] { return dig_from(hush, kFiled, "www.test") == zone::kWwwA; }, 10s, 100ms));
  CHECK(dig_from(hush, kFiled, "www.youtube.com") == kVideoA);

  REQUIRE(dig_from(hush, kTablet, "www.youtube.com") == kVideoA);
  REQUIRE(dig_from(hush, kLaptop, "www.youtube.com") == kVideoA);
  CommandResult now_on;
  REQUIRE(wait_until([&] {
    return (now_on = hush_cli(hush, {"schedule", "add", "--device", kTablet, "--days", "daily", "--from", clock_from_now(-60),
                                     "--to", clock_from_now(60), "--block-service", "youtube"}))
               .exit_code() == 0;
  }, 15s, 200ms));
  INFO(now_on.out << now_on.err << hush.log());
  CHECK(now_on.out.find("block service youtube") != std::string::npos);
  // The laptop is a device once the log has written its query, which may
  // come after the tablet's.
  CommandResult later;
  CHECK(wait_until([&] {
    return (later = hush_cli(hush, {"schedule", "add", "--device", kLaptop, "--days", "daily", "--from",
                                    clock_from_now(120), "--to", clock_from_now(180), "--block-service", "youtube"}))
               .exit_code() == 0;
  }, 15s, 200ms));
  INFO(later.out << later.err);
  REQUIRE(later.exit_code() == 0);

  CHECK(wait_until([&] { return dig_from(hush, kTablet, "www.youtube.com") == "0.0.0.0"; }, 10s, 100ms));
  CHECK(dig_from(hush, kLaptop, "www.youtube.com") == kVideoA);
  CHECK(hush.log().find("schedules changed") != std::string::npos);

  CommandResult ls = hush_cli(hush, {"schedule", "ls", "--json"});
  REQUIRE(ls.exit_code() == 0);
  auto all = nlohmann::json::parse(ls.out)["schedules"];
  REQUIRE(all.size() == 2);  // without --config, only schedules.json's
  CHECK(all[0]["active"] == true);
  CHECK(all[1]["active"] == false);
  CHECK(all[0]["next_change"].get<int64_t>() > time(nullptr));
  CHECK(hush_cli(hush, {"schedule", "ls"}).out.find("on until") != std::string::npos);

  // Blocking off for the laptop now: the configured deny lets www.test through for it alone.
  REQUIRE(dig_from(hush, kLaptop, "www.test") == "0.0.0.0");
  REQUIRE(hush_cli(hush, {"schedule", "add", "--device", kLaptop, "--days", "daily", "--from", clock_from_now(-60), "--to",
                          clock_from_now(60), "--off"})
              .exit_code() == 0);
  CHECK(wait_until([&] { return dig_from(hush, kLaptop, "www.test") == zone::kWwwA; }, 10s, 100ms));
  CHECK(dig_from(hush, kTablet, "www.test") == "0.0.0.0");

  REQUIRE(hush_cli(hush, {"schedule", "rm", all[0]["id"].get<std::string>()}).exit_code() == 0);
  CHECK(wait_until([&] { return dig_from(hush, kTablet, "www.youtube.com") == kVideoA; }, 10s, 100ms));

  // Bad input: a clear message, exit code 2, and hush keeps serving.
  CommandResult bad = hush_cli(hush, {"schedule", "add", "--days", "someday", "--from", "21:00", "--to", "07:00", "--off"});
  CHECK(bad.exit_code() == 2);
  CHECK(bad.err.find("days") != std::string::npos);
  bad = hush_cli(hush, {"schedule", "add", "--days", "daily", "--from", "21:00", "--to", "07:00", "--zone", "Mars/Olympus",
                        "--off"});
  CHECK(bad.exit_code() == 2);
  CHECK(bad.err.find("no time zone") != std::string::npos);
  bad = hush_cli(hush, {"schedule", "rm", "abcdef"});
  CHECK(bad.exit_code() == 2);
  CHECK(hush.running());
}

// Schedules end to end, with a real unbound as the upstream: a schedule
// whose window covers now blocks YouTube for the tablet (127.0.0.2), one
// whose window does not leaves the laptop (127.0.0.3) alone; `hush schedule
// ls` says which is on; removing the first lets YouTube through again, and
// a schedule that turns blocking off for the laptop lets a listed name
// through for it alone. The windows are set around the wall-clock now of
// this machine's zone, which hush shares.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <ctime>

#include "harness.hpp"

using namespace hush_it;

namespace {

constexpr const char* kTablet = "127.0.0.2";
constexpr const char* kLaptop = "127.0.0.3";
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

}  // namespace

TEST_CASE("schedules: a window over now blocks for its device, one later does not", "[schedules]") {
  TempDir dir;
  HushOptions opts;
  Unbound unbound(dir.path() / "unbound",
                  "  local-zone: \"youtube.com.\" redirect\n  local-data: \"youtube.com. 300 IN A " + std::string(kVideoA) + "\"\n");
  opts.upstreams = {unbound.endpoint()};
  opts.extra_args = {"--deny", "www.test"};
  Hush hush(dir.path(), opts);

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
  REQUIRE(all.size() == 2);
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

// Schedules: days and times as written, where a schedule stands at a given
// moment and when that next changes (over midnight, over both of Berlin's
// daylight-saving changes, at a window's edge), the store, the
// configuration file's schedules beside it, and what a policy build at a
// given moment makes of them. Every clock here is a number the
// test moves; the instants below were worked out with Python's zoneinfo.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "decide.hpp"
#include "policy/inputs.hpp"
#include "policy/schedules.hpp"
#include "support/temp_dir.hpp"

using hush::blocklists::Action;
using hush::policy::Schedule;
using hush::policy::ScheduleStore;
using hush::policy::Window;
using hush::policy::window_state;

namespace {

constexpr uint8_t kMonFri = 0x1f;
constexpr uint8_t kDaily = 0x7f;

Schedule berlin(std::vector<Window> windows) {
  Schedule s;
  s.group = "kids";
  s.zone = "Europe/Berlin";
  s.windows = std::move(windows);
  s.services = {"youtube"};
  return s;
}

// Mon 12 Jan 2026 (CET, UTC+1), local times as unix seconds.
constexpr int64_t kMon2059 = 1768247940;
constexpr int64_t kMon2100 = 1768248000;
constexpr int64_t kTue0700 = 1768284000;
constexpr int64_t kFri2100 = 1768593600;
constexpr int64_t kSat0700 = 1768629600;
constexpr int64_t kNextMon2100 = 1768852800;

}  // namespace

TEST_CASE("schedules: days and clock times as written", "[schedules]") {
  std::string error;
  CHECK(hush::policy::parse_days("mon-fri", error) == kMonFri);
  CHECK(hush::policy::parse_days("Sat,Sun", error) == 0x60);
  CHECK(hush::policy::parse_days("mon,wed-fri", error) == 0x1d);
  CHECK(hush::policy::parse_days("fri-mon", error) == 0x71);  // over the week's end
  CHECK(hush::policy::parse_days("daily", error) == kDaily);
  CHECK(hush::policy::parse_days("weekends", error) == 0x60);
  CHECK(hush::policy::parse_days("someday", error) == 0);
  CHECK(error.find("mon-fri") != std::string::npos);
  CHECK(hush::policy::parse_days("mon,", error) == 0);
  CHECK(hush::policy::days_text(kMonFri) == "mon-fri");
  CHECK(hush::policy::days_text(0x60) == "sat,sun");
  CHECK(hush::policy::days_text(0x1d) == "mon,wed-fri");
  CHECK(hush::policy::days_text(kDaily) == "daily");
  CHECK(hush::policy::parse_clock("21:00", false) == 1260);
  CHECK(hush::policy::parse_clock("7:30", false) == 450);
  CHECK(hush::policy::parse_clock("24:00", true) == 1440);
  CHECK(hush::policy::parse_clock("24:00", false) == -1);
  CHECK(hush::policy::parse_clock("24:01", true) == -1);
  CHECK(hush::policy::parse_clock("12:60", false) == -1);
  CHECK(hush::policy::parse_clock("1200", false) == -1);
  CHECK(hush::policy::parse_clock("", false) == -1);
  CHECK(hush::policy::parse_clock("1:2", false) == -1);
  CHECK(hush::policy::clock_text(450) == "07:30");
  CHECK(hush::policy::clock_text(1440) == "24:00");
}

TEST_CASE("schedules: a window over midnight, and its edges", "[schedules]") {
  Schedule s = berlin({{kMonFri, 21 * 60, 7 * 60}});
  auto st = window_state(s, kMon2059);
  CHECK_FALSE(st.in);
  CHECK(st.next_change == kMon2100);
  st = window_state(s, kMon2100);  // at the edge it is in
  CHECK(st.in);
  CHECK(st.next_change == kTue0700);
  st = window_state(s, kTue0700 - 4 * 3600);  // 03:00, after midnight
  CHECK(st.in);
  CHECK(st.next_change == kTue0700);
  CHECK_FALSE(window_state(s, kTue0700).in);
  // Friday's window reaches into Saturday morning; none starts on the weekend.
  st = window_state(s, kSat0700 - 60);
  CHECK(st.in);
  CHECK(st.next_change == kSat0700);
  st = window_state(s, kSat0700);
  CHECK_FALSE(st.in);
  CHECK(st.next_change == kNextMon2100);
  CHECK(window_state(s, kFri2100).in);

  // Two windows that meet at midnight are one stretch: no edge between.
  Schedule joined = berlin({{kMonFri, 21 * 60, 24 * 60}, {0x3e, 0, 7 * 60}});
  st = window_state(joined, kMon2100);
  CHECK(st.in);
  CHECK(st.next_change == kTue0700);

  // A schedule in UTC says the same instants an hour later in winter.
  Schedule utc = s;
  utc.zone = "UTC";
  CHECK(window_state(utc, kMon2100).next_change == kMon2100 + 3600);
}

TEST_CASE("schedules: wall-clock windows over Berlin's daylight-saving changes", "[schedules]") {
  // Sun 29 Mar 2026: 02:00 CET becomes 03:00 CEST.
  constexpr int64_t kMar0030 = 1774740600, kMar0100 = 1774742400, kMar0300 = 1774746000, kMar0500 = 1774753200;
  Schedule night = berlin({{kDaily, 60, 5 * 60}});
  auto st = window_state(night, kMar0030);
  CHECK_FALSE(st.in);
  CHECK(st.next_change == kMar0100);
  st = window_state(night, kMar0100);
  CHECK(st.in);
  CHECK(st.next_change == kMar0500);
  CHECK(kMar0500 - kMar0100 == 3 * 3600);  // the night was an hour short
  // A window in the skipped hour begins at the change; one wholly inside it never opens.
  Schedule skipped = berlin({{0x40, 2 * 60 + 30, 4 * 60}});
  st = window_state(skipped, kMar0030);
  CHECK(st.next_change == kMar0300);
  Schedule gone = berlin({{0x40, 2 * 60 + 15, 2 * 60 + 45}});
  st = window_state(gone, kMar0030);
  CHECK_FALSE(st.in);
  CHECK(st.next_change > kMar0300 + 6 * 86400);  // next Sunday's

  // Sun 25 Oct 2026: 03:00 CEST becomes 02:00 CET.
  constexpr int64_t kOct24_2100 = 1792868400, kOct25_0700 = 1792908000, kOct25_0230 = 1792888200,
                    kOct25_0230_again = 1792891800, kOct25_0330 = 1792895400;
  Schedule bedtime = berlin({{kDaily, 21 * 60, 7 * 60}});
  st = window_state(bedtime, kOct24_2100);
  CHECK(st.in);
  CHECK(st.next_change == kOct25_0700);
  CHECK(kOct25_0700 - kOct24_2100 == 11 * 3600);  // the night was an hour long
  // Sunday's 21:00 is CET: 25 hours after Saturday's.
  CHECK(window_state(bedtime, kOct25_0700).next_change == kOct24_2100 + 25 * 3600);
  // A repeated time is its first occurrence.
  Schedule repeated = berlin({{0x40, 2 * 60 + 30, 3 * 60 + 30}});
  st = window_state(repeated, kOct25_0230 - 60);
  CHECK(st.next_change == kOct25_0230);
  st = window_state(repeated, kOct25_0230_again);
  CHECK(st.in);
  CHECK(st.next_change == kOct25_0330);
}

TEST_CASE("schedules store: checks, bounds, removal, a new store reads them", "[schedules]") {
  hush::test::TempDir dir;
  ScheduleStore store(dir.path.string());
  std::string error;
  Schedule s = berlin({{kMonFri, 21 * 60, 7 * 60}});
  s.services = {"YouTube"};
  auto added = store.add(s, 1000, error);
  REQUIRE(added);
  CHECK(added->services == std::vector<std::string>{"youtube"});
  CHECK(added->added == 1000);

  auto rejects = [&](Schedule bad, const char* why) {
    INFO(why);
    CHECK_FALSE(store.add(bad, 1000, error));
    CHECK(error.find(why) != std::string::npos);
  };
  Schedule bad = s;
  bad.zone = "Mars/Olympus";
  rejects(bad, "no time zone");
  bad.zone = "../../etc/passwd";
  rejects(bad, "no time zone");
  bad = s;
  bad.windows.clear();
  rejects(bad, "at least one window");
  bad.windows.assign(hush::policy::kMaxWindows + 1, {kDaily, 0, 60});
  rejects(bad, "at most");
  bad = s;
  bad.windows = {{kDaily, 60, 60}};
  rejects(bad, "differ");
  bad = s;
  bad.services = {"myspace"};
  rejects(bad, "no service");
  bad = s;
  bad.off = true;
  rejects(bad, "not both");
  bad = s;
  bad.services.clear();
  rejects(bad, "say what");
  bad = s;
  bad.group = "Kids!";
  rejects(bad, "group");
  bad = s;
  bad.rules = {"two words"};
  rejects(bad, "no spaces");
  bad = s;
  bad.companies = {"google"};
  rejects(bad, "no names");

  for (size_t i = 1; i < hush::policy::kMaxSchedules; ++i) REQUIRE(store.add(s, 1000, error));
  CHECK_FALSE(store.add(s, 1000, error));
  CHECK(error.find("at most 100 schedules") != std::string::npos);

  ScheduleStore again(dir.path.string());
  auto all = again.all(&error);
  REQUIRE(all.size() == hush::policy::kMaxSchedules);
  CHECK(all[0].id == added->id);
  CHECK(all[0].windows.size() == 1);
  CHECK(all[0].windows[0].days == kMonFri);
  CHECK(all[0].windows[0].to == 7 * 60);
  CHECK(again.remove(added->id, error));
  CHECK_FALSE(again.remove(added->id, error));
  CHECK(error.find("no schedule") != std::string::npos);
  CHECK(store.all().size() == hush::policy::kMaxSchedules - 1);
}

TEST_CASE("policy at a moment: schedules turn services, lists and rules on, or blocking off, in their windows",
          "[schedules]") {
  hush::test::TempDir dir;
  hush::Config cfg;
  cfg.server.data_dir = dir.path.string();
  std::string ads = (dir.path / "ads.txt").string(), late = (dir.path / "late.txt").string();
  for (auto [path, rule] : {std::pair{ads, "||ads.example^\n"}, std::pair{late, "||games.example^\n"}}) {
    FILE* f = fopen(path.c_str(), "w");
    fputs(rule, f);
    fclose(f);
  }
  cfg.lists.push_back({"ads", ads, {"default"}, false});
  cfg.lists.push_back({"late", late, {"nobody"}, false});  // for no one but the schedule's group
  cfg.clients = {{"10.0.0.2", {"default", "device-1"}}, {"10.0.0.3", {"default", "kids"}}};
  int64_t edge = 0;
  auto decide = [&](const std::string& name, const char* client, int64_t now) {
    return hush::test::decide_at(cfg, name, client, now, edge);
  };

  ScheduleStore store(cfg.server.data_dir);
  std::string error;
  Schedule tablet = berlin({{kMonFri, 21 * 60, 7 * 60}});
  tablet.group = "device-1";
  tablet.lists = {"late"};
  tablet.rules = {"||chat.example^"};
  REQUIRE(store.add(tablet, 0, error));
  Schedule kids_off = berlin({{kMonFri, 20 * 60, 21 * 60}});
  kids_off.services.clear();
  kids_off.off = true;
  REQUIRE(store.add(kids_off, 0, error));

  // Before the tablet's window: the kids' pause is on, the tablet has only the lists.
  CHECK(decide("www.youtube.com", "10.0.0.2", kMon2059) == Action::Pass);
  CHECK(decide("x.games.example", "10.0.0.2", kMon2059) == Action::Pass);
  CHECK(decide("x.ads.example", "10.0.0.3", kMon2059) == Action::Pass);  // kids: blocking off
  CHECK(decide("x.ads.example", "10.0.0.2", kMon2059) == Action::Block);
  CHECK(edge == kMon2100);  // both windows change at 21:00

  // At the edge: the tablet's window opens, the kids' closes.
  CHECK(decide("www.youtube.com", "10.0.0.2", kMon2100) == Action::Block);
  CHECK(decide("x.games.example", "10.0.0.2", kMon2100) == Action::Block);
  CHECK(decide("chat.example", "10.0.0.2", kMon2100) == Action::Block);
  CHECK(decide("www.youtube.com", "10.0.0.3", kMon2100) == Action::Pass);
  CHECK(decide("x.games.example", "10.0.0.3", kMon2100) == Action::Pass);
  CHECK(decide("x.ads.example", "10.0.0.3", kMon2100) == Action::Block);
  CHECK(edge == kTue0700);

  // After midnight still in; at 07:00 out again.
  CHECK(decide("www.youtube.com", "10.0.0.2", kTue0700 - 1) == Action::Block);
  CHECK(decide("www.youtube.com", "10.0.0.2", kTue0700) == Action::Pass);
  CHECK(edge == kTue0700 + 13 * 3600);  // Tuesday 20:00, the kids' next window

  // A list the schedule names that is not there adds nothing (and is logged).
  REQUIRE(store.remove(store.all()[0].id, error));
  tablet.lists = {"gone"};
  REQUIRE(store.add(tablet, 0, error));
  CHECK(decide("chat.example", "10.0.0.2", kMon2100) == Action::Block);
}

TEST_CASE("the configuration file's schedules: checked with their line, merged with the stored ones, never removed",
          "[schedules]") {
  hush::test::TempDir dir;
  hush::Config cfg;
  cfg.server.data_dir = dir.path.string();
  std::vector<std::string> errors;
  REQUIRE(hush::load_config_text(R"([[schedule]]
name = "kids-night"
group = "kids"
days = "mon-fri"
from = "21:00"
to = "07:00"
zone = "Europe/Berlin"
services = ["YouTube"]

[[schedule]]
name = "tablet"
device = "tablet"
days = "daily"
from = "00:00"
to = "24:00"
rules = ["||tablet.example^"]
)", "hush.toml", cfg, errors));
  REQUIRE(hush::policy::check_config_schedules(cfg.schedules, errors));
  CHECK(cfg.schedules[0].services == std::vector<std::string>{"youtube"});  // brought to the preset's id
  CHECK(cfg.schedules[1].group.empty());  // a device not found: left out, below

  cfg.clients = {{"10.0.0.3", {"default", "kids"}}};
  ScheduleStore store(cfg.server.data_dir);
  std::string error;
  Schedule stored = berlin({{kDaily, 20 * 60, 21 * 60}});
  stored.services.clear();
  stored.rules = {"||stored.example^"};
  REQUIRE(store.add(stored, 0, error));
  int64_t edge = 0;
  auto decide = [&](const std::string& name, const char* client, int64_t now) {
    return hush::test::decide_at(cfg, name, client, now, edge);
  };
  CHECK(decide("www.youtube.com", "10.0.0.3", kMon2059) == Action::Pass);
  CHECK(decide("stored.example", "10.0.0.3", kMon2059) == Action::Block);
  CHECK(edge == kMon2100);  // the file's window opens as the stored one closes
  CHECK(decide("www.youtube.com", "10.0.0.3", kMon2100) == Action::Block);
  CHECK(decide("stored.example", "10.0.0.3", kMon2100) == Action::Pass);
  CHECK(decide("tablet.example", "10.0.0.3", kMon2100) == Action::Pass);
  CHECK(edge == kTue0700);
  cfg.schedules[1].group = "kids";  // as the server sets it once the device is found
  CHECK(decide("tablet.example", "10.0.0.3", kMon2100) == Action::Block);

  // Removal is refused, naming the file, the line and the schedule.
  std::string why = hush::policy::refuse_removal(cfg.schedules, "kids-night");
  CHECK(why.find("schedule 'kids-night'") != std::string::npos);
  CHECK(why.find("hush.toml:1") != std::string::npos);
  CHECK(hush::policy::refuse_removal(cfg.schedules, store.all()[0].id).empty());

  // What only policy/ can judge: the zone, the presets, what it does, a name used twice.
  hush::Config bad;
  errors.clear();
  REQUIRE(hush::load_config_text(R"([[schedule]]
name = "a"
days = "daily"
from = "21:00"
to = "07:00"
zone = "Mars/Olympus"
off = true

[[schedule]]
name = "a"
days = "daily"
from = "21:00"
to = "07:00"
services = ["myspace"]

[[schedule]]
name = "Not A Name"
days = "daily"
from = "21:00"
to = "07:00"
)", "bad.toml", bad, errors));
  CHECK_FALSE(hush::policy::check_config_schedules(bad.schedules, errors));
  auto has = [&](const std::string& text) {
    for (const std::string& e : errors)
      if (e.find(text) != std::string::npos) return true;
    return false;
  };
  CHECK(has("bad.toml:1: schedule 'a': no time zone 'Mars/Olympus'"));
  CHECK(has("bad.toml:9: schedule 'a': the name is taken by the one at bad.toml:1"));
  CHECK(has("bad.toml:9: schedule 'a': no service 'myspace'"));
  CHECK(has("bad.toml:16: schedule 'Not A Name': a name is 1 to 32 of a-z"));
  CHECK(has("bad.toml:16: schedule 'Not A Name': say what the schedule does"));
}

// The report over a real query log written by querylog::Store: two devices
// over two days, per company and per device, series and first contacts.
#include <catch2/catch.hpp>

#include <algorithm>

#include "../querylog/helpers.hpp"
#include "querylog/store.hpp"
#include "report/json.hpp"
#include "report/report.hpp"

using namespace hush;
using namespace hush::querylog;
using namespace hush::report;
using hush::test::kDay;
using hush::test::kHour;
using hush::test::kMinute;
using hush::test::kT0;
using hush::test::record;

namespace {

// Day one: the phone (127.0.0.2) asks Xiaomi names (some blocked), an
// unknown vendor and Google; the TV (127.0.0.3) asks Samsung and Google.
// Day two: the phone meets Huawei and a new Xiaomi name.
struct Log {
  hush::test::TempDir dir;
  std::string path = dir.file("hush.db");
  std::unique_ptr<ReportReader> report;
  int64_t phone = 0, tv = 0;

  Log() {
    Options opt;
    opt.path = path;
    Store store(opt);
    store.open(kT0);
    REQUIRE(store.is_open());
    clients::Directory names(clients::Inputs{}, kT0 / 1000000);
    std::vector<Record> rows;
    auto add = [&](int64_t t, const char* ip, const char* name, int n, int blocked) {
      for (int i = 0; i < n; ++i)
        rows.push_back(record(t + i * kMinute, ip, name, i < blocked ? Status::Blocked : Status::Forwarded));
    };
    add(kT0 + 1 * kHour, "127.0.0.2", "api.account.xiaomi.com", 6, 0);
    add(kT0 + 2 * kHour, "127.0.0.2", "sdkconfig.ad.xiaomi.com", 4, 4);
    add(kT0 + 3 * kHour, "127.0.0.2", "tracking.miui.com", 2, 1);
    add(kT0 + 3 * kHour, "127.0.0.2", "a.b.unknown-vendor.com", 3, 0);
    add(kT0 + 4 * kHour, "127.0.0.2", "www.google.com", 1, 0);
    add(kT0 + 1 * kHour, "127.0.0.3", "samsungacr.com", 5, 5);
    add(kT0 + 2 * kHour, "127.0.0.3", "dms.samsung.com", 2, 0);
    add(kT0 + 5 * kHour, "127.0.0.3", "www.google.com", 2, 0);
    add(kT0 + kDay + 1 * kHour, "127.0.0.2", "metrics.data.hicloud.com", 3, 0);
    add(kT0 + kDay + 2 * kHour, "127.0.0.2", "api.account.xiaomi.com", 2, 0);
    add(kT0 + kDay + 2 * kHour, "127.0.0.2", "data.mistat.xiaomi.com", 1, 0);
    std::stable_sort(rows.begin(), rows.end(), [](const Record& a, const Record& b) { return a.time_us < b.time_us; });
    REQUIRE(!store.write(rows, names));
    std::string error;
    report = ReportReader::open(path, CompanyMap::builtin(), error);
    REQUIRE(report);
    phone = device("127.0.0.2");
    tv = device("127.0.0.3");
  }
  int64_t device(const std::string& who) {
    sqlite::Error e;
    auto ids = report->log().find_devices(who, e);
    REQUIRE(ids.size() == 1);
    return ids[0];
  }
};

const CompanyUsage* find(const std::vector<CompanyUsage>& v, const std::string& key) {
  auto it = std::find_if(v.begin(), v.end(), [&](const CompanyUsage& c) { return c.key == key; });
  return it == v.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("a device's companies: counts, blocked share, categories, first seen, names", "[report]") {
  Log l;
  std::string error;
  DeviceReport r = l.report->device(l.phone, kT0, kT0 + kDay, error);
  REQUIRE(error.empty());
  CHECK(r.device == "127.0.0.2");
  CHECK(r.queries == 16);
  CHECK(r.blocked == 5);
  REQUIRE(r.companies.size() == 3);
  const CompanyUsage& x = r.companies[0];  // most queries first
  CHECK(x.key == "xiaomi");
  CHECK(x.name == "Xiaomi Inc.");
  CHECK(x.known);
  CHECK(x.queries == 12);
  CHECK(x.blocked == 5);
  CHECK(x.blocked_share() == Approx(5.0 / 12));
  CHECK(x.categories == std::vector<std::string>{"misc"});
  CHECK(x.first_seen_us == kT0 + kHour);
  CHECK(x.last_seen_us == kT0 + kDay + 2 * kHour + kMinute);  // all time, not only the range
  REQUIRE(x.names.size() == 3);
  CHECK(x.names[0].name == "api.account.xiaomi.com");
  CHECK(x.names[0].queries == 6);
  CHECK(x.names[1].name == "sdkconfig.ad.xiaomi.com");
  CHECK(x.names[1].blocked == 4);
  CHECK(x.names[1].first_seen_us == kT0 + 2 * kHour);
  const CompanyUsage* unknown = find(r.companies, "site:unknown-vendor.com");
  REQUIRE(unknown);
  CHECK(!unknown->known);
  CHECK(unknown->name == "unknown-vendor.com");
  CHECK(unknown->queries == 3);
  CHECK(find(r.companies, "google"));
  CHECK(!find(r.companies, "samsung"));  // the TV's, not the phone's

  DeviceReport tv = l.report->device(l.tv, kT0, kForever, error);
  REQUIRE(tv.companies.size() == 2);
  CHECK(tv.companies[0].key == "samsung");
  CHECK(tv.companies[0].queries == 7);
  CHECK(tv.companies[0].blocked == 5);
  CHECK(tv.companies[0].categories == std::vector<std::string>{"advertising", "misc"});
  CHECK(!find(tv.companies, "xiaomi"));

  // Whole days: the second day alone.
  DeviceReport day2 = l.report->device(l.phone, kT0 + kDay, kForever, error);
  REQUIRE(day2.companies.size() == 2);
  CHECK(find(day2.companies, "huawei")->queries == 3);
  CHECK(find(day2.companies, "xiaomi")->queries == 3);
  CHECK(find(day2.companies, "xiaomi")->first_seen_us == kT0 + kHour);

  l.report->device(12345, kT0, kForever, error);
  CHECK(error == "no device 12345");
}

TEST_CASE("across devices: companies by devices, and who talks to a company", "[report]") {
  Log l;
  std::string error;
  auto all = l.report->overview(kT0, kForever, error);
  REQUIRE(error.empty());
  REQUIRE(!all.empty());
  CHECK(all[0].key == "google");  // the only company both devices asked
  CHECK(all[0].devices == 2);
  CHECK(all[0].queries == 3);
  CHECK(find(all, "xiaomi")->devices == 1);
  CHECK(find(all, "xiaomi")->queries == 15);
  CHECK(find(all, "samsung")->first_seen_us == kT0 + kHour);

  CompanyDevices x = l.report->company("Xiaomi Inc.", kT0, kForever, error);
  REQUIRE(error.empty());
  CHECK(x.key == "xiaomi");
  REQUIRE(x.devices.size() == 1);
  CHECK(x.devices[0].device_id == l.phone);
  CHECK(x.devices[0].queries == 15);
  CHECK(x.devices[0].names.size() == 4);
  CHECK(x.devices[0].first_seen_us == kT0 + kHour);

  CompanyDevices g = l.report->company("google", kT0, kForever, error);
  CHECK(g.devices.size() == 2);
  CHECK(g.devices[0].device_id == l.tv);  // more queries

  CompanyDevices site = l.report->company("www.unknown-vendor.com", kT0, kForever, error);
  CHECK(site.key == "site:unknown-vendor.com");
  CHECK(site.devices.size() == 1);

  l.report->company("no such company", kT0, kForever, error);
  CHECK(error.find("no company 'no such company'") == 0);
}

TEST_CASE("a company's series per day and per hour", "[report]") {
  Log l;
  std::string error;
  auto days = l.report->series("xiaomi", l.phone, kT0, kT0 + 2 * kDay, Step::Day, error);
  REQUIRE(error.empty());
  REQUIRE(days.size() == 2);
  CHECK(days[0].start_us == kT0);
  CHECK(days[0].queries == 12);
  CHECK(days[0].blocked == 5);
  CHECK(days[1].start_us == kT0 + kDay);
  CHECK(days[1].queries == 3);
  auto hours = l.report->series("xiaomi", l.phone, kT0, kT0 + kDay, Step::Auto, error);
  REQUIRE(hours.size() == 3);
  CHECK(hours[0].start_us == kT0 + kHour);
  CHECK(hours[0].queries == 6);
  CHECK(hours[1].blocked == 4);
  CHECK(hours[2].queries == 2);
  auto everyone = l.report->series("google", std::nullopt, kT0, kT0 + kDay, Step::Day, error);
  REQUIRE(everyone.size() == 1);
  CHECK(everyone[0].queries == 3);
  CHECK(l.report->series("samsung", l.phone, kT0, kT0 + 2 * kDay, Step::Day, error).empty());
}

TEST_CASE("first contacts: new companies and new names since a time", "[report]") {
  Log l;
  std::string error;
  auto fresh = l.report->new_contacts(l.phone, kT0 + kDay, 50, error);
  REQUIRE(error.empty());
  std::vector<std::string> seen;
  for (const NewContact& n : fresh)
    seen.push_back((n.kind == NewContact::Kind::Company ? "company " + n.company_key : "name ") + " " + n.name);
  CHECK(seen == std::vector<std::string>{"company huawei metrics.data.hicloud.com",
                                          "name  data.mistat.xiaomi.com", "name  metrics.data.hicloud.com"});
  CHECK(fresh[0].time_us == kT0 + kDay + kHour);
  CHECK(fresh[0].device == "127.0.0.2");
  // Every device: the TV met nothing new on day two.
  auto all = l.report->new_contacts(std::nullopt, kT0 + kDay, 50, error);
  CHECK(all.size() == 3);
  auto since_start = l.report->new_contacts(std::nullopt, kT0, 50, error);
  size_t companies = std::count_if(since_start.begin(), since_start.end(),
                                   [](const NewContact& n) { return n.kind == NewContact::Kind::Company; });
  CHECK(companies == 6);  // phone: xiaomi, unknown-vendor, google, huawei; tv: samsung, google
  CHECK(l.report->new_contacts(std::nullopt, kT0, 2, error).size() == 4);  // two of each kind
}

TEST_CASE("the JSON forms carry the report's fields", "[report]") {
  Log l;
  std::string error;
  auto j = to_json(l.report->device(l.phone, kT0, kT0 + kDay, error));
  CHECK(j["device"]["name"] == "127.0.0.2");
  CHECK(j["queries"] == 16);
  CHECK(j["companies"][0]["key"] == "xiaomi");
  CHECK(j["companies"][0]["blocked_share"].get<double>() == Approx(5.0 / 12));
  CHECK(j["companies"][0]["first_seen_ms"] == (kT0 + kHour) / 1000);
  CHECK(j["companies"][0]["names"][0]["name"] == "api.account.xiaomi.com");
  auto a = to_json(CompanyMap::builtin()->attribute("nothing.example"));
  CHECK(a["known"] == false);
  CHECK(a["key"] == "site:nothing.example");
}

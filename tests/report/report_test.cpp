// The report over a real query log written by querylog::Store: two devices
// over two days, per company and per device, series and first contacts; the
// reader's attribution as the log grows; and logs shaped so that each way of
// reading (look-ups or range reads) is taken.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <thread>
#include <tuple>

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

// Writes `rows` (any order) to the log at `path`.
void write_log(const std::string& path, std::vector<Record> rows) {
  Options opt;
  opt.path = path;
  Store store(opt);
  store.open(kT0);
  REQUIRE(store.is_open());
  clients::Directory names(clients::Inputs{}, kT0 / 1000000);
  std::stable_sort(rows.begin(), rows.end(), [](const Record& a, const Record& b) { return a.time_us < b.time_us; });
  REQUIRE(!store.write(rows, names));
}

int64_t device_of(ReportReader& r, const std::string& ip) {
  sqlite::Error e;
  auto ids = r.log().find_devices(ip, e);
  REQUIRE(ids.size() == 1);
  return ids[0];
}

// Day one: the phone (127.0.0.2) asks Xiaomi names (some blocked), an
// unknown vendor and Google; the TV (127.0.0.3) asks Samsung and Google.
// Day two: the phone meets Huawei and a new Xiaomi name.
struct Log {
  hush::test::TempDir dir;
  std::string path = dir.file("hush.db");
  std::unique_ptr<ReportReader> report;
  int64_t phone = 0, tv = 0;

  Log() {
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
    write_log(path, std::move(rows));
    std::string error;
    report = ReportReader::open(path, CompanyMap::builtin(), error);
    REQUIRE(report);
    phone = device("127.0.0.2");
    tv = device("127.0.0.3");
  }
  int64_t device(const std::string& who) { return device_of(*report, who); }
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

  CHECK(r.bypass.empty());

  l.report->device(12345, kT0, kForever, error);
  CHECK(error == "no device 12345");
}

TEST_CASE("a device that asks a browser's own resolver may be going around hush", "[report]") {
  hush::test::TempDir dir;
  const std::string path = dir.file("hush.db");
  std::vector<Record> rows;
  for (int i = 0; i < 3; ++i)
    rows.push_back(record(kT0 + i * kMinute, "127.0.0.3", "chrome.cloudflare-dns.com",
                          i == 0 ? Status::Blocked : Status::Forwarded));
  rows.push_back(record(kT0 + kHour, "127.0.0.3", "www.google.com"));
  write_log(path, std::move(rows));
  std::string error;
  auto report = ReportReader::open(path, CompanyMap::builtin(), error);
  REQUIRE(report);
  DeviceReport r = report->device(device_of(*report, "127.0.0.3"), kT0, kForever, error);
  REQUIRE(error.empty());
  REQUIRE(r.bypass.size() == 1);
  CHECK(r.bypass[0].name == "chrome.cloudflare-dns.com");
  CHECK(r.bypass[0].resolver == "Cloudflare 1.1.1.1");
  CHECK(r.bypass[0].queries == 3);
  CHECK(r.bypass[0].blocked == 1);
  CHECK(r.bypass[0].last_seen_us == kT0 + 2 * kMinute);
  auto j = to_json(r);
  REQUIRE(j["bypass"].size() == 1);
  CHECK(j["bypass"][0]["resolver"] == "Cloudflare 1.1.1.1");
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

// Since a day two or more days before a device's newest: the device's names
// are read once (new ones, and older ones of their companies), where a
// shorter period reads that day's counts; both must give the same contacts.
TEST_CASE("first contacts over a long period read the device's names once", "[report]") {
  hush::test::TempDir dir;
  std::string path = dir.file("hush.db");
  std::vector<Record> rows;
  for (auto [t, ip, name] : {std::tuple{kT0 + kHour, "127.0.0.2", "api.account.xiaomi.com"},
                             std::tuple{kT0 + kHour, "127.0.0.2", "www.google.com"},
                             std::tuple{kT0 + 2 * kHour, "127.0.0.3", "samsungacr.com"},
                             std::tuple{kT0 + 2 * kDay, "127.0.0.2", "data.mistat.xiaomi.com"},
                             std::tuple{kT0 + 2 * kDay + kHour, "127.0.0.2", "metrics.data.hicloud.com"},
                             std::tuple{kT0 + 2 * kDay + kHour, "127.0.0.3", "www.google.com"},
                             std::tuple{kT0 + 5 * kDay, "127.0.0.2", "www.google.com"},
                             std::tuple{kT0 + 5 * kDay, "127.0.0.3", "samsungacr.com"}})
    rows.push_back(record(t, ip, name, Status::Forwarded));
  write_log(path, std::move(rows));
  std::string error;
  auto r = ReportReader::open(path, CompanyMap::builtin(), error);
  REQUIRE(r);
  auto seen = [&](std::optional<int64_t> device, int64_t since) {
    std::vector<std::string> out;
    for (const NewContact& n : r->new_contacts(device, since, 50, error))
      out.push_back((n.kind == NewContact::Kind::Company ? "company " + n.company_key + " " : "name ") + n.device +
                    " " + n.name);
    std::sort(out.begin(), out.end());
    return out;
  };
  // Days 1 to 5 (wide): Xiaomi is old to the phone, Huawei new; Google new to the TV.
  std::vector<std::string> expected{"company google 127.0.0.3 www.google.com",
                                    "company huawei 127.0.0.2 metrics.data.hicloud.com",
                                    "name 127.0.0.2 data.mistat.xiaomi.com",
                                    "name 127.0.0.2 metrics.data.hicloud.com", "name 127.0.0.3 www.google.com"};
  CHECK(seen(std::nullopt, kT0 + kDay) == expected);
  CHECK(error.empty());
  CHECK(seen(device_of(*r, "127.0.0.2"), kT0 + kDay) ==
        std::vector<std::string>(expected.begin() + 1, expected.begin() + 4));
  // From the start (wide) every first name is new; from day 4 (narrow) nothing.
  CHECK(seen(std::nullopt, kT0).size() == 5 + 6);
  CHECK(seen(std::nullopt, kT0 + 4 * kDay).empty());
  CHECK(error.empty());
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

TEST_CASE("a reader sees names added after its first report, and an id given to another name", "[report]") {
  Log l;
  std::string error;
  CHECK(!find(l.report->device(l.phone, kT0, kForever, error).companies, "site:newvendor.example"));
  write_log(l.path, {record(kT0 + kDay + 5 * kHour, "127.0.0.2", "telemetry.newvendor.example")});
  auto later = l.report->device(l.phone, kT0, kForever, error).companies;
  REQUIRE(error.empty());
  REQUIRE(find(later, "site:newvendor.example"));
  CHECK(find(later, "site:newvendor.example")->names[0].name == "telemetry.newvendor.example");
  // The newest name goes and another one gets its id (SQLite gives the
  // highest id plus one): the reader must not keep the old attribution.
  sqlite::Error e;
  sqlite::Db db = sqlite::Db::open(l.path, SQLITE_OPEN_READWRITE, e);
  REQUIRE(db);
  int64_t id = db.scalar("SELECT id FROM domains WHERE name = 'telemetry.newvendor.example'").value_or(0);
  REQUIRE(id == db.scalar("SELECT max(id) FROM domains").value_or(-1));
  REQUIRE(!db.exec("DELETE FROM domain_names WHERE id = " + std::to_string(id)));
  REQUIRE(!db.exec("INSERT INTO domain_names(label, h, last_day) VALUES('reused.samsungacr.com', 0, 0)"));
  REQUIRE(db.scalar("SELECT id FROM domains WHERE name = 'reused.samsungacr.com'").value_or(0) == id);
  auto reused = l.report->device(l.phone, kT0, kForever, error).companies;
  CHECK(!find(reused, "site:newvendor.example"));
  REQUIRE(find(reused, "samsung"));
  CHECK(find(reused, "samsung")->names[0].name == "reused.samsungacr.com");
}

TEST_CASE("readers given one cache share an attribution and each sees names added since", "[report]") {
  Log l;
  auto map = CompanyMap::builtin();
  auto shared = std::make_shared<AttributionCache>(map);
  std::string error;
  auto r1 = ReportReader::open(l.path, map, error, shared);
  auto r2 = ReportReader::open(l.path, map, error, shared);
  REQUIRE(r1);
  REQUIRE(r2);
  CHECK(find(r1->device(l.phone, kT0, kForever, error).companies, "xiaomi"));
  CHECK(find(r2->device(l.phone, kT0, kForever, error).companies, "xiaomi"));
  REQUIRE(error.empty());
  // Both read while names arrive: each report sees an attribution that no
  // other reader changes under it, and every name of its own transaction.
  std::atomic<bool> failed{false};
  auto read = [&](ReportReader& r) {
    std::string e;
    for (int i = 0; i < 20; ++i) {
      auto companies = r.device(l.phone, kT0, kForever, e).companies;
      if (!e.empty() || !find(companies, "xiaomi")) failed = true;
    }
  };
  std::thread t1(read, std::ref(*r1)), t2(read, std::ref(*r2));
  for (int i = 0; i < 10; ++i)
    write_log(l.path, {record(kT0 + kDay + 5 * kHour, "127.0.0.2", "n" + std::to_string(i) + ".newvendor.example")});
  t1.join();
  t2.join();
  CHECK(!failed);
  for (ReportReader* r : {r1.get(), r2.get()}) {
    const DeviceReport report = r->device(l.phone, kT0, kForever, error);
    const CompanyUsage* c = find(report.companies, "site:newvendor.example");
    REQUIRE(c);
    CHECK(c->names.size() == 10);
  }
  // A reader over another map keeps its own: it would attribute otherwise.
  std::vector<std::string> errors;
  auto other = ReportReader::open(l.path, CompanyMap::with_overrides("", errors), error, shared);
  REQUIRE(other);
  CHECK(find(other->device(l.phone, kT0, kForever, error).companies, "xiaomi"));
}

TEST_CASE("the overview counts a device for the days it asked, whichever way it reads them", "[report]") {
  hush::test::TempDir dir;
  std::string path = dir.file("hush.db");
  // Three days: the phone asks vendor-one on days one and three, the TV on
  // day two, the plug on day one only (and vendor-two on day three).
  write_log(path, {record(kT0 + kHour, "127.0.0.2", "a.vendor-one.com"),
                   record(kT0 + 2 * kDay + kHour, "127.0.0.2", "a.vendor-one.com"),
                   record(kT0 + kDay + kHour, "127.0.0.3", "b.vendor-one.com"),
                   record(kT0 + kDay + 2 * kHour, "127.0.0.3", "b.vendor-one.com", Status::Blocked),
                   record(kT0 + 2 * kHour, "127.0.0.4", "c.vendor-one.com"),
                   record(kT0 + 2 * kDay + 2 * kHour, "127.0.0.4", "x.vendor-two.com")});
  std::string error;
  auto r = ReportReader::open(path, CompanyMap::builtin(), error);
  REQUIRE(r);
  // Day two alone: it ends before the log's last day, so each device's rows
  // are read; the phone asked before and after, not on day two.
  auto day2 = r->overview(kT0 + kDay, kT0 + 2 * kDay, error);
  REQUIRE(error.empty());
  REQUIRE(day2.size() == 1);
  CHECK(day2[0].key == "site:vendor-one.com");
  CHECK(day2[0].devices == 1);
  CHECK(day2[0].queries == 2);
  CHECK(day2[0].blocked == 1);
  CHECK(day2[0].first_seen_us == kT0 + kDay + kHour);
  // From day two on (to the newest day): the plug's last vendor-one query
  // was on day one.
  auto from2 = r->overview(kT0 + kDay, kForever, error);
  REQUIRE(from2.size() == 2);
  CHECK(from2[0].key == "site:vendor-one.com");
  CHECK(from2[0].devices == 2);
  CHECK(from2[0].queries == 3);
  CHECK(from2[0].names.size() == 2);  // a. and b.; c. was asked on day one only
  CHECK(from2[1].key == "site:vendor-two.com");
  CHECK(from2[1].devices == 1);
  // Everything: the log's first day counts the plug.
  auto all = r->overview(kT0, kForever, error);
  REQUIRE(all.size() == 2);
  CHECK(all[0].devices == 3);
  CHECK(all[0].queries == 5);
  CHECK(all[0].first_seen_us == kT0 + kHour);
  CHECK(all[0].last_seen_us == kT0 + 2 * kDay + kHour);
  CHECK(r->overview(kT0, kT0 + kDay, error)[0].devices == 2);  // day one alone
}

TEST_CASE("a company with many names and one with few: devices, series and first contacts", "[report]") {
  hush::test::TempDir dir;
  std::string path = dir.file("hush.db");
  // bigvendor.com has 301 names: the phone asks 300 of them on days one and
  // two and a new one on day two; the TV asks 100 on day two. One name of
  // smallvendor.com on both days from the phone, on day two from the TV,
  // and a second one from the phone on day two.
  std::vector<Record> rows;
  for (int i = 0; i < 300; ++i) {
    std::string name = "n" + std::to_string(i) + ".bigvendor.com";
    rows.push_back(record(kT0 + kHour + i * 1000000, "127.0.0.2", name));
    rows.push_back(
        record(kT0 + kDay + kHour + i * 1000000, "127.0.0.2", name, i % 10 ? Status::Forwarded : Status::Blocked));
    if (i < 100)
      rows.push_back(
          record(kT0 + kDay + 3 * kHour + i * 1000000, "127.0.0.3", name, i % 20 ? Status::Forwarded : Status::Blocked));
  }
  rows.push_back(record(kT0 + kDay + 2 * kHour, "127.0.0.2", "n300.bigvendor.com"));
  for (int64_t t : {kT0 + 4 * kHour, kT0 + 5 * kHour, kT0 + kDay + 4 * kHour})
    rows.push_back(record(t, "127.0.0.2", "one.smallvendor.com"));
  rows.push_back(record(kT0 + kDay + 5 * kHour, "127.0.0.3", "one.smallvendor.com"));
  rows.push_back(record(kT0 + kDay + 6 * kHour, "127.0.0.2", "two.smallvendor.com"));
  write_log(path, rows);
  std::string error;
  auto r = ReportReader::open(path, CompanyMap::builtin(), error);
  REQUIRE(r);
  const int64_t phone = device_of(*r, "127.0.0.2"), tv = device_of(*r, "127.0.0.3");

  CompanyDevices big = r->company("site:bigvendor.com", kT0, kForever, error);
  REQUIRE(error.empty());
  REQUIRE(big.devices.size() == 2);
  CHECK(big.devices[0].device_id == phone);
  CHECK(big.devices[0].queries == 601);
  CHECK(big.devices[0].blocked == 30);
  CHECK(big.devices[0].names.size() == 301);
  CHECK(big.devices[0].first_seen_us == kT0 + kHour);
  CHECK(big.devices[0].last_seen_us == kT0 + kDay + 2 * kHour);  // n300
  const NameUsage& n0 = big.devices[0].names[0];  // two queries, first by name
  CHECK(n0.name == "n0.bigvendor.com");
  CHECK(n0.queries == 2);
  CHECK(n0.blocked == 1);
  CHECK(n0.first_seen_us == kT0 + kHour);
  CHECK(n0.last_seen_us == kT0 + kDay + kHour);
  CHECK(big.devices[1].device_id == tv);
  CHECK(big.devices[1].queries == 100);
  CHECK(big.devices[1].blocked == 5);
  CHECK(big.devices[1].first_seen_us == kT0 + kDay + 3 * kHour);
  CompanyDevices big_day1 = r->company("site:bigvendor.com", kT0, kT0 + kDay, error);
  REQUIRE(big_day1.devices.size() == 1);
  CHECK(big_day1.devices[0].queries == 300);
  CHECK(big_day1.devices[0].last_seen_us == kT0 + kDay + 2 * kHour);  // all time

  CompanyDevices small = r->company("site:smallvendor.com", kT0, kForever, error);
  REQUIRE(small.devices.size() == 2);
  CHECK(small.devices[0].queries == 4);
  CHECK(small.devices[0].names.size() == 2);
  CHECK(small.devices[1].queries == 1);
  CHECK(r->company("site:smallvendor.com", kT0 + kDay, kForever, error).devices[0].queries == 2);

  for (auto [key, day1, day2] :
       {std::tuple{"site:smallvendor.com", 2, 3}, std::tuple{"site:bigvendor.com", 300, 401}}) {
    INFO(key);
    auto all = r->series(key, std::nullopt, kT0, kForever, Step::Day, error);
    REQUIRE(all.size() == 2);
    CHECK(all[0].start_us == kT0);
    CHECK(all[0].queries == day1);
    CHECK(all[1].queries == day2);
  }
  auto tv_days = r->series("site:bigvendor.com", tv, kT0, kForever, Step::Day, error);
  REQUIRE(tv_days.size() == 1);
  CHECK(tv_days[0].start_us == kT0 + kDay);
  CHECK(tv_days[0].queries == 100);

  // Day two: the TV meets both companies; the phone only new names.
  auto fresh = r->new_contacts(std::nullopt, kT0 + kDay, 1000, error);
  REQUIRE(error.empty());
  std::vector<std::string> companies;
  size_t names = 0;
  for (const NewContact& n : fresh) {
    if (n.kind == NewContact::Kind::Company) companies.push_back(n.device + " " + n.company_key + " " + n.name);
    else ++names;
  }
  std::sort(companies.begin(), companies.end());
  CHECK(companies == std::vector<std::string>{"127.0.0.3 site:bigvendor.com n0.bigvendor.com",
                                              "127.0.0.3 site:smallvendor.com one.smallvendor.com"});
  CHECK(names == 103);  // the TV's 101, the phone's n300 and two.smallvendor
}

#include <catch2/catch.hpp>

#include <CLI/CLI.hpp>

#include <map>
#include <set>
#include <tuple>
#include <sstream>

#include "app/cli_log.hpp"
#include "clients/groups.hpp"
#include "helpers.hpp"
#include "querylog/reader.hpp"
#include "querylog/store.hpp"

using namespace hush;
using namespace hush::querylog;
using namespace hush::test;

namespace {
// Three devices over two days: a phone with a DHCP name on two addresses,
// a TV, and an unnamed laptop.
struct Log {
  TempDir dir;
  std::string path = dir.file("hush.db");
  std::unique_ptr<Reader> reader;
  sqlite::Error err;

  Log() {
    Options opt;
    opt.path = path;
    Store store(opt);
    REQUIRE(store.is_open() == false);
    store.open(kT0);
    REQUIRE(store.is_open());
    clients::Inputs in;
    in.leases = {{"192.168.1.20", "3c:22:fb:12:34:56", "annas-phone", 0}};
    in.neighbours = {{"2001:db8::20", "3c:22:fb:12:34:56"}};
    in.hosts = {{"192.168.1.77", "tv"}};
    clients::Directory dir(in, kT0 / 1000000);
    std::vector<Record> rows;
    for (int i = 0; i < 30; ++i)  // phone: 30 over the first hour, a third blocked
      rows.push_back(record(kT0 + i * 2 * kMinute, i % 2 ? "192.168.1.20" : "2001:db8::20",
                            i % 3 == 0 ? "ads.example" : "news" + std::to_string(i % 4) + ".example",
                            i % 3 == 0 ? Status::Blocked : Status::Forwarded, i % 5 == 0 ? 28 : 1));
    for (int i = 0; i < 10; ++i)  // tv: 10 on day two, all to one telemetry name
      rows.push_back(record(kT0 + kDay + i * kMinute, "192.168.1.77", "telemetry.tv.example",
                            i < 4 ? Status::Blocked : Status::Cached));
    rows.push_back(record(kT0 + kDay + 5 * kHour, "192.168.1.99", "laptop-only.example"));
    REQUIRE(!store.write(rows, dir));
    reader = Reader::open(path, true, err);
    REQUIRE(reader);
  }
  int64_t device(const std::string& who) {
    auto ids = reader->find_devices(who, err);
    REQUIRE(ids.size() == 1);
    return ids[0];
  }
};
}  // namespace

TEST_CASE("devices are found by name, MAC or any of their addresses") {
  Log l;
  int64_t phone = l.device("annas-phone");
  CHECK(l.device("ANNAS-PHONE") == phone);
  CHECK(l.device("3c:22:fb:12:34:56") == phone);
  CHECK(l.device("2001:db8::20") == phone);
  CHECK(l.device("192.168.1.20") == phone);
  CHECK(l.device("tv") != phone);
  CHECK(l.reader->find_devices("nobody", l.err).empty());
}

TEST_CASE("query pages: newest first, cursor paging without gaps or repeats") {
  Log l;
  QueryFilter f;
  f.limit = 15;
  std::set<int64_t> seen;
  int pages = 0;
  int64_t previous = kForever;
  for (;;) {
    QueryPage p = l.reader->queries(f, l.err);
    REQUIRE(!l.err);
    ++pages;
    for (const auto& r : p.rows) {
      CHECK(r.id < previous);
      previous = r.id;
      seen.insert(r.id);
    }
    if (!p.next_before_id) break;
    f.before_id = p.next_before_id;
  }
  CHECK(pages == 3);
  CHECK(seen.size() == 41);

  f = {};
  f.limit = 1;
  QueryPage newest = l.reader->queries(f, l.err);
  REQUIRE(newest.rows.size() == 1);
  const LogEntry& e = newest.rows[0];
  CHECK(e.domain == "laptop-only.example");
  CHECK(e.device == "192.168.1.99");
  CHECK(e.upstream == "9.9.9.9:53");
  CHECK(e.answer == "192.0.2.1");
  CHECK(e.latency_us == 1500);
}

TEST_CASE("query filters: client, domain text, status, type, time range, follow") {
  Log l;
  auto ids = [&](QueryFilter f) {
    f.limit = 1000;
    auto p = l.reader->queries(f, l.err);
    REQUIRE(!l.err);
    return p.rows;
  };
  QueryFilter f;
  f.devices = {l.device("annas-phone")};
  CHECK(ids(f).size() == 30);
  f.status = Status::Blocked;
  auto blocked = ids(f);
  CHECK(blocked.size() == 10);
  CHECK(blocked[0].reason == "ads: ||ads.example^");
  f = {};
  f.domain_contains = "NEWS";
  CHECK(ids(f).size() == 20);
  f.qtype = 28;
  for (const auto& r : ids(f)) CHECK(r.qtype == 28);
  CHECK(ids(f).size() == 4);
  // Free search: the name, the device's name, the address or the answer.
  f = {};
  f.text_contains = "NEWS";
  CHECK(ids(f).size() == 20);
  f.text_contains = "Annas-Phone";
  CHECK(ids(f).size() == 30);
  f.text_contains = "168.1.99";
  REQUIRE(ids(f).size() == 1);
  CHECK(ids(f)[0].domain == "laptop-only.example");
  // Every row of the fixture was answered 192.0.2.1 (helpers.hpp).
  f.text_contains = "192.0.2.1";
  CHECK(ids(f).size() == 41);
  f.text_contains = "192.0.2.2";
  CHECK(ids(f).empty());
  f.text_contains = "nowhere-at-all";
  CHECK(ids(f).empty());
  f = {};
  f.since_us = kT0 + kDay;
  f.until_us = kT0 + kDay + 3 * kMinute;  // tv rows at minutes 0, 1, 2
  CHECK(ids(f).size() == 3);
  f = {};
  f.since_us = kT0 + 10 * kMinute + 1;  // phone rows at even minutes from 12 to 58
  f.until_us = kT0 + kHour;
  CHECK(ids(f).size() == 24);
  f = {};
  f.after_id = ids(f).back().id + 5;  // the oldest is last; ascending after the sixth
  auto asc = ids(f);
  REQUIRE(asc.size() == 41 - 6);
  CHECK(asc.front().id < asc.back().id);
}

TEST_CASE("summary, history and top lists") {
  Log l;
  Summary all = l.reader->summary({}, kT0, kForever, l.err);
  CHECK(all.total() == 41);
  CHECK(all.counts[size_t(Status::Blocked)] == 14);
  CHECK(all.counts[size_t(Status::Cached)] == 6);
  CHECK(all.devices == 3);
  CHECK(all.blocked_percent() == Approx(100.0 * 14 / 41));
  Summary tv = l.reader->summary({l.device("tv")}, kT0, kForever, l.err);
  CHECK(tv.total() == 10);

  auto hours = l.reader->history({}, kT0, kT0 + 2 * kDay, Bucket::Hour, l.err);
  REQUIRE(hours.size() == 3);
  CHECK(hours[0].start_us == kT0);
  CHECK(total(hours[0].counts) == 30);
  CHECK(total(hours[2].counts) == 1);
  auto minutes = l.reader->history({l.device("tv")}, kT0, kForever, Bucket::Minute, l.err);
  CHECK(minutes.size() == 10);

  // Within two days: exact, from raw rows.
  auto top = l.reader->top_domains({}, kT0, kT0 + 2 * kDay, 3, false, l.err);
  REQUIRE(top.size() == 3);
  CHECK(top[0].name == "ads.example");
  CHECK(top[0].total == 10);
  CHECK(top[0].blocked == 10);
  CHECK(top[1].name == "telemetry.tv.example");
  auto top_blocked_tv = l.reader->top_domains({l.device("tv")}, kT0, kT0 + 2 * kDay, 5, true, l.err);
  REQUIRE(top_blocked_tv.size() == 1);
  CHECK(top_blocked_tv[0].blocked == 4);
  // Longer ranges count whole days from domain_days; same answer here.
  auto month = l.reader->top_domains({}, kT0 - 20 * kDay, kT0 + 10 * kDay, 3, false, l.err);
  REQUIRE(month.size() == 3);
  CHECK(month[0].name == "ads.example");
  CHECK(month[0].total == 10);

  auto clients = l.reader->top_clients(kT0, kForever, 10, l.err);
  REQUIRE(clients.size() == 3);
  CHECK(clients[0].name == "annas-phone");
  CHECK(clients[0].total == 30);
  CHECK(clients[2].name == "192.168.1.99");
  CHECK(!l.err);
}

TEST_CASE("devices a page at a time: the same order and counts as the whole list, each once") {
  Log l;
  auto all = l.reader->devices(kT0, l.err);
  REQUIRE(all.size() == 3);
  std::vector<int64_t> paged;
  std::optional<DeviceCursor> after;
  int pages = 0;
  do {
    DevicePage page = l.reader->device_page(kT0, 2, after, l.err);
    REQUIRE(!l.err);
    CHECK(page.total == 3);
    CHECK(page.devices.size() <= 2);
    for (const Device& d : page.devices) {
      const Device& whole = all[paged.size()];
      CHECK(d.id == whole.id);
      CHECK(d.name == whole.name);
      CHECK(d.addresses == whole.addresses);
      CHECK(d.queries == whole.queries);
      CHECK(d.blocked == whole.blocked);
      paged.push_back(d.id);
    }
    after = page.next;
  } while (after && ++pages < 10);
  CHECK(paged.size() == 3);
  CHECK_FALSE(l.reader->device_page(kT0, 3, std::nullopt, l.err).next);

  auto one = l.reader->device(all[2].id, kT0, l.err);
  REQUIRE(one);
  CHECK(one->name == "annas-phone");
  CHECK(one->queries == 30);
  CHECK_FALSE(l.reader->device(9999, kT0, l.err));
  CHECK(!l.err);
}

TEST_CASE("devices, renaming, groups and new domains") {
  Log l;
  auto devices = l.reader->devices(kT0, l.err);
  REQUIRE(devices.size() == 3);
  CHECK(devices[0].name == "192.168.1.99");  // most recently seen first
  const Device phone = devices[2];  // a copy: `devices` is read again below
  CHECK(phone.name == "annas-phone");
  CHECK(phone.mac == "3c:22:fb:12:34:56");
  CHECK(phone.addresses.size() == 2);
  CHECK(phone.queries == 30);
  CHECK(phone.blocked == 10);
  CHECK(phone.groups == std::vector<std::string>{"default"});

  CHECK(l.reader->rename_device(phone.id, "Anna's phone", l.err));
  CHECK(l.device("anna's phone") == phone.id);
  // The groups are clients::DeviceGroups', on the same file: rules for a
  // grouped device's every address, and a change seen by another connection.
  auto groups = clients::DeviceGroups::open(l.dir.path(), true, l.err);
  REQUIRE(groups);
  clients::GroupsWatch watch(l.dir.path());
  CHECK(groups->rules(l.err).empty());
  CHECK(groups->set(phone.id, {"kids", "default", "kids"}, l.err));
  CHECK(groups->groups(phone.id, l.err) == std::vector<std::string>{"kids", "default"});
  CHECK_FALSE(groups->set(phone.id, {"Bad Group"}, l.err));
  CHECK(l.err.message.find("group names") != std::string::npos);
  CHECK_FALSE(groups->set(9999, {"kids"}, l.err));
  CHECK(l.err.code == SQLITE_NOTFOUND);
  auto rules = groups->rules(l.err);
  REQUIRE(rules.size() == 2);
  CHECK(rules[0].cidr_or_ip == "192.168.1.20");
  CHECK(rules[1].cidr_or_ip == "2001:db8::20");
  CHECK(rules[1].groups == std::vector<std::string>{"kids", "default"});
  CHECK(watch.changed());
  CHECK_FALSE(watch.changed());
  // A device known by its client ID is one "id:" rule, not its addresses
  // (they may be a NAT router's).
  {
    sqlite::Db db = sqlite::Db::open(l.dir.path() + "/hush.db", SQLITE_OPEN_READWRITE, l.err);
    REQUIRE(db);
    REQUIRE_FALSE(db.exec("INSERT INTO devices(id, key, groups, first_seen, last_seen) "
                          "VALUES(900, 'id:tablet-mia', 'kids', 1, 1);"
                          "INSERT INTO addresses(ip, device_id, first_seen, last_seen) VALUES('192.168.1.1', 900, 1, 1)"));
  }
  rules = groups->rules(l.err);
  REQUIRE(rules.size() == 3);
  CHECK(rules[2].cidr_or_ip == "id:tablet-mia");
  CHECK(rules[2].groups == std::vector<std::string>{"kids"});
  devices = l.reader->devices(kT0, l.err);
  CHECK(devices[2].name == "Anna's phone");
  CHECK(devices[2].discovered_name == "annas-phone");
  CHECK(devices[2].groups == std::vector<std::string>{"kids", "default"});

  auto fresh = l.reader->new_domains(phone.id, kT0 + 5 * kMinute, 10, l.err);
  std::set<std::string> names;
  for (const auto& d : fresh) names.insert(d.domain);
  // ads.example (minute 0), news1 (2) and news2 (4) were first seen earlier.
  CHECK(names == std::set<std::string>{"news3.example", "news0.example"});
  // The count is not the list's length, and stops at its cap.
  l.err = {};
  CHECK(l.reader->new_domains(phone.id, kT0 + 5 * kMinute, 1, l.err).size() == 1);
  CHECK(l.reader->count_new_domains(phone.id, kT0 + 5 * kMinute, 100, l.err) == 2);
  CHECK(l.reader->count_new_domains(phone.id, kT0 + 5 * kMinute, 1, l.err) == 1);
  auto all = l.reader->new_domains(phone.id, kT0, 100, l.err);
  CHECK(all.size() > 2);
  CHECK(l.reader->count_new_domains(phone.id, kT0, 100, l.err) == int64_t(all.size()));
  CHECK_FALSE(l.err);
}

TEST_CASE("CLI commands read the same data") {
  Log l;
  auto run = [&](std::vector<std::string> args, std::string& out, std::string& err) {
    CLI::App app{"hush"};
    auto cmds = add_log_commands(app);
    args.push_back("--data-dir");
    args.push_back(l.dir.path());
    std::vector<const char*> argv = {"hush"};
    for (auto& a : args) argv.push_back(a.c_str());
    std::reverse(argv.begin() + 1, argv.end());  // CLI11 parses a reversed vector
    std::vector<std::string> parse_args(argv.begin() + 1, argv.end());
    app.parse(parse_args);
    std::ostringstream o, e;
    auto rc = run_log_commands(*cmds, o, e);
    out = o.str();
    err = e.str();
    REQUIRE(rc);
    return *rc;
  };
  std::string out, err;
  CHECK(run({"log", "search", "--domain", "telemetry", "--status", "blocked"}, out, err) == 0);
  CHECK(std::count(out.begin(), out.end(), '\n') == 4);
  CHECK(out.find("tv (192.168.1.77)") != std::string::npos);

  CHECK(run({"log", "tail", "--client", "annas-phone", "--blocked", "-n", "3"}, out, err) == 0);
  CHECK(std::count(out.begin(), out.end(), '\n') == 3);

  CHECK(run({"stats", "--since", "100000d"}, out, err) == 0);
  CHECK(out.find("queries   41") != std::string::npos);
  CHECK(out.find("ads.example") != std::string::npos);
  CHECK(out.find("top clients") != std::string::npos);

  CHECK(run({"clients", "rename", "192.168.1.99", "laptop"}, out, err) == 0);
  CHECK(run({"clients", "group", "laptop", "kids,default"}, out, err) == 0);
  CHECK(run({"clients", "--since", "100000d"}, out, err) == 0);
  CHECK(out.find("laptop") != std::string::npos);
  CHECK(out.find("kids,default") != std::string::npos);

  CHECK(run({"stats", "--since", "yesterday"}, out, err) == 2);
  CHECK(err.find("--since") != std::string::npos);
  CHECK(run({"log", "search", "--client", "nobody"}, out, err) == 1);
  CHECK(run({"clients", "group", "laptop", "Not OK"}, out, err) == 2);

  CLI::App app{"hush"};
  auto cmds = add_log_commands(app);
  app.parse(std::vector<std::string>{l.dir.file("missing"), "--data-dir", "stats"});
  CHECK(log_command_chosen(*cmds));
  std::ostringstream o, e;
  CHECK(run_log_commands(*cmds, o, e) == 1);
  CHECK(e.str().find("no query log") != std::string::npos);

  // Without --data-dir, the configured directory is used.
  CLI::App app2{"hush"};
  auto cmds2 = add_log_commands(app2);
  app2.parse(std::vector<std::string>{"clients"});
  set_configured_data_dir(*cmds2, l.dir.path());
  std::ostringstream o2, e2;
  CHECK(run_log_commands(*cmds2, o2, e2) == 0);
  CHECK(o2.str().find("annas-phone") != std::string::npos);

  CLI::App app3{"hush"};
  auto cmds3 = add_log_commands(app3);
  app3.add_subcommand("version");
  app3.parse(std::vector<std::string>{"version"});
  CHECK_FALSE(log_command_chosen(*cmds3));
  CHECK_FALSE(run_log_commands(*cmds3, o2, e2));
}

TEST_CASE("durations") {
  CHECK(parse_duration("90s") == 90 * 1000000LL);
  CHECK(parse_duration("24h") == kDay);
  CHECK(parse_duration("7d") == 7 * kDay);
  CHECK_FALSE(parse_duration("7"));
  CHECK_FALSE(parse_duration("h"));
  CHECK_FALSE(parse_duration("1.5h"));
}

TEST_CASE("top lists over days: the shared sums of days that are over give the raw rows' answer, late rows too") {
  TempDir dir;
  Options opt;
  opt.path = dir.file("hush.db");
  Store store(opt);
  store.open(kT0);
  REQUIRE(store.is_open());
  clients::Directory directory(clients::Inputs{}, kT0 / 1000000);
  // What the raw rows say: queries and blocked per name.
  std::map<std::string, std::pair<int64_t, int64_t>> truth;
  auto write = [&](int64_t day, int salt) {
    std::vector<Record> rows;
    for (int i = 0; i < 120; ++i) {
      // Names with counts that tie (ties go by name), spread over devices.
      std::string name = "n" + std::to_string((i * 7 + salt) % 23) + ".example";
      bool blocked = (i + salt) % 4 == 0;
      rows.push_back(record(kT0 + day * kDay + i * kMinute, "10.0.0." + std::to_string(1 + i % 5), name,
                            blocked ? Status::Blocked : Status::Forwarded));
      truth[name].first += 1;
      truth[name].second += blocked;
    }
    REQUIRE(!store.write(rows, directory));
  };
  for (int day = 0; day < 6; ++day) write(day, day);
  auto expected = [&](bool blocked_only, size_t n) {
    std::vector<std::tuple<int64_t, std::string, int64_t, int64_t>> v;
    for (const auto& [name, c] : truth)
      if ((blocked_only ? c.second : c.first) > 0) v.emplace_back(-(blocked_only ? c.second : c.first), name, c.first, c.second);
    std::sort(v.begin(), v.end());
    if (v.size() > n) v.resize(n);
    std::vector<std::string> out;
    for (const auto& [k, name, total, blocked] : v)
      out.push_back(name + " " + std::to_string(total) + " " + std::to_string(blocked));
    return out;
  };
  auto shown = [](const std::vector<Ranked>& v) {
    std::vector<std::string> out;
    for (const Ranked& r : v) out.push_back(r.name + " " + std::to_string(r.total) + " " + std::to_string(r.blocked));
    return out;
  };
  sqlite::Error err;
  auto first = Reader::open(opt.path, false, err);
  auto second = Reader::open(opt.path, false, err);
  REQUIRE(first);
  REQUIRE(second);
  // Every day of the range is over (2026): the first call sums them, later
  // ones (from any reader of the log) take the sums.
  const int64_t since = kT0 - kDay, until = kT0 + 8 * kDay;
  for (Reader* r : {first.get(), second.get(), first.get()})
    for (bool blocked : {false, true})
      for (size_t n : {size_t(1), size_t(5), size_t(40)}) {
        INFO("blocked " << blocked << ", n " << n);
        CHECK(shown(r->top_domains({}, since, until, n, blocked, err)) == expected(blocked, n));
      }
  // Rows written late into a day already summed: the fingerprint moves, the
  // answer follows.
  write(2, 11);
  CHECK(shown(second->top_domains({}, since, until, 40, false, err)) == expected(false, 40));
  CHECK(shown(first->top_domains({}, since, until, 5, true, err)) == expected(true, 5));
  // One device: its own day rows, summed the same way.
  auto one = first->find_devices("10.0.0.1", err);
  REQUIRE(one.size() == 1);
  auto mine = first->top_domains(one, since, until, 3, false, err);
  REQUIRE(!mine.empty());
  CHECK(mine[0].total > 0);
  CHECK(!err);
}

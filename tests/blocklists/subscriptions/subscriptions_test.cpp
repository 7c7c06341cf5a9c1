// The Subscriptions API: state in a real SQLite file, keep-last-good, the
// schedule with jitter and back-off, leases between processes.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <set>
#include <sstream>

#include "helpers.hpp"
#include "hush/blocklists/subscriptions/subscriptions.h"

using namespace subs_test;
namespace subs = hush::blocklists::subs;
using Outcome = subs::UpdateResult::Outcome;

namespace {

struct Fixture {
  ListServer srv;
  TempDir dir;
  int64_t clock = 1'800'000'000;
  subs::Settings settings;
  std::unique_ptr<subs::Subscriptions> s;

  Fixture() {
    settings.connect_timeout_s = 5;
    settings.total_timeout_s = 10;
    s = open();
  }
  std::unique_ptr<subs::Subscriptions> open() {
    std::string error;
    auto r = subs::Subscriptions::open(dir.str(), settings, error, [this] { return clock; });
    INFO(error);
    REQUIRE(r);
    return r;
  }
  subs::Subscription add(const std::string& url, const std::string& name = "") {
    std::string error;
    subs::AddRequest req;
    req.url = url;
    req.name = name;
    auto added = s->add(req, error);
    INFO(error);
    REQUIRE(added);
    return *added;
  }
  // /dyn/<name> serving `text`, with an optional misbehaviour.
  void dyn(const std::string& name, const std::string& text) { write_file(srv.dyn() / name, text); }
  void mode(const std::string& name, const std::string& m) { write_file(srv.dyn() / (name + ".mode"), m); }
};

std::string xiaomi() { return read_file(data_dir() + "/xiaomi-adblock.txt"); }

// The first `keep` rule lines of a list, with its header.
std::string first_rules(const std::string& text, size_t keep) {
  std::istringstream in(text);
  std::string line, out;
  size_t rules = 0;
  while (std::getline(in, line)) {
    bool rule = !line.empty() && line[0] != '!' && line[0] != '[' && line[0] != '#';
    if (rule && rules++ >= keep) continue;
    out += line + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("subscriptions: add, download, list, remove", "[subscriptions]") {
  Fixture f;
  int64_t g0 = f.s->generation();
  auto added = f.add(f.srv.url("/lists/xiaomi-adblock.txt"));
  CHECK(added.name == "xiaomi-adblock");
  CHECK_FALSE(added.has_copy);
  CHECK(subs::subscribed_lists(f.dir.str()).empty());  // nothing to load before the download

  auto r = f.s->update("xiaomi-adblock");
  REQUIRE(r.outcome == Outcome::Updated);
  CHECK(r.entries == 355);  // the list's header says "Number of entries: 355"
  auto sub = f.s->get("xiaomi-adblock");
  REQUIRE(sub);
  CHECK(sub->has_copy);
  CHECK(sub->entries == 355);
  CHECK(sub->invalid == 0);
  CHECK(sub->last_error.empty());
  CHECK(sub->last_success == f.clock);
  CHECK(!sub->etag.empty());
  CHECK(read_file(sub->path) == xiaomi());
  CHECK(f.s->generation() > g0);
  auto lists = subs::subscribed_lists(f.dir.str());
  REQUIRE(lists.size() == 1);
  CHECK(lists[0].name == "xiaomi-adblock");
  CHECK(lists[0].path == f.dir.str() + "/lists/xiaomi-adblock.txt");

  // Survives a restart: a new connection to the same file sees the same state.
  f.s.reset();
  f.s = f.open();
  auto again = f.s->get("xiaomi-adblock");
  REQUIRE(again);
  CHECK(again->entries == 355);
  CHECK(again->etag == sub->etag);

  std::string error;
  int64_t g1 = f.s->generation();
  REQUIRE(f.s->remove("xiaomi-adblock", error));
  CHECK_FALSE(fs::exists(sub->path));
  CHECK(f.s->list().empty());
  CHECK(f.s->generation() > g1);
  CHECK(subs::subscribed_lists(f.dir.str()).empty());
  CHECK_FALSE(f.s->remove("xiaomi-adblock", error));
  CHECK(error.find("no list named") != std::string::npos);
}

TEST_CASE("subscriptions: a 304 and identical bytes cost no re-parse and no rebuild", "[subscriptions]") {
  Fixture f;
  f.add(f.srv.url("/lists/xiaomi-adblock.txt"), "x");
  REQUIRE(f.s->update("x").outcome == Outcome::Updated);
  auto before = f.s->get("x");
  int64_t g = f.s->generation();
  auto mtime = fs::last_write_time(before->path);
  f.clock += 100;
  auto r = f.s->update("x");
  CHECK(r.outcome == Outcome::NotModified);
  CHECK(r.entries == 355);
  CHECK(f.s->generation() == g);
  CHECK(fs::last_write_time(before->path) == mtime);
  CHECK(f.srv.log().find("/lists/xiaomi-adblock.txt 304 " + before->etag) != std::string::npos);
  CHECK(f.s->get("x")->last_success == f.clock);

  // A host without validators: the same bytes again are recognised by hash.
  f.add(f.srv.url("/noetag/xiaomi-adblock.txt"), "y");
  REQUIRE(f.s->update("y").outcome == Outcome::Updated);
  g = f.s->generation();
  CHECK(f.s->update("y").outcome == Outcome::Unchanged);
  CHECK(f.s->generation() == g);
}

TEST_CASE("subscriptions: a bad download keeps the last good copy", "[subscriptions]") {
  struct Case {
    const char* mode;
    const char* error;
  };
  // Each case: a good version first, then the host misbehaves.
  auto c = GENERATE(Case{"status:404", "HTTP 404"}, Case{"status:500", "HTTP 500"},
                    Case{"html", "HTML page"}, Case{"binary", "binary file"},
                    Case{"truncated", "closed before the whole list"}, Case{"slow", "timed out"},
                    Case{"bigstream:655360", "larger than the limit"}, Case{"big:655360", "larger than the limit"},
                    Case{"loop", "redirects"}, Case{"shrink", "shrank from 355 to 17 rules"},
                    Case{"empty", "no rules"});
  INFO(c.mode);
  Fixture f;
  f.settings.max_bytes = 64 * 1024;  // the list is 10 KiB; the big ones are 640 KiB
  f.settings.total_timeout_s = 1;    // the slow body takes minutes
  f.s->set_settings(f.settings);
  f.dyn("x.txt", xiaomi());
  f.add(f.srv.url("/dyn/x.txt"), "x");
  REQUIRE(f.s->update("x").outcome == Outcome::Updated);
  auto good = f.s->get("x");
  int64_t g = f.s->generation();

  if (std::string(c.mode) == "shrink")
    f.dyn("x.txt", first_rules(xiaomi(), 17));  // 95 % fewer rules
  else if (std::string(c.mode) == "empty")
    f.dyn("x.txt", "# nothing here any more\n");
  else
    f.mode("x.txt", c.mode);
  f.clock += 86400;
  auto r = f.s->update("x");
  CHECK(r.outcome == Outcome::Failed);
  CHECK(r.error.find(c.error) != std::string::npos);
  CHECK(r.entries == 355);

  auto now = f.s->get("x");
  REQUIRE(now);
  CHECK(now->has_copy);
  CHECK(read_file(now->path) == xiaomi());  // the old copy stays in force
  CHECK(now->entries == 355);
  CHECK(now->last_error == r.error);
  CHECK(now->failures == 1);
  CHECK(now->last_success == good->last_success);
  CHECK(now->last_attempt == f.clock);
  CHECK(f.s->generation() == g);  // nothing to rebuild
  REQUIRE(subs::subscribed_lists(f.dir.str()).size() == 1);
  // Leftover temporary files would pile up over months.
  size_t files = 0;
  for (auto& e : fs::directory_iterator(f.dir.path() / "lists")) files += e.is_regular_file();
  CHECK(files == 1);
}

TEST_CASE("subscriptions: gzip, redirects and file:// update the copy", "[subscriptions]") {
  Fixture f;
  f.add(f.srv.url("/gzip/xiaomi-adblock.txt"), "gz");
  auto r = f.s->update("gz");
  REQUIRE(r.outcome == Outcome::Updated);
  CHECK(read_file(f.s->get("gz")->path) == xiaomi());
  f.add(f.srv.url("/redirect/2/lists/samsung-adblock.txt"), "redir");
  REQUIRE(f.s->update("redir").outcome == Outcome::Updated);
  CHECK(f.s->get("redir")->entries > 150);
  f.add("file://" + data_dir() + "/windowsspyblocker-spy.txt", "spy");
  REQUIRE(f.s->update("spy").outcome == Outcome::Updated);
  CHECK(f.s->get("spy")->entries > 300);
  CHECK(subs::subscribed_lists(f.dir.str()).size() == 3);
}

TEST_CASE("subscriptions: a shrink within the limit and a new version are taken", "[subscriptions]") {
  Fixture f;
  f.dyn("x.txt", xiaomi());
  f.add(f.srv.url("/dyn/x.txt"), "x");
  REQUIRE(f.s->update("x").outcome == Outcome::Updated);
  f.dyn("x.txt", first_rules(xiaomi(), 100));  // 72 % fewer: under the 90 % limit
  auto r = f.s->update("x");
  REQUIRE(r.outcome == Outcome::Updated);
  CHECK(r.entries == 100);
  CHECK(f.s->get("x")->entries == 100);
}

TEST_CASE("subscriptions: schedule with jitter, back-off after failures", "[subscriptions]") {
  Fixture f;
  f.dyn("x.txt", xiaomi());
  f.add(f.srv.url("/dyn/x.txt"), "x");
  CHECK(f.s->get("x")->next_update == f.clock);  // due at once
  REQUIRE(f.s->update("x").outcome == Outcome::Updated);

  // After a good update: 24 h +- 10 %, not the same second every time.
  std::set<int64_t> delays;
  for (int i = 0; i < 12; ++i) {
    f.clock += 10;
    REQUIRE(f.s->update("x").outcome == Outcome::NotModified);
    int64_t delay = f.s->get("x")->next_update - f.clock;
    CHECK(delay >= 86400 * 9 / 10);
    CHECK(delay <= 86400 * 11 / 10);
    delays.insert(delay);
  }
  CHECK(delays.size() > 6);
  CHECK(f.s->seconds_until_due() > 0);
  CHECK(f.s->update_due().empty());  // nothing due yet

  // Failures: 5 min, 10, 20, ... doubling, never beyond the normal interval.
  f.mode("x.txt", "status:500");
  int64_t expect = 300;
  for (int i = 1; i <= 12; ++i) {
    f.clock = f.s->get("x")->next_update;  // due now
    auto results = f.s->update_due();
    REQUIRE(results.size() == 1);
    CHECK(results[0].outcome == Outcome::Failed);
    auto sub = f.s->get("x");
    CHECK(sub->failures == i);
    int64_t delay = sub->next_update - f.clock;
    INFO("failure " << i << " delay " << delay << " expected about " << expect);
    CHECK(delay >= expect * 9 / 10);
    CHECK(delay <= expect * 11 / 10 + 1);
    expect = std::min<int64_t>(expect * 2, 86400);
  }
  // Recovery resets the count and the normal interval applies again.
  std::remove((f.srv.dyn() / "x.txt.mode").c_str());
  f.clock = f.s->get("x")->next_update;
  auto ok = f.s->update_due();
  REQUIRE(ok.size() == 1);
  CHECK(ok[0].outcome == Outcome::NotModified);
  CHECK(f.s->get("x")->failures == 0);
  CHECK(f.s->get("x")->last_error.empty());
  CHECK(f.s->get("x")->next_update - f.clock >= 86400 * 9 / 10);
}

TEST_CASE("subscriptions: a per-list interval", "[subscriptions]") {
  Fixture f;
  std::string error;
  subs::AddRequest req;
  req.url = f.srv.url("/lists/samsung-adblock.txt");
  req.interval_s = 6 * 3600;
  req.groups = {"kids", "tv"};
  REQUIRE(f.s->add(req, error));
  REQUIRE(f.s->update("samsung-adblock").outcome == Outcome::Updated);
  auto sub = f.s->get("samsung-adblock");
  CHECK(sub->interval_s == 6 * 3600);
  CHECK(sub->next_update - f.clock <= 6 * 3600 * 11 / 10);
  CHECK(sub->groups == std::vector<std::string>{"kids", "tv"});
  auto lists = subs::subscribed_lists(f.dir.str());
  REQUIRE(lists.size() == 1);
  CHECK(lists[0].groups == std::vector<std::string>{"kids", "tv"});
}

TEST_CASE("subscriptions: add checks URL, name, duplicates and catalog ids", "[subscriptions]") {
  Fixture f;
  std::string error;
  auto try_add = [&](const std::string& url, const std::string& name = "") {
    subs::AddRequest req;
    req.url = url;
    req.name = name;
    error.clear();
    return f.s->add(req, error).has_value();
  };
  CHECK_FALSE(try_add("ftp://example.com/list.txt"));
  CHECK(error.find("not an http") != std::string::npos);
  CHECK_FALSE(try_add("/etc/hosts"));
  CHECK_FALSE(try_add(f.srv.url("/lists/a.txt"), "../evil"));
  CHECK(error.find("list name") != std::string::npos);
  CHECK_FALSE(try_add("catalog:no-such-list"));
  CHECK(error.find("no catalog entry") != std::string::npos);
  REQUIRE(try_add("catalog:hagezi-xiaomi"));
  auto sub = f.s->get("hagezi-xiaomi");
  REQUIRE(sub);
  CHECK(sub->url == "https://raw.githubusercontent.com/hagezi/dns-blocklists/main/adblock/native.xiaomi.txt");
  CHECK(sub->catalog_id == "hagezi-xiaomi");
  CHECK_FALSE(try_add("catalog:hagezi-xiaomi"));
  CHECK(error.find("exists already") != std::string::npos);
  CHECK_FALSE(try_add(sub->url, "other"));
  CHECK(error.find("subscribed already") != std::string::npos);
  REQUIRE(try_add("https://big.example/lists/native.tv-onlydomains.txt?x=1"));
  auto only = f.s->get("native.tv-onlydomains");
  REQUIRE(only);
  CHECK(only->subdomains);  // "onlydomains": each name and its subdomains
  REQUIRE(try_add("https://small.oisd.nl/"));
  CHECK(f.s->get("small.oisd.nl"));
}

TEST_CASE("subscriptions: one download of a list at a time, across processes", "[subscriptions]") {
  Fixture f;
  auto other = f.open();  // a second connection, as the CLI next to the server
  f.add(f.srv.url("/lists/xiaomi-adblock.txt"), "x");  // holds the lease: it downloads next
  auto busy = other->update("x");
  CHECK(busy.outcome == Outcome::Busy);
  CHECK(other->update_due().empty());  // due, but leased to the first
  REQUIRE(f.s->update("x").outcome == Outcome::Updated);
  CHECK(other->update("x").outcome == Outcome::NotModified);  // released

  // A lease held by a process that died runs out.
  std::string error;
  subs::AddRequest req;
  req.url = f.srv.url("/lists/samsung-adblock.txt");
  REQUIRE(f.s->add(req, error));
  CHECK(other->update("samsung-adblock").outcome == Outcome::Busy);
  f.clock += f.settings.total_timeout_s + 61;
  CHECK(other->update("samsung-adblock").outcome == Outcome::Updated);
}

TEST_CASE("subscriptions: own tables, and PRAGMA user_version left to the query log", "[subscriptions]") {
  Fixture f;
  f.add(f.srv.url("/lists/xiaomi-adblock.txt"), "x");
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((f.dir.str() + "/hush.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
  };
  CHECK(scalar("PRAGMA user_version") == 0);
  CHECK(scalar("PRAGMA application_id") == 0);
  CHECK(scalar("SELECT count(*) FROM sqlite_schema WHERE tbl_name NOT LIKE 'subscription%'") == 0);
  CHECK(scalar("SELECT value FROM subscription_meta WHERE key = 'schema_version'") == 1);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))) == "wal");
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST_CASE("fetch_to_file: a URL list keeps its last good copy", "[subscriptions]") {
  ListServer srv;
  TempDir d;
  subs::Settings s;
  s.total_timeout_s = 10;
  auto dest = (d.path() / "url-lists" / "copy.txt").string();
  write_file(srv.dyn() / "l.txt", xiaomi());
  CHECK(subs::fetch_to_file(srv.url("/dyn/l.txt"), dest, s) == "");
  CHECK(read_file(dest) == xiaomi());
  write_file(srv.dyn() / "l.txt.mode", "html");
  CHECK(subs::fetch_to_file(srv.url("/dyn/l.txt"), dest, s).find("HTML") != std::string::npos);
  CHECK(read_file(dest) == xiaomi());
  std::remove((srv.dyn() / "l.txt.mode").c_str());
  write_file(srv.dyn() / "l.txt", first_rules(xiaomi(), 10));
  CHECK(subs::fetch_to_file(srv.url("/dyn/l.txt"), dest, s).find("shrank") != std::string::npos);
  CHECK(read_file(dest) == xiaomi());
}

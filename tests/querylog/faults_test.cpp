// Faults the query log must survive without stopping DNS: damaged or foreign
// files, storage that refuses writes, and being killed mid-batch.
//
// "Read-only" is tested without chmod, which does not stop root (CI runs as
// root): an unopenable path under /proc, and a file-size limit
// (RLIMIT_FSIZE, with SIGXFSZ ignored) in a forked child, which makes every
// write past the limit fail with EFBIG even for root, as a full disk would.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "helpers.hpp"
#include "querylog/queries_table.hpp"
#include "querylog/writer.hpp"

using namespace hush;
using namespace hush::querylog;
using namespace hush::test;

namespace {

std::vector<std::string> moved_files(const TempDir& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    if (e.path().filename().string().rfind("hush.db.bad-", 0) == 0 &&
        e.path().string().find("-wal") == std::string::npos && e.path().string().find("-shm") == std::string::npos)
      out.push_back(e.path().string());
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Event event_at(int64_t t, const std::string& name, const sockaddr_in& client) {
  Event e;
  e.time_us = t;
  e.client = reinterpret_cast<const sockaddr*>(&client);
  e.name = name;
  e.qtype = 1;
  return e;
}

sockaddr_in client_addr() {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "192.168.1.20", &a.sin_addr);
  return a;
}

// Runs `body` in a forked child that reports "key value" lines through a pipe.
std::map<std::string, int64_t> in_child(const std::function<void(std::ostream&)>& body) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    std::ostringstream report;
    body(report);
    std::string s = report.str();
    ssize_t ignored = write(fds[1], s.data(), s.size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  std::map<std::string, int64_t> out;
  std::istringstream lines(text);
  std::string key;
  int64_t value;
  while (lines >> key >> value) out[key] = value;
  return out;
}

}  // namespace

TEST_CASE("a file that is not a database is moved aside, never deleted") {
  TempDir dir;
  const std::string path = dir.file("hush.db");
  const std::string junk(10000, 'x');
  { std::ofstream(path) << junk; }
  OpenResult r = open_for_writing(path, kT0);
  REQUIRE(r.db);
  CHECK(r.why_moved.find("not a database") != std::string::npos);
  auto moved = moved_files(dir);
  REQUIRE(moved.size() == 1);
  CHECK(moved[0] == r.moved_aside);
  CHECK(moved[0] == path + ".bad-20260101T000000");
  CHECK(read_all(moved[0]) == junk);
  CHECK(r.db.scalar("PRAGMA user_version") == kSchemaVersion);
}

TEST_CASE("another application's database and a newer hush's are moved aside") {
  TempDir dir;
  const std::string path = dir.file("hush.db");
  SECTION("foreign") {
    sqlite::Error e;
    auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, e);
    REQUIRE(!db.exec("CREATE TABLE photos(id INTEGER PRIMARY KEY); INSERT INTO photos VALUES(1);"));
    db.close();
    OpenResult r = open_for_writing(path, kT0);
    REQUIRE(r.db);
    CHECK(r.why_moved == "it belongs to another application");
    auto old = peek(r.moved_aside);
    CHECK(count(old, "SELECT count(*) FROM photos") == 1);
  }
  SECTION("newer schema") {
    { OpenResult first = open_for_writing(path, kT0); REQUIRE(first.db); REQUIRE(!first.db.exec("PRAGMA user_version=99")); }
    OpenResult r = open_for_writing(path, kT0 + 1000000);
    REQUIRE(r.db);
    CHECK(r.why_moved.find("newer hush") != std::string::npos);
    CHECK(r.moved_aside == path + ".bad-20260101T000001");
  }
  SECTION("the current schema is kept as it is") {
    { OpenResult first = open_for_writing(path, kT0); REQUIRE(first.db); REQUIRE(!first.db.exec("INSERT INTO strings(text) VALUES('kept')")); }
    OpenResult r = open_for_writing(path, kT0);
    REQUIRE(r.db);
    CHECK(r.moved_aside.empty());
    CHECK(r.db.scalar("SELECT count(*) FROM strings WHERE text='kept'") == 1);
  }
}

TEST_CASE("damage found while writing: the file is moved aside and logging goes on") {
  TempDir dir;
  Options opt;
  opt.path = dir.file("hush.db");
  {
    Store s(opt);
    REQUIRE(s.open(kT0).db.get() == nullptr);  // the db moved into the store
    REQUIRE(s.is_open());
    std::vector<Record> rows;
    for (int i = 0; i < 3000; ++i) rows.push_back(record(kT0 + i, "192.168.1.10", "d" + std::to_string(i) + ".test"));
    REQUIRE(!s.write(rows, clients::Directory()));
  }
  {
    // Page 1 (the schema) stays readable so opening succeeds; every other
    // page becomes garbage.
    std::fstream f(opt.path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0, std::ios::end);
    size_t size = size_t(f.tellp());
    REQUIRE(size > 3 * 4096);
    f.seekp(4096);
    std::string junk(size - 4096, '\xa5');
    f.write(junk.data(), long(junk.size()));
  }
  LogQueue queue(1, 64);
  std::vector<std::string> messages;
  WriterHooks hooks;
  hooks.message = [&](log::Level, const std::string& m) { messages.push_back(m); };
  Writer w(opt, queue, hooks);
  sockaddr_in a = client_addr();
  REQUIRE(queue.producer(0).log(event_at(kT0 + kMinute, "lost.test", a)));
  w.step(kT0 + kMinute);
  REQUIRE(moved_files(dir).size() == 1);
  REQUIRE(!messages.empty());
  CHECK(messages.back().find("damaged") != std::string::npos);
  CHECK(w.stats().dropped_storage == 1);

  REQUIRE(queue.producer(0).log(event_at(kT0 + 2 * kMinute, "after.test", a)));
  w.step(kT0 + 2 * kMinute);
  auto db = peek(opt.path);
  CHECK(count(db, "SELECT count(*) FROM queries") == 1);
  CHECK(count(db, "SELECT value FROM meta WHERE key = 'dropped'") == 1);
}

TEST_CASE("an unopenable path pauses logging with one message a minute; producers never wait") {
  Options opt;
  opt.path = "/proc/hush-no-such-dir/hush.db";  // fails for root too
  LogQueue queue(1, 16);
  std::vector<std::string> messages;
  WriterHooks hooks;
  hooks.message = [&](log::Level, const std::string& m) { messages.push_back(m); };
  Writer w(opt, queue, hooks);
  sockaddr_in a = client_addr();
  int accepted = 0;
  for (int round = 0; round < 8; ++round) {
    for (int i = 0; i < 10; ++i) accepted += queue.producer(0).log(event_at(kT0, "x.test", a));
    w.step(kT0 + round * 10 * 1000000LL);  // every 10 s: one reopen attempt each
  }
  CHECK(accepted == 80);  // the writer keeps emptying the ring while paused
  CHECK(w.stats().paused);
  CHECK(w.stats().dropped_storage == 80);
  CHECK(w.stats().dropped_queue == 0);
  REQUIRE(messages.size() == 2);  // at 0 s and again at 60 s
  CHECK(messages[0].find("cannot write /proc/hush-no-such-dir/hush.db") != std::string::npos);
  CHECK(messages[0].find("DNS keeps answering") != std::string::npos);
  CHECK(messages[1].find("still cannot write") != std::string::npos);
}

TEST_CASE("a full disk (file-size limit) pauses logging, and it resumes once there is room") {
  TempDir dir;
  auto report = in_child([&](std::ostream& out) {
    signal(SIGXFSZ, SIG_IGN);
    Options opt;
    opt.path = dir.file("hush.db");
    LogQueue queue(1, 4096);
    int messages = 0;
    std::string last;
    WriterHooks hooks;
    hooks.message = [&](log::Level, const std::string& m) { ++messages; last = m; };
    Writer w(opt, queue, hooks);
    sockaddr_in a = client_addr();
    for (int i = 0; i < 10; ++i) queue.producer(0).log(event_at(kT0 + i, "before.test", a));
    w.step(kT0);
    out << "written_before " << w.stats().written << "\n";

    struct stat db{}, wal{};
    stat(opt.path.c_str(), &db);
    stat((opt.path + "-wal").c_str(), &wal);
    rlimit limit{rlim_t(std::max(db.st_size, wal.st_size)), RLIM_INFINITY};
    setrlimit(RLIMIT_FSIZE, &limit);

    std::string big(200, 'b');
    int64_t t = kT0 + 1000000;
    auto started = std::chrono::steady_clock::now();
    int accepted = 0;
    for (int round = 0; round < 5; ++round, t += 5000000) {
      for (int i = 0; i < 1000; ++i)
        accepted += queue.producer(0).log(event_at(t + i, std::to_string(round * 1000 + i) + big + ".test", a));
      w.step(t);
    }
    auto took = std::chrono::steady_clock::now() - started;
    out << "accepted " << accepted << "\n";
    out << "paused " << w.stats().paused << "\n";
    out << "messages_while_full " << messages << "\n";
    out << "message_mentions_pause " << (last.find("logging is paused") != std::string::npos) << "\n";
    out << "dropped_storage " << w.stats().dropped_storage << "\n";
    out << "ms " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << "\n";

    limit.rlim_cur = RLIM_INFINITY;
    setrlimit(RLIMIT_FSIZE, &limit);
    t += 10000000;
    for (int i = 0; i < 10; ++i) queue.producer(0).log(event_at(t + i, "after.test", a));
    w.step(t);
    out << "paused_after " << w.stats().paused << "\n";
    out << "resumed_message " << (last.find("again") != std::string::npos) << "\n";
    out << "written_after " << w.stats().written << "\n";
  });
  CHECK(report["written_before"] == 10);
  CHECK(report["accepted"] == 5000);  // producers were never refused
  CHECK(report["paused"] == 1);
  CHECK(report["messages_while_full"] == 1);
  CHECK(report["message_mentions_pause"] == 1);
  CHECK(report["dropped_storage"] == 5000);
  CHECK(report["paused_after"] == 0);
  CHECK(report["resumed_message"] == 1);
  CHECK(report["written_after"] == 20);
  auto db = peek(dir.file("hush.db"));
  CHECK(count(db, "SELECT count(*) FROM queries") == 20);
  CHECK(count(db, "SELECT value FROM meta WHERE key='dropped'") == 5000);
  CHECK(db.scalar("PRAGMA integrity_check").has_value());
}

TEST_CASE("kill -9 mid-stream loses at most the open batch and never corrupts") {
  TempDir dir;
  const std::string path = dir.file("hush.db");
  for (int round = 0; round < 2; ++round) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      Options opt;
      opt.path = path;
      opt.commit_interval_us = 200000;
      LogQueue queue(1, 4096);
      WriterHooks quiet;  // the test's own retries count as drops; no need to hear about them
      quiet.message = [](log::Level, const std::string&) {};
      Writer w(opt, queue, quiet);
      w.start();
      sockaddr_in a = client_addr();
      for (int i = 0;; ++i) {
        std::string name = "r" + std::to_string(round) + "-" + std::to_string(i) + ".test";
        // Retry instead of dropping, so the stored rows must be a gap-free prefix.
        while (!queue.producer(0).log(event_at(now_us(), name, a))) usleep(200);
        if (i % 100 == 0) usleep(1000);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(round == 0 ? 900 : 1300));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFSIGNALED(status));

    sqlite::Error e;
    auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE, e);
    REQUIRE(db);
    REQUIRE(register_queries_table(db.get()) == SQLITE_OK);
    sqlite::Stmt s = db.prepare("PRAGMA integrity_check", e);
    REQUIRE(s.step() == SQLITE_ROW);
    CHECK(s.text(0) == "ok");
    s.reset();
    std::string prefix = "r" + std::to_string(round) + "-";
    std::string where = " FROM queries q JOIN domains d ON d.id = q.domain_id WHERE d.name LIKE '" + prefix + "%'";
    int64_t rows = count(db, "SELECT count(*)" + where);
    int64_t highest = count(db, "SELECT max(CAST(substr(d.name, " + std::to_string(prefix.size() + 1) +
                                    ") AS INTEGER))" + where);
    INFO("round " << round << ": " << rows << " rows, highest " << highest);
    CHECK(rows > 0);
    CHECK(rows == highest + 1);
    db.close();
    // hush starts again on the same file without moving it aside.
    OpenResult again = open_for_writing(path, now_us());
    CHECK(again.db);
    CHECK(again.moved_aside.empty());
  }
}

// End to end: a running `hush serve` keeps answering while `hush lists add`,
// `rm` and its own scheduled updates change what it blocks, without a restart;
// `--blocklist URL` downloads at start and falls back to the cached copy.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "helpers.hpp"

using namespace subs_test;
using namespace std::chrono_literals;

namespace {

const std::string kHush = HUSH_BINARY;

bool sinkholed(const DnsAnswer& a) { return a.ok && a.rcode == 0 && a.a.size() == 1 && a.a[0] == "0.0.0.0"; }

// Polls `name` until it is (or is not) sinkholed, at most `limit`; on every
// round `steady` (a name blocked all along) must still get the sinkhole.
bool wait_for(uint16_t port, const std::string& name, bool blocked, const std::string& steady,
              std::chrono::milliseconds limit, int& steady_misses) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (!steady.empty() && !sinkholed(query_a(port, steady, 1000ms))) ++steady_misses;
    if (sinkholed(query_a(port, name, 1000ms)) == blocked) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

struct Server {
  uint16_t port = free_udp_tcp_port();
  std::unique_ptr<Child> child;
  Server(const TempDir& data, const fs::path& conf, const fs::path& log, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {kHush, "serve", "--config", conf.string(), "--listen",
                                     "127.0.0.1:" + std::to_string(port), "--data-dir", data.str(), "--threads", "1",
                                     "--http", "", "--user", ""};
    argv.insert(argv.end(), extra.begin(), extra.end());
    child = std::make_unique<Child>(argv, log);
  }
  // Up once it answers anything (a blocked name needs no upstream).
  bool up(const std::string& name) {
    for (int i = 0; i < 100; ++i) {
      if (!child->alive()) return false;
      if (query_a(port, name, 200ms).ok) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
};

}  // namespace

TEST_CASE("serve: subscriptions added, removed and updated while serving", "[serve]") {
  ListServer srv;
  TempDir data, work;
  // Nothing listens on the upstream port: names not blocked fail fast.
  auto conf = work.path() / "hush.toml";
  write_file(conf, "[upstream]\nservers = [\"127.0.0.1:" + std::to_string(free_udp_tcp_port()) +
                       "\"]\ntimeout_ms = 200\n[access]\nrate_limit = 0\n");
  auto log = work.path() / "hush.log";
  const std::string dd = data.str();

  auto add = run({kHush, "lists", "add", srv.url("/lists/xiaomi-adblock.txt"), "--data-dir", dd});
  INFO(add.out);
  REQUIRE(add.code == 0);
  CHECK(add.out.find("xiaomi-adblock: updated, 355 rules") != std::string::npos);

  Server hush(data, conf, log);
  INFO(read_file(log));
  REQUIRE(hush.up("traffic-media.co.uk"));
  CHECK(sinkholed(query_a(hush.port, "traffic-media.co.uk")));   // ||traffic-media.co.uk^
  CHECK(sinkholed(query_a(hush.port, "x.traffic-media.co.uk")));  // and below it
  const std::string steady = "traffic-media.co.uk";
  const std::string samsung = "samsung-com.112.2o7.net";
  REQUIRE(read_file(data_dir() + "/samsung-adblock.txt").find("||" + samsung + "^") != std::string::npos);
  CHECK_FALSE(sinkholed(query_a(hush.port, samsung)));

  int misses = 0;
  SECTION("hush lists add and rm take effect without a restart") {
    auto added = run({kHush, "lists", "add", srv.url("/lists/samsung-adblock.txt"), "--name", "samsung",
                      "--data-dir", dd});
    INFO(added.out);
    REQUIRE(added.code == 0);
    CHECK(wait_for(hush.port, samsung, true, steady, 5000ms, misses));
    auto ls = run({kHush, "lists", "ls", "--data-dir", dd});
    CHECK(ls.out.find("samsung  " + srv.url("/lists/samsung-adblock.txt")) != std::string::npos);
    CHECK(ls.out.find("entries 355, invalid lines 0") != std::string::npos);
    CHECK(ls.out.find("last error -") != std::string::npos);

    auto rm = run({kHush, "lists", "rm", "samsung", "--data-dir", dd});
    REQUIRE(rm.code == 0);
    CHECK(wait_for(hush.port, samsung, false, steady, 5000ms, misses));
  }
  SECTION("the server's own scheduled update, and a failed one keeps the list") {
    write_file(srv.dyn() / "tv.txt", "||first.example^\n");
    auto added = run({kHush, "lists", "add", srv.url("/dyn/tv.txt"), "--name", "tv", "--interval", "1s",
                      "--data-dir", dd});
    INFO(added.out);
    REQUIRE(added.code == 0);
    CHECK(wait_for(hush.port, "first.example", true, steady, 5000ms, misses));
    write_file(srv.dyn() / "tv.txt", "||first.example^\n||second.example^\n");
    // Due after 1 s, noticed on the 2 s tick, downloaded in the background.
    CHECK(wait_for(hush.port, "second.example", true, steady, 6000ms, misses));
    write_file(srv.dyn() / "tv.txt.mode", "status:500");
    std::this_thread::sleep_for(3s);
    CHECK(sinkholed(query_a(hush.port, "second.example")));
    auto ls = run({kHush, "lists", "ls", "--data-dir", dd});
    CHECK(ls.out.find("last error HTTP 500") != std::string::npos);
  }
  CHECK(misses == 0);  // answered all along
  CHECK(hush.child->alive());
  CHECK(hush.child->stop() == 0);
  CHECK(read_file(log).find("subscribed lists changed") != std::string::npos);
}

TEST_CASE("serve: --blocklist URL downloads at start, the cached copy covers a failure", "[serve]") {
  ListServer srv;
  TempDir data, work;
  auto conf = work.path() / "hush.toml";
  write_file(conf, "[upstream]\nservers = [\"127.0.0.1:" + std::to_string(free_udp_tcp_port()) +
                       "\"]\ntimeout_ms = 200\n");
  auto log = work.path() / "hush.log";
  write_file(srv.dyn() / "spy.txt", read_file(data_dir() + "/windowsspyblocker-spy.txt"));
  const std::string name = "a.ads1.msn.com";  // 0.0.0.0 a.ads1.msn.com
  {
    Server hush(data, conf, log, {"--blocklist", srv.url("/dyn/spy.txt")});
    INFO(read_file(log));
    REQUIRE(hush.up(name));
    CHECK(sinkholed(query_a(hush.port, name)));
    CHECK(hush.child->stop() == 0);
  }
  write_file(srv.dyn() / "spy.txt.mode", "status:503");
  {
    Server hush(data, conf, log, {"--blocklist", srv.url("/dyn/spy.txt")});
    INFO(read_file(log));
    REQUIRE(hush.up(name));
    CHECK(sinkholed(query_a(hush.port, name)));
    CHECK(hush.child->stop() == 0);
  }
  CHECK(read_file(log).find("HTTP 503; using the copy from the last good download") != std::string::npos);
  // hush query takes the same URL (and the same cached copy).
  auto q = run({kHush, "query", name, "--data-dir", data.str(), "--blocklist", srv.url("/dyn/spy.txt")});
  CHECK(q.out.find("blocked by spy.txt") != std::string::npos);
}

TEST_CASE("lists CLI: catalog, bad arguments", "[serve]") {
  TempDir data;
  auto cat = run({kHush, "lists", "catalog"});
  CHECK(cat.code == 0);
  CHECK(cat.out.find("hagezi-xiaomi") != std::string::npos);
  CHECK(cat.out.find("https://raw.githubusercontent.com/hagezi/dns-blocklists/main/adblock/native.xiaomi.txt") !=
        std::string::npos);
  auto bad = run({kHush, "lists", "add", "gopher://x", "--data-dir", data.str()});
  CHECK(bad.code == 2);
  CHECK(bad.out.find("not an http") != std::string::npos);
  auto interval = run({kHush, "lists", "add", "https://x.example/l.txt", "--interval", "soon", "--data-dir", data.str()});
  CHECK(interval.code == 2);
  auto rm = run({kHush, "lists", "rm", "nothing", "--data-dir", data.str()});
  CHECK(rm.code == 1);
  CHECK(rm.out.find("no list named 'nothing'") != std::string::npos);
  auto failed = run({kHush, "lists", "add", "http://127.0.0.1:1/l.txt", "--data-dir", data.str()});
  CHECK(failed.code == 1);
  CHECK(failed.out.find("failed") != std::string::npos);
  auto ls = run({kHush, "lists", "ls", "--data-dir", data.str()});
  CHECK(ls.out.find("l  http://127.0.0.1:1/l.txt") != std::string::npos);
  CHECK(ls.out.find("(no local copy yet)") != std::string::npos);
}

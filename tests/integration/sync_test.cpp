// Sync with two real hush instances on loopback: a rule, a list
// subscription, a device group and a local record made on the primary reach
// the replica (dig against the replica proves it), and so do a schedule, a
// timed allow and a list added to the primary's configuration file; with the primary stopped
// the replica answers the same; a change made while it was away arrives
// once it is back; and a write on the replica is refused, pointing to the
// primary.
#include <signal.h>

#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

CommandResult hush_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), hush_binary());
  return run_command(args, 20s);
}

std::string token(const fs::path& data, std::vector<std::string> args) {
  args.insert(args.begin(), {"token", "create"});
  args.insert(args.end(), {"-d", data.string()});
  auto r = hush_cmd(args);
  REQUIRE(r.exit_code() == 0);
  return r.out.substr(0, r.out.find('\n'));
}

std::string short_answer(const Endpoint& ep, const std::string& from, const std::string& name) {
  return dig(ep, {"-b", from, name, "A", "+short"}).out;
}

// The replica's answers to the questions each setting decides.
struct Expect {
  std::string from, name, answer;
};

bool answers_all(const Endpoint& ep, const std::vector<Expect>& want) {
  for (const Expect& e : want)
    if (short_answer(ep, e.from, e.name) != e.answer) return false;
  return true;
}

std::string describe(const Endpoint& ep, const std::vector<Expect>& want) {
  std::string out;
  for (const Expect& e : want) out += e.from + " " + e.name + " -> " + short_answer(ep, e.from, e.name) + "(want " + e.answer + ")\n";
  return out;
}

}  // namespace

TEST_CASE("sync: a replica follows the primary's settings, keeps them while it is away, and refuses writes",
          "[integration][sync]") {
  TempDir dir("hush-it-sync-");
  write_file(dir.path() / "kids.txt", "kids-only.test\n");
  Unbound unbound(dir.path() / "unbound");
  const uint16_t primary_http = pick_free_port(), replica_http = pick_free_port();
  HushOptions po;
  po.upstreams = {unbound.endpoint()};
  po.extra_config = "[http]\nlisten = \"127.0.0.1:" + std::to_string(primary_http) + "\"\n";
  const fs::path pdir = dir.path() / "primary";
  auto primary = std::make_unique<Hush>(pdir, po);
  const fs::path pdata = primary->data_dir();
  const std::string sync_token = token(pdata, {"--scope", "sync"});
  const std::string primary_url = "http://127.0.0.1:" + std::to_string(primary_http);

  HushOptions ro;
  ro.upstreams = {unbound.endpoint()};
  ro.extra_config = "[http]\nlisten = \"127.0.0.1:" + std::to_string(replica_http) + "\"\n[sync]\nprimary = \"" +
                    primary_url + "\"\ntoken = \"" + sync_token + "\"\n";
  Hush replica(dir.path() / "replica", ro);
  const std::string admin = token(pdata, {"admin"});

  // The four kinds of settings, made on the primary as a user would.
  auto rule = run_command({"curl", "-s", "-H", "Authorization: Bearer " + admin, "-H", "Content-Type: application/json",
                           "-d", R"({"kind": "deny", "pattern": "good.tracker.test"})", primary_url + "/api/rules"}, 10s);
  INFO(rule.out << rule.err);
  REQUIRE(rule.out.find("\"id\"") != std::string::npos);
  REQUIRE(hush_cmd({"lists", "add", "file://" + (dir.path() / "kids.txt").string(), "--name", "kids", "--group", "kids",
                    "-d", pdata.string()}).exit_code() == 0);
  dig(primary->v4(), {"-b", "127.0.0.2", "www.test", "A"});  // the device exists once it has asked
  REQUIRE(wait_until([&] { return hush_cmd({"clients", "-d", pdata.string()}).out.find("127.0.0.2") != std::string::npos; },
                     10s, 100ms));
  REQUIRE(hush_cmd({"clients", "group", "127.0.0.2", "default,kids", "-d", pdata.string()}).exit_code() == 0);
  REQUIRE(hush_cmd({"local", "add", "nas.lan", "A", "192.168.1.10", "-d", pdata.string()}).exit_code() == 0);
  // A schedule in its window all day, a timed allow, and a list added to
  // the primary's configuration file (which the primary's feed reads; its
  // [http] listen stays its own, the replica keeps its [http] and [sync]).
  REQUIRE(hush_cmd({"schedule", "add", "--days", "daily", "--from", "00:00", "--to", "24:00", "--block", "cached.test",
                    "-d", pdata.string()}).exit_code() == 0);
  REQUIRE(hush_cmd({"timed", "allow", "mail.test", "--for", "2h", "-d", pdata.string()}).exit_code() == 0);
  write_file(dir.path() / "conf-list.txt", "newly.test\nmail.test\n");
  const std::string conf_list = "\n[[lists]]\nname = \"conf\"\npath = \"" + (dir.path() / "conf-list.txt").string() + "\"\n";
  write_file(primary->config_path(), read_file(primary->config_path()) + conf_list);
  po.extra_config += conf_list;  // a restarted primary's file keeps it

  std::vector<Expect> want = {
      {"127.0.0.1", "good.tracker.test", "0.0.0.0\n"},             // the rule
      {"127.0.0.2", "kids-only.test", "0.0.0.0\n"},                // the list, for the device's group
      {"127.0.0.1", "kids-only.test", std::string(zone::kKidsA) + "\n"},  // not for the default group
      {"127.0.0.1", "nas.lan", "192.168.1.10\n"},                  // the local record
      {"127.0.0.1", "cached.test", "0.0.0.0\n"},                   // the schedule
      {"127.0.0.1", "newly.test", "0.0.0.0\n"},                    // the configuration's [[lists]]
      {"127.0.0.1", "mail.test", std::string(zone::kMailA) + "\n"},  // the timed allow beats that list
  };
  INFO(replica.log());
  if (!wait_until([&] { return answers_all(replica.v4(), want); }, 10s, 100ms)) FAIL(describe(replica.v4(), want));

  auto status = run_command({"curl", "-s", "-H", "Authorization: Bearer " + token(replica.data_dir(), {"reader"}),
                             "http://127.0.0.1:" + std::to_string(replica_http) + "/api/sync/status"}, 10s);
  auto st = nlohmann::json::parse(status.out, nullptr, false);
  INFO(status.out);
  REQUIRE(st.is_object());
  CHECK(st["role"] == "replica");
  CHECK(st["version"].get<uint64_t>() >= 1);
  CHECK(st["last_heard"].get<int64_t>() > 0);
  CHECK(st["needs_restart"] == "");
  // The replica's file: the primary's list, its own listen address and primary.
  const std::string replica_config = read_file(replica.config_path());
  INFO(replica_config);
  CHECK(replica_config.find("conf-list.txt") != std::string::npos);
  CHECK(replica_config.find("127.0.0.1:" + std::to_string(replica_http)) != std::string::npos);
  CHECK(replica_config.find("listen = \"127.0.0.1:" + std::to_string(primary_http)) == std::string::npos);
  CHECK(replica_config.find(primary_url) != std::string::npos);

  // The primary shows the replica: the version it holds and its summary
  // (answers given, sent with the request that follows the next change).
  REQUIRE(hush_cmd({"local", "add", "summary.lan", "A", "192.168.1.50", "-d", pdata.string()}).exit_code() == 0);
  want.push_back({"127.0.0.1", "summary.lan", "192.168.1.50\n"});
  if (!wait_until([&] { return answers_all(replica.v4(), want); }, 10s, 100ms)) FAIL(describe(replica.v4(), want));
  nlohmann::json seen;
  bool listed = wait_until([&] {
    auto r = run_command({"curl", "-s", "-H", "Authorization: Bearer " + admin, primary_url + "/api/sync/status"}, 10s);
    seen = nlohmann::json::parse(r.out, nullptr, false);
    return seen.is_object() && seen["replicas"].is_array() && seen["replicas"].size() == 1 &&
           seen["replicas"][0].value("queries", uint64_t(0)) > 0;
  }, 10s, 200ms);
  INFO(seen.dump());
  CHECK(listed);
  if (listed) CHECK(seen["replicas"][0]["version"] == seen["feed"]["version"]);

  SECTION("a write on the replica is refused, pointing to the primary") {
    const std::string replica_admin = token(replica.data_dir(), {"admin"});
    auto refused = run_command({"curl", "-s", "-w", "\n%{http_code}", "-H", "Authorization: Bearer " + replica_admin,
                                "-H", "Content-Type: application/json", "-d", R"({"kind": "deny", "pattern": "x.test"})",
                                "http://127.0.0.1:" + std::to_string(replica_http) + "/api/rules"}, 10s);
    CHECK(refused.out.find(primary_url) != std::string::npos);
    CHECK(refused.out.ends_with("409"));
    auto cli = hush_cmd({"local", "add", "tv.lan", "A", "192.168.1.20", "-d", replica.data_dir().string()});
    CHECK(cli.exit_code() == 1);
    CHECK(cli.err.find("replica of " + primary_url) != std::string::npos);
    CHECK(read_file(replica.data_dir() / "local.records").find("tv.lan") == std::string::npos);
    // The sync token opens the feed only.
    auto scoped = run_command({"curl", "-s", "-H", "Authorization: Bearer " + sync_token, primary_url + "/api/rules"}, 10s);
    CHECK(scoped.out.find("only follow the sync feed") != std::string::npos);
  }

  SECTION("the primary away: the replica answers the same; back with a change: the replica catches up") {
    kill(primary->pid(), SIGTERM);
    REQUIRE(wait_until([&] { return !primary->running(); }, 10s));
    primary.reset();
    CHECK(answers_all(replica.v4(), want));
    REQUIRE(hush_cmd({"local", "add", "printer.lan", "A", "192.168.1.30", "-d", pdata.string()}).exit_code() == 0);
    primary = std::make_unique<Hush>(pdir, po);
    want.push_back({"127.0.0.1", "printer.lan", "192.168.1.30\n"});
    // Within the replica's back-off (at most 30 s) plus a request.
    if (!wait_until([&] { return answers_all(replica.v4(), want); }, 40s, 200ms)) FAIL(describe(replica.v4(), want));
  }
}

TEST_CASE("sync over HTTPS: a replica trusts the primary's certificate through sync.ca_file", "[integration][sync]") {
  TempDir dir("hush-it-sync-tls-");
  make_certificate(dir.path(), "localhost", "localhost");
  Unbound unbound(dir.path() / "unbound");
  const uint16_t primary_http = pick_free_port();
  HushOptions po;
  po.upstreams = {unbound.endpoint()};
  po.extra_config = "[http]\nlisten = \"127.0.0.1:" + std::to_string(primary_http) + "\"\ntls = true\n[tls]\ncert = \"" +
                    (dir.path() / "cert.pem").string() + "\"\nkey = \"" + (dir.path() / "key.pem").string() + "\"\n";
  Hush primary(dir.path() / "primary", po);
  const std::string primary_url = "https://localhost:" + std::to_string(primary_http);
  REQUIRE(hush_cmd({"local", "add", "nas.lan", "A", "192.168.1.10", "-d", primary.data_dir().string()}).exit_code() == 0);

  HushOptions ro;
  ro.upstreams = {unbound.endpoint()};
  ro.extra_config = "[http]\nlisten = \"127.0.0.1:" + std::to_string(pick_free_port()) + "\"\n[sync]\nprimary = \"" +
                    primary_url + "\"\ntoken = \"" + token(primary.data_dir(), {"--scope", "sync"}) +
                    "\"\nca_file = \"" + (dir.path() / "cert.pem").string() + "\"\n";
  Hush replica(dir.path() / "replica", ro);
  INFO(replica.log());
  CHECK(wait_until([&] { return short_answer(replica.v4(), "127.0.0.1", "nas.lan") == "192.168.1.10\n"; }, 10s, 100ms));
  // The primary's certificate paths and HTTPS switch stay on the primary.
  const std::string replica_config = read_file(replica.config_path());
  CHECK(replica_config.find("key.pem") == std::string::npos);
  CHECK(replica_config.find("tls = true") == std::string::npos);
}

// The phone-home report (issue 10) end to end: a recorded mix of real vendor
// telemetry names (tests/data/report/mix.txt, from HaGeZi's native lists) is
// replayed from two loopback clients through `hush serve` with a real unbound
// upstream; `hush report --json` must give each device its companies with the
// right counts and nothing of the other's. Then `hush report block` for one
// device must make dig from it get the sinkhole answer while the other device
// still gets the real one, and `unblock` must undo it, all without a restart.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;
using json = nlohmann::json;

namespace {

constexpr const char* kPhone = "127.0.0.2";
constexpr const char* kTv = "127.0.0.3";
constexpr const char* kVendorA = "192.0.2.10";  // what unbound answers for every vendor name

struct Replay {
  std::string client, name, company;
  int times = 0;
};

std::vector<Replay> read_mix() {
  std::ifstream in(HUSH_SOURCE_DIR "/tests/data/report/mix.txt");
  REQUIRE(in);
  std::vector<Replay> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f(line);
    Replay r;
    f >> r.client >> r.name >> r.times >> r.company;
    REQUIRE(r.times > 0);
    out.push_back(r);
  }
  return out;
}

// unbound answers every name under each vendor domain of the mix.
std::string vendor_zones(const std::vector<Replay>& mix) {
  std::set<std::string> sites;
  for (const Replay& r : mix) {
    size_t last = r.name.rfind('.');
    size_t before = r.name.rfind('.', last - 1);
    sites.insert(r.name.substr(before + 1));
  }
  std::string conf;
  for (const std::string& s : sites)
    conf += "  local-zone: \"" + s + ".\" redirect\n  local-data: \"" + s + ". 300 IN A " + kVendorA + "\"\n";
  return conf;
}

CommandResult hush_report(const Env& env, std::vector<std::string> args) {
  std::vector<std::string> argv{hush_binary(), "report"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--data-dir", env.hush.data_dir().string()});
  return run_command(argv, 20s);
}

json report_json(const Env& env, std::vector<std::string> args) {
  args.push_back("--json");
  CommandResult r = hush_report(env, args);
  INFO(r.err);
  REQUIRE(r.exit_code() == 0);
  return json::parse(r.out);
}

// The first A answer dig gets for `name` when asking from `source`.
std::string dig_from(const Env& env, const char* source, const std::string& name) {
  return hush_it::dig_from(env.hush, source, name);
}

std::map<std::string, int64_t> queries_by_company(const json& report) {
  std::map<std::string, int64_t> out;
  for (const json& c : report["companies"]) out[c["key"].get<std::string>()] = c["queries"].get<int64_t>();
  return out;
}

}  // namespace

TEST_CASE("report: vendor telemetry from two devices, then block a company for one", "[report]") {
  std::vector<Replay> mix = read_mix();
  HushOptions opts;
  opts.unbound_config = vendor_zones(mix);
  Env env(opts);

  std::map<std::string, std::map<std::string, int64_t>> expected;  // client -> company -> queries
  std::map<std::string, int64_t> totals;
  // Round-robin over the mix, so the two clients' queries interleave.
  for (int round = 0, left = 1; left && round < 100; ++round) {
    left = 0;
    for (const Replay& r : mix) {
      if (round >= r.times) continue;
      ++left;
      Message m = udp_query(env.ep(), r.name, rr::A, {}, 3000ms, r.client);
      INFO(r.name << " from " << r.client << ": " << m.summary() << "\n" << env.logs());
      REQUIRE(m.rcode() == rcode::NOERROR);
      REQUIRE(m.answer.size() == 1);
      REQUIRE(m.answer[0].text == kVendorA);
    }
  }
  for (const Replay& r : mix) {
    expected[r.client][r.company] += r.times;
    totals[r.client] += r.times;
  }

  // The log writer stores batches at most a second apart, and creates the
  // log on its first round (until then the CLI finds none).
  json phone, tv;
  bool complete = wait_until(
      [&] {
        CommandResult p = hush_report(env, {kPhone, "--since", "1d", "--json"});
        CommandResult t = hush_report(env, {kTv, "--since", "1d", "--json"});
        if (p.exit_code() != 0 || t.exit_code() != 0) return false;
        phone = json::parse(p.out);
        tv = json::parse(t.out);
        return phone["queries"] == totals[kPhone] && tv["queries"] == totals[kTv];
      },
      15s, 200ms);
  INFO(phone.dump(1) << "\n" << tv.dump(1));
  REQUIRE(complete);
  CHECK(queries_by_company(phone) == expected[kPhone]);
  CHECK(queries_by_company(tv) == expected[kTv]);
  CHECK(phone["device"]["name"] == kPhone);
  for (const json& c : phone["companies"]) {
    CHECK(c["blocked"] == 0);
    CHECK(c["known"] == true);
    CHECK(c["first_seen_ms"].is_number());
  }
  const json& xiaomi = phone["companies"][0];  // the most queries
  CHECK(xiaomi["key"] == "xiaomi");
  CHECK(xiaomi["company"] == "Xiaomi Inc.");
  CHECK(xiaomi["names"].size() == 10);
  CHECK(xiaomi["names"][0]["name"] == "sdkconfig.ad.xiaomi.com");
  CHECK(xiaomi["names"][0]["queries"] == 5);

  // Across devices: who talks to Xiaomi, and to Microsoft.
  json who = report_json(env, {"--company", "Xiaomi Inc.", "--since", "1d"});
  REQUIRE(who["devices"].size() == 1);
  CHECK(who["devices"][0]["name"] == kPhone);
  CHECK(who["devices"][0]["queries"] == expected[kPhone]["xiaomi"]);
  CHECK(!who["series"].empty());
  json ms = report_json(env, {"--company", "microsoft", "--since", "1d"});
  REQUIRE(ms["devices"].size() == 1);
  CHECK(ms["devices"][0]["name"] == kTv);

  // Every company is new to its device today (127.0.0.1 is the harness's readiness probe).
  json fresh = report_json(env, {"--new", "--since", "1h"});
  std::set<std::string> new_companies;
  for (const json& n : fresh["contacts"]) {
    std::string device = n["device"]["name"];
    if (n["kind"] == "company" && device != "127.0.0.1") new_companies.insert(device + " " + n["key"].get<std::string>());
  }
  std::set<std::string> want;
  for (const auto& [client, companies] : expected)
    for (const auto& [company, n] : companies) want.insert(client + " " + company);
  CHECK(new_companies == want);

  // One command blocks Xiaomi for the phone only, in the running server.
  CommandResult block = hush_report(env, {"block", "xiaomi", "--device", kPhone});
  INFO(block.out << block.err);
  REQUIRE(block.exit_code() == 0);
  CHECK(wait_until([&] { return dig_from(env, kPhone, "sdkconfig.ad.xiaomi.com") == "0.0.0.0"; }, 30s, 200ms));
  CHECK(dig_from(env, kPhone, "tracking.intl.miui.com") == "0.0.0.0");
  CHECK(dig_from(env, kTv, "sdkconfig.ad.xiaomi.com") == kVendorA);
  CHECK(dig_from(env, kPhone, "channelusa.samsung.com") == kVendorA);
  CHECK(wait_until(
      [&] {
        json after = report_json(env, {kPhone, "--since", "1d"});
        return after["companies"][0]["key"] == "xiaomi" && after["companies"][0]["blocked"] >= 2;  // dig may retry
      },
      30s, 200ms));

  CommandResult unblock = hush_report(env, {"unblock", "xiaomi", "--device", kPhone});
  INFO(unblock.out << unblock.err);
  REQUIRE(unblock.exit_code() == 0);
  CHECK(wait_until([&] { return dig_from(env, kPhone, "sdkconfig.ad.xiaomi.com") == kVendorA; }, 30s, 200ms));
  CHECK(env.hush.running());
}

TEST_CASE("report: the CLI's errors name what is wrong", "[report]") {
  Env& env = shared_env();
  udp_query(env.ep(), "www.test", rr::A);
  CommandResult r = hush_report(env, {"block", "no-such-company", "--device", "127.0.0.1"});
  CHECK(r.exit_code() == 2);
  CHECK(r.err.find("no company 'no-such-company'") != std::string::npos);
  r = hush_report(env, {"--since", "soon"});
  CHECK(r.exit_code() == 2);
  CHECK(r.err.find("--since: expected a duration") != std::string::npos);
  r = hush_report(env, {"block", "xiaomi"});
  CHECK(r.exit_code() == 2);
  CHECK(r.err.find("give --device NAME|IP or --group GROUP") != std::string::npos);
  r = hush_report(env, {"subscribe", "google", "--group", "kids"});
  CHECK(r.exit_code() == 1);
  CHECK(r.err.find("the catalog has no list for Google") != std::string::npos);
  r = run_command({hush_binary(), "report", "who", "metrics1.data.hicloud.com"});
  CHECK(r.exit_code() == 0);
  CHECK(r.out.find("Huawei") != std::string::npos);
}

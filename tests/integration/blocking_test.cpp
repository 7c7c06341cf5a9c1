// Blocking (issue 3) against the real upstream: list formats (hosts and
// adblock lines), the sinkhole answer with its Extended DNS Error, --deny /
// --allow / $important, the blocking modes, CNAME inspection (also for cached
// answers), special names, `hush query` and `hush lists check`, SIGHUP reloads
// under load, and groups chosen by the client's source address.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

#include "dns_client.hpp"
#include "fake_upstream.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

// The list most tests use: hosts lines and adblock lines in one file.
constexpr const char* kAdsList =
    "# test blocklist: hosts and adblock lines mixed\n"
    "0.0.0.0 ads.test\n"
    "127.0.0.1 also-ads.test\n"
    "||tracker.test^\n"
    "||cname-target.test^\n"
    "||important.test^$important\n"
    "0.0.0.0 listed-and-denied.test\n";


QueryOpts edns() {
  QueryOpts o;
  o.edns = true;
  return o;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// Checks the default ("null") sinkhole answer for an A query, with EDE 15
// naming `list`.
void check_null_blocked_a(const Endpoint& ep, const std::string& name, const std::string& list) {
  auto m = udp_query(ep, name, rr::A, edns());
  INFO("A " << name << ": " << m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK(m.qname == name);
  REQUIRE(m.answer.size() == 1);
  CHECK(m.answer[0].owner == name);
  CHECK(m.answer[0].type == rr::A);
  CHECK(m.answer[0].text == "0.0.0.0");
  CHECK(m.answer[0].ttl == 60);  // blocking.ttl default
  auto e = ede_of(m);
  CHECK(e.present);
  CHECK(e.code == 15);
  CHECK(e.text == "blocked by " + list);
}

// A forwarded A answer from the zone.
void check_forwarded_a(const Endpoint& ep, const std::string& name, const std::string& ip,
                       const std::string& source = "") {
  auto m = udp_query(ep, name, rr::A, edns(), 3000ms, source);
  INFO("A " << name << (source.empty() ? "" : " from " + source) << ": " << m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK(m.texts(rr::A) == std::vector<std::string>{ip});
  CHECK_FALSE(ede_of(m).present);
}

// SOA rdata text "mname rname serial refresh retry expire minimum" -> fields.
std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string w; v.size() < 64 && in >> w;) v.push_back(w);
  return v;
}

// A negative sinkhole answer (nxdomain/nodata modes, or other types in null
// mode): no answer, hush's SOA (mname "hush.") in the authority section.
void check_negative_blocked(const Message& m, int want_rcode, const std::string& name) {
  INFO(m.summary());
  CHECK(m.rcode() == want_rcode);
  CHECK(m.answer.empty());
  REQUIRE(m.authority.size() == 1);
  CHECK(m.authority[0].type == rr::SOA);
  CHECK(lower(m.authority[0].owner) == lower(name));
  auto f = words(m.authority[0].text);
  REQUIRE(f.size() == 7);
  CHECK(f[0] == "hush.");
  CHECK(f[6] == "60");  // SOA minimum = blocking.ttl
  auto e = ede_of(m);
  CHECK(e.present);
  CHECK(e.code == 15);
}

struct ListEnv {
  TempDir lists;
  fs::path list;
  std::unique_ptr<Env> env;
  explicit ListEnv(const std::string& list_text, std::vector<std::string> more_args = {},
                   const std::string& file_name = "ads.txt") {
    list = lists.path() / file_name;
    write_file(list, list_text);
    HushOptions o;
    o.extra_args = {"--blocklist", list.string()};
    o.extra_args.insert(o.extra_args.end(), more_args.begin(), more_args.end());
    env = std::make_unique<Env>(o);
  }
  Endpoint ep() const { return env->ep(); }
};

}  // namespace

TEST_CASE("blocklist: hosts and adblock entries get the sinkhole answer with EDE 15 naming the list",
          "[integration][blocking]") {
  ListEnv le(kAdsList);
  const auto ep = le.ep();

  // Hosts lines block exactly that name, whatever address the line has.
  check_null_blocked_a(ep, "ads.test.", "ads.txt");
  check_null_blocked_a(ep, "also-ads.test.", "ads.txt");
  // ||tracker.test^ blocks the name and everything below it.
  check_null_blocked_a(ep, "tracker.test.", "ads.txt");
  check_null_blocked_a(ep, "deep.sub.tracker.test.", "ads.txt");
  // The letter case of the question is kept in the blocked answer too.
  check_null_blocked_a(ep, "AdS.TeSt.", "ads.txt");

  {
    auto m = udp_query(ep, "ads.test.", rr::AAAA, edns());
    INFO("AAAA ads.test: " << m.summary());
    CHECK(m.rcode() == rcode::NOERROR);
    REQUIRE(m.answer.size() == 1);
    CHECK(m.answer[0].type == rr::AAAA);
    CHECK(m.answer[0].text == "::");
    auto e = ede_of(m);
    CHECK(e.code == 15);
    CHECK(e.text == "blocked by ads.txt");
  }
  {
    // Other types: an empty answer (NODATA with hush's SOA).
    auto m = udp_query(ep, "x.tracker.test.", rr::MX, edns());
    check_negative_blocked(m, rcode::NOERROR, "x.tracker.test.");
  }
  // A hosts entry does not block its subdomains: sub.ads.test is forwarded.
  check_forwarded_a(ep, "sub.ads.test.", zone::kSubAdsA);
  check_forwarded_a(ep, "www.test.", zone::kWwwA);
  // ||tracker.test^ matches on label boundaries: "mytracker.test" is another name.
  {
    auto m = udp_query(ep, "mytracker.test.", rr::A, edns());
    INFO(m.summary());
    CHECK(m.rcode() == rcode::NXDOMAIN);  // unbound's answer: not in the zone
    CHECK_FALSE(ede_of(m).present);
  }

  // What dig shows.
  {
    auto r = dig(ep, {"ads.test.", "A"});
    INFO("dig stdout:\n" << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code() == 0);
    CHECK(contains(r.out, "status: NOERROR"));
    CHECK(contains(r.out, "; EDE: 15 (Blocked): (blocked by ads.txt)"));
    CHECK(std::regex_search(r.out, std::regex(R"(ads\.test\.\s+60\s+IN\s+A\s+0\.0\.0\.0)")));
  }
  {
    auto r = dig(ep, {"a.b.tracker.test.", "AAAA", "+short"});
    INFO("dig stdout:\n" << r.out << "\nstderr: " << r.err);
    CHECK(lines(r.out) == std::vector<std::string>{"::"});
  }
  {
    auto r = dig(ep, {"sub.ads.test.", "A", "+short"});
    INFO("dig stdout:\n" << r.out << "\nstderr: " << r.err);
    CHECK(lines(r.out) == std::vector<std::string>{zone::kSubAdsA});
  }
  // Without EDNS in the query there is no OPT to carry the EDE, but the
  // sinkhole answer is the same.
  {
    auto m = udp_query(ep, "ads.test.", rr::A);
    INFO(m.summary());
    CHECK(m.texts(rr::A) == std::vector<std::string>{"0.0.0.0"});
    CHECK_FALSE(m.opt);
  }
  // Over TCP as well.
  {
    auto m = tcp_query(ep, "ads.test.", rr::A, edns());
    INFO(m.summary());
    CHECK(m.texts(rr::A) == std::vector<std::string>{"0.0.0.0"});
    CHECK(ede_of(m).code == 15);
  }
}

TEST_CASE("--deny and --allow: the allowlist beats a list, $important beats the allowlist",
          "[integration][blocking]") {
  ListEnv le(kAdsList, {"--deny", "denied.test", "--deny", "listed-and-denied.test", "--allow",
                        "good.tracker.test", "--allow", "important.test", "--allow", "ads.test"});
  const auto ep = le.ep();
  // --deny blocks a name on no list; the EDE names the denylist.
  check_null_blocked_a(ep, "denied.test.", "denylist");
  // A plain --deny entry is that name only.
  check_forwarded_a(ep, "www.test.", zone::kWwwA);
  // The denylist decides before the lists.
  check_null_blocked_a(ep, "listed-and-denied.test.", "denylist");
  // The allowlist wins over ||tracker.test^ for good.tracker.test (forwarded:
  // the zone's address), while the rest of tracker.test stays blocked.
  check_forwarded_a(ep, "good.tracker.test.", zone::kGoodTrackerA);
  check_null_blocked_a(ep, "bad.tracker.test.", "ads.txt");
  // ... and over the hosts entry ads.test.
  {
    auto m = udp_query(ep, "ads.test.", rr::A, edns());
    INFO(m.summary());
    CHECK(m.rcode() == rcode::NOERROR);  // forwarded: ads.test is an empty non-terminal in the zone
    CHECK(m.texts(rr::A).empty());
    CHECK_FALSE(ede_of(m).present);
  }
  // ||important.test^$important is blocked although important.test is allowed.
  check_null_blocked_a(ep, "important.test.", "ads.txt");
  check_null_blocked_a(ep, "x.important.test.", "ads.txt");
}

TEST_CASE("blocking modes: nxdomain, nodata, ip (with ipv4/ipv6)", "[integration][blocking]") {
  TempDir dir;
  Unbound unbound(dir.path() / "unbound");
  const fs::path list = dir.path() / "ads.txt";
  write_file(list, kAdsList);
  auto start = [&](const std::string& name, const std::string& blocking) {
    HushOptions o;
    o.upstreams = {unbound.endpoint()};
    o.extra_config = "[blocking]\n" + blocking + "\n[[lists]]\npath = \"" + list.string() + "\"\nname = \"ads\"\n";
    return std::make_unique<Hush>(dir.path() / name, o);
  };

  SECTION("nxdomain") {
    auto h = start("nx", "mode = \"nxdomain\"");
    for (uint16_t t : {rr::A, rr::AAAA, rr::TXT}) {
      INFO("type " << t);
      auto m = udp_query(h->v4(), "ads.test.", t, edns());
      check_negative_blocked(m, rcode::NXDOMAIN, "ads.test.");
      CHECK(ede_of(m).text == "blocked by ads");
    }
    auto m = udp_query(h->v4(), "a.tracker.test.", rr::A, edns());
    check_negative_blocked(m, rcode::NXDOMAIN, "a.tracker.test.");
    check_forwarded_a(h->v4(), "www.test.", zone::kWwwA);
    auto r = dig(h->v4(), {"ads.test.", "A"});
    INFO("dig:\n" << r.out);
    CHECK(contains(r.out, "status: NXDOMAIN"));
    CHECK(contains(r.out, "; EDE: 15 (Blocked): (blocked by ads)"));
  }
  SECTION("nodata") {
    auto h = start("nodata", "mode = \"nodata\"");
    for (uint16_t t : {rr::A, rr::AAAA, rr::MX}) {
      INFO("type " << t);
      auto m = udp_query(h->v4(), "ads.test.", t, edns());
      check_negative_blocked(m, rcode::NOERROR, "ads.test.");
      CHECK(ede_of(m).text == "blocked by ads");
    }
    check_forwarded_a(h->v4(), "sub.ads.test.", zone::kSubAdsA);
  }
  SECTION("ip") {
    auto h = start("ip", "mode = \"ip\"\nipv4 = \"192.0.2.123\"\nipv6 = \"2001:db8::123\"\nttl = 42");
    {
      auto m = udp_query(h->v4(), "ads.test.", rr::A, edns());
      INFO(m.summary());
      CHECK(m.rcode() == rcode::NOERROR);
      REQUIRE(m.answer.size() == 1);
      CHECK(m.answer[0].text == "192.0.2.123");
      CHECK(m.answer[0].ttl == 42);
      CHECK(ede_of(m).code == 15);
      CHECK(ede_of(m).text == "blocked by ads");
    }
    {
      auto m = udp_query(h->v4(), "x.tracker.test.", rr::AAAA, edns());
      INFO(m.summary());
      CHECK(m.rcode() == rcode::NOERROR);
      CHECK(m.texts(rr::AAAA) == std::vector<std::string>{"2001:db8::123"});
    }
    {
      // Types without an address: NODATA.
      auto m = udp_query(h->v4(), "ads.test.", rr::TXT, edns());
      INFO(m.summary());
      CHECK(m.rcode() == rcode::NOERROR);
      CHECK(m.answer.empty());
      REQUIRE(m.authority.size() == 1);
      CHECK(m.authority[0].type == rr::SOA);
      CHECK(words(m.authority[0].text).at(6) == "42");
    }
    auto r = dig(h->v4(), {"ads.test.", "A", "+short"});
    CHECK(lines(r.out) == std::vector<std::string>{"192.0.2.123"});
  }
}

TEST_CASE("CNAME inspection: an upstream answer whose chain reaches a blocked name is blocked, also from the cache",
          "[integration][blocking]") {
  SECTION("inspection on (default)") {
    ListEnv le(kAdsList);
    const auto ep = le.ep();
    // cdn.test is on no list; unbound answers cdn.test CNAME t1.cname-target.test A ...
    check_null_blocked_a(ep, "cdn.test.", "ads.txt");
    {
      auto m = udp_query(ep, "cdn.test.", rr::AAAA, edns());
      INFO(m.summary());
      CHECK(m.texts(rr::AAAA) == std::vector<std::string>{"::"});
      CHECK(ede_of(m).code == 15);
    }
    {
      auto r = dig(ep, {"cdn.test.", "A"});
      INFO("dig:\n" << r.out);
      CHECK(contains(r.out, "; EDE: 15 (Blocked): (blocked by ads.txt)"));
      CHECK_FALSE(contains(r.out, zone::kCnameTargetA));
      CHECK_FALSE(contains(r.out, "cname-target"));
    }
    // The second answer comes from the cache: with unbound stopped, only the
    // cache can answer; it must still be the sinkhole answer.
    check_forwarded_a(ep, "a.test.", zone::kChainA);  // an unblocked chain, cached too
    le.env->unbound.stop();
    REQUIRE_FALSE(le.env->unbound.running());
    for (int i = 0; i < 2; ++i) {
      auto m = udp_query(ep, "cdn.test.", rr::A, edns(), 5000ms);
      INFO("from cache, try " << i << ": " << m.summary());
      CHECK(m.rcode() == rcode::NOERROR);
      CHECK(m.texts(rr::A) == std::vector<std::string>{"0.0.0.0"});
      CHECK(m.texts(rr::CNAME).empty());
      CHECK(ede_of(m).code == 15);
      CHECK(ede_of(m).text == "blocked by ads.txt");
    }
    {
      auto m = udp_query(ep, "a.test.", rr::A, edns(), 5000ms);
      INFO("unblocked chain from cache: " << m.summary());
      CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kChainA});
    }
  }
  SECTION("cname_inspection = false") {
    TempDir lists;
    write_file(lists.path() / "ads.txt", kAdsList);
    HushOptions o;
    o.extra_config = "[blocking]\ncname_inspection = false\n[[lists]]\npath = \"" +
                     (lists.path() / "ads.txt").string() + "\"\n";
    Env env(o);
    auto m = udp_query(env.ep(), "cdn.test.", rr::A, edns());
    INFO(m.summary());
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK(m.texts(rr::CNAME) == std::vector<std::string>{"t1.cname-target.test."});
    CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kCnameTargetA});
    CHECK_FALSE(ede_of(m).present);
    // The target name itself is still blocked.
    check_null_blocked_a(env.ep(), "t1.cname-target.test.", "ads.txt");
  }
}

TEST_CASE("special names get NXDOMAIN without asking upstream; special_names = false forwards them",
          "[integration][blocking]") {
  FakeUpstream up([](const UpstreamQuery& q) {
    return std::vector<Reply>{Reply{make_response(q.wire, rcode::NOERROR, {{rr::A, 300, a_rdata("192.0.2.55")}})}};
  });
  TempDir dir;
  auto start = [&](const std::string& name, const std::string& extra) {
    HushOptions o;
    o.upstreams = {up.endpoint()};
    o.probe_with_query = false;
    o.extra_config = extra;
    return std::make_unique<Hush>(dir.path() / name, o);
  };
  const std::vector<std::string> special{"use-application-dns.net.", "mask.icloud.com.", "mask-h2.icloud.com."};
  {
    auto h = start("on", "");
    for (const auto& n : special) {
      auto m = udp_query(h->v4(), n, rr::A, edns());
      INFO(n << ": " << m.summary());
      check_negative_blocked(m, rcode::NXDOMAIN, n);
    }
    auto r = dig(h->v4(), {"use-application-dns.net", "A"});
    INFO("dig:\n" << r.out);
    CHECK(contains(r.out, "status: NXDOMAIN"));
    // A name next to them is forwarded as usual (and shows the upstream works).
    auto m = udp_query(h->v4(), "www.icloud.com.", rr::A, edns());
    CHECK(m.texts(rr::A) == std::vector<std::string>{"192.0.2.55"});
    CHECK(up.count("www.icloud.com.") == 1);
    for (const auto& n : special) CHECK(up.count(n) == 0);
  }
  {
    auto h = start("off", "[blocking]\nspecial_names = false\n");
    for (const auto& n : special) {
      auto m = udp_query(h->v4(), n, rr::A, edns());
      INFO(n << ": " << m.summary());
      CHECK(m.rcode() == rcode::NOERROR);
      CHECK(m.texts(rr::A) == std::vector<std::string>{"192.0.2.55"});
      CHECK(m.authority.empty());
      CHECK_FALSE(ede_of(m).present);
      CHECK(up.count(n) == 1);
    }
  }
}

TEST_CASE("hush query says which list and rule decide; hush lists check reports counts and bad lines",
          "[integration][blocking][cli]") {
  TempDir dir;
  const fs::path list = dir.path() / "ads.txt";
  write_file(list, kAdsList);
  auto query = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv{hush_binary(), "query"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--blocklist", list.string(), "--data-dir", (dir.path() / "data").string()});
    return run_command(argv, 10s);
  };
  auto describe = [](const CommandResult& r) {
    return "exit " + std::to_string(r.exit_code()) + "\nstdout: " + r.out + "\nstderr: " + r.err;
  };
  {
    auto r = query({"x.tracker.test"});
    INFO("hush query: " << describe(r));
    CHECK(r.exit_code() == 0);
    CHECK(contains(r.out, "blocked"));
    CHECK(contains(r.out, "ads.txt"));
    CHECK(contains(r.out, "||tracker.test^"));
  }
  {
    auto r = query({"ads.test"});
    INFO("hush query: " << describe(r));
    CHECK(r.exit_code() == 0);
    CHECK(contains(r.out, "blocked by ads.txt"));
    CHECK(contains(r.out, "ads.test"));
    CHECK_FALSE(contains(r.out, "||"));  // an exact (hosts) rule
  }
  {
    auto r = query({"good.tracker.test", "--allow", "good.tracker.test"});
    INFO("hush query: " << describe(r));
    CHECK(r.exit_code() == 0);
    CHECK(contains(r.out, "allowed"));
    CHECK(contains(r.out, "allowlist"));
  }
  {
    auto r = query({"www.test"});
    INFO("hush query: " << describe(r));
    CHECK(r.exit_code() == 0);
    CHECK(contains(r.out, "not on any list"));
    CHECK_FALSE(contains(r.out, "blocked"));
  }
  {
    auto r = query({"use-application-dns.net"});
    INFO("hush query: " << describe(r));
    CHECK(r.exit_code() == 0);
    CHECK(contains(r.out, "NXDOMAIN"));
  }

  // A list with 2 bad lines (lines 3 and 6) among 4 good ones.
  const fs::path bad = dir.path() / "bad.txt";
  write_file(bad,
             "# comment\n"
             "0.0.0.0 one.test\n"
             "0.0.0.0\n"
             "0.0.0.0 two.test\n"
             "||three.test^\n"
             "||bad_label!.test^\n"
             "0.0.0.0 four.test\n");
  auto r = run_command({hush_binary(), "lists", "check", bad.string()}, 10s);
  INFO("hush lists check: exit " << r.exit_code() << "\nstdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code() == 0);
  CHECK(contains(r.out, "lines: 7"));
  CHECK(contains(r.out, "rules: 4"));
  CHECK(contains(r.out, "invalid lines: 2"));
  CHECK(std::regex_search(r.out, std::regex(R"(line 3: [^\n]*0\.0\.0\.0)")));
  CHECK(std::regex_search(r.out, std::regex(R"(line 6: [^\n]*bad_label)")));
  CHECK_FALSE(std::regex_search(r.out, std::regex(R"(line (1|2|4|5|7):)")));
}

TEST_CASE("SIGHUP reloads under load lose no query, and the new list takes effect", "[integration][blocking][reload]") {
  TempDir lists;
  const fs::path list = lists.path() / "ads.txt";
  write_file(list, kAdsList);
  HushOptions o;
  o.extra_args = {"--blocklist", list.string()};
  o.threads = 2;
  Env env(o);
  const auto ep = env.ep();
  check_null_blocked_a(ep, "ads.test.", "ads.txt");
  check_forwarded_a(ep, "newly.test.", zone::kNewlyA);

  constexpr int kQueries = 3000;
  struct Result {
    int sent = 0, lost = 0, servfail = 0, wrong = 0;
    std::string first_problem;
  } res;
  std::atomic<bool> done{false};
  std::thread load([&] {
    const auto t0 = Clock::now();
    const auto deadline = t0 + 20s;  // hard bound even if answers are slow
    for (int i = 0; i < kQueries && Clock::now() < deadline; ++i) {
      // Pace to ~1 query per ms, so the load spans the reloads (~3 s).
      std::this_thread::sleep_until(t0 + std::chrono::microseconds(1000LL * i));
      std::string name;
      int kind = i % 3;
      if (kind == 0) name = "ads.test.";                                    // blocked
      else if (kind == 1) name = "www.test.";                               // forwarded, then cached
      else name = "load" + std::to_string(i) + ".wild.test.";               // forwarded every time
      ++res.sent;
      auto q = make_query(name, rr::A, edns());
      auto r = udp_exchange(ep, q, 2000ms);
      auto note = [&](const std::string& what) {
        if (res.first_problem.empty()) res.first_problem = "query " + std::to_string(i) + " " + name + ": " + what;
      };
      if (!r) {
        ++res.lost;
        note("no answer within 2 s");
        continue;
      }
      Message m;
      try {
        m = parse_message(*r);
      } catch (const std::exception& e) {
        ++res.wrong;
        note(e.what());
        continue;
      }
      if (m.rcode() == rcode::SERVFAIL) {
        ++res.servfail;
        note("SERVFAIL " + m.summary());
        continue;
      }
      const std::string want = kind == 0 ? "0.0.0.0" : kind == 1 ? zone::kWwwA : zone::kWildA;
      if (m.rcode() != rcode::NOERROR || m.texts(rr::A) != std::vector<std::string>{want}) {
        ++res.wrong;
        note("unexpected answer " + m.summary());
      }
    }
    done = true;
  });

  // Three reloads during the load; the second adds newly.test to the list.
  std::string added;
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(700ms);
    if (round == 1) added = "0.0.0.0 newly.test\n";
    if (round == 2) added += "||extra-reload.test^\n";
    // Written aside and renamed, as a list updater does.
    write_file(lists.path() / "ads.txt.tmp", std::string(kAdsList) + added);
    fs::rename(lists.path() / "ads.txt.tmp", list);
    REQUIRE(kill(env.hush.pid(), SIGHUP) == 0);
  }
  load.join();
  REQUIRE(done);

  INFO("sent " << res.sent << ", lost " << res.lost << ", SERVFAIL " << res.servfail << ", wrong " << res.wrong
               << "; first problem: " << res.first_problem);
  CHECK(res.sent == kQueries);
  CHECK(res.lost == 0);
  CHECK(res.servfail == 0);
  CHECK(res.wrong == 0);
  REQUIRE(env.hush.running());

  // All three reloads were taken (not merged into one).
  CHECK(wait_until(
      [&] {
        std::string l = env.hush.log();
        size_t n = 0;
        for (size_t p = 0; n < 10 && (p = l.find("received SIGHUP", p)) != std::string::npos; ++p) ++n;
        return n == 3;
      },
      3s));
  {
    const std::string l = env.hush.log();
    INFO("hush log:\n" << l);
    CHECK_FALSE(contains(l, "reload failed"));
    CHECK_FALSE(contains(l, "error"));
  }
  // The names added by the reloads are blocked now (the last reload may still be building).
  CHECK(wait_until(
      [&] {
        auto m = udp_query(ep, "newly.test.", rr::A, edns());
        return m.texts(rr::A) == std::vector<std::string>{"0.0.0.0"};
      },
      3s, 50ms));
  check_null_blocked_a(ep, "newly.test.", "ads.txt");
  CHECK(wait_until(
      [&] { return udp_query(ep, "x.extra-reload.test.", rr::A, edns()).texts(rr::A) == std::vector<std::string>{"0.0.0.0"}; },
      3s, 50ms));
  check_null_blocked_a(ep, "ads.test.", "ads.txt");
  check_forwarded_a(ep, "www.test.", zone::kWwwA);
}

TEST_CASE("groups: a list for the group 'kids' blocks only for the client in that group", "[integration][blocking]") {
  TempDir lists;
  const fs::path kids = lists.path() / "kids.txt";
  write_file(kids, "0.0.0.0 kids-only.test\n||games.test^\n");
  const fs::path ads = lists.path() / "ads.txt";
  write_file(ads, kAdsList);
  HushOptions o;
  o.extra_config = "[[clients]]\naddress = \"127.0.0.2\"\ngroups = [\"kids\"]\nname = \"tablet\"\n"
                   "[[lists]]\npath = \"" + kids.string() + "\"\nname = \"kids-list\"\ngroups = [\"kids\"]\n"
                   "[[lists]]\npath = \"" + ads.string() + "\"\nname = \"ads\"\n";
  Env env(o);
  const auto ep = env.ep();

  // From 127.0.0.2 (in "kids"): blocked, EDE names the kids list.
  {
    auto m = udp_query(ep, "kids-only.test.", rr::A, edns(), 3000ms, "127.0.0.2");
    INFO("from 127.0.0.2: " << m.summary());
    CHECK(m.texts(rr::A) == std::vector<std::string>{"0.0.0.0"});
    CHECK(ede_of(m).code == 15);
    CHECK(ede_of(m).text == "blocked by kids-list");
  }
  {
    auto m = udp_query(ep, "x.games.test.", rr::A, edns(), 3000ms, "127.0.0.2");
    INFO("from 127.0.0.2: " << m.summary());
    CHECK(m.texts(rr::A) == std::vector<std::string>{"0.0.0.0"});
  }
  // From 127.0.0.1 (default group): forwarded, the zone's answer.
  check_forwarded_a(ep, "kids-only.test.", zone::kKidsA, "127.0.0.1");
  check_forwarded_a(ep, "kids-only.test.", zone::kKidsA);
  // Another loopback address outside the rule is in "default" too.
  check_forwarded_a(ep, "kids-only.test.", zone::kKidsA, "127.0.0.3");
  // Asked again from 127.0.0.2 after the answer was cached for 127.0.0.1: still blocked.
  {
    auto m = udp_query(ep, "kids-only.test.", rr::A, edns(), 3000ms, "127.0.0.2");
    INFO("from 127.0.0.2 after caching: " << m.summary());
    CHECK(m.texts(rr::A) == std::vector<std::string>{"0.0.0.0"});
  }
  // The default-group list: the kids client is not in "default", so it does
  // not apply to 127.0.0.2, and does apply to 127.0.0.1.
  check_null_blocked_a(ep, "ads.test.", "ads");
  {
    auto m = udp_query(ep, "ads.test.", rr::A, edns(), 3000ms, "127.0.0.2");
    INFO("ads.test from 127.0.0.2: " << m.summary());
    CHECK(m.rcode() == rcode::NOERROR);  // forwarded: an empty non-terminal in the zone
    CHECK(m.texts(rr::A).empty());
    CHECK_FALSE(ede_of(m).present);
  }
}

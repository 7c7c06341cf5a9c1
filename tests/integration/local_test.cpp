// Local names (issue 11): records from the config (A, AAAA, CNAME, TXT, SRV,
// wildcard) answered authoritatively, generated PTRs, NXDOMAIN/NODATA with the
// local SOA, unqualified names, the local domain and private reverse zones
// never forwarded, conditional forwarding, hush's own name and aliases,
// `hush local add|rm|ls` while serving, and zone files with a bad record.
//
// The only upstreams here are fake ones that record every query, so "never
// reaches the upstream" is checked directly.
#include <catch2/catch.hpp>
#include <memory>
#include <regex>
#include <stdexcept>

#include "dns_client.hpp"
#include "fake_upstream.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

constexpr const char* kUpstreamA = "192.0.2.200";  // what the default fake upstream answers
constexpr const char* kCorpA = "10.9.9.9";         // what the corp.test server answers

FakeUpstream::Handler answer_with(const std::string& ip) {
  return [ip](const UpstreamQuery& q) {
    return std::vector<Reply>{Reply{make_response(q.wire, rcode::NOERROR, {{rr::A, 300, a_rdata(ip)}})}};
  };
}

constexpr const char* kLocalConfig =
    "[local]\n"
    "records = [\n"
    "  \"nas.lan A 192.168.1.10\",\n"
    "  \"nas.lan AAAA fd00::10\",\n"
    "  \"files.lan CNAME nas.lan.\",\n"
    "  'nas.lan TXT \"model=ds920\"',\n"
    "  \"_smb._tcp.lan SRV 0 5 445 nas.lan.\",\n"
    "  \"*.lab.lan A 192.168.1.50\",\n"
    "]\n"
    "aliases = [\"pi.hole\"]\n";

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// hush with the local records above, forwarding to a recording fake upstream.
struct LocalEnv {
  FakeUpstream up{answer_with(kUpstreamA)};
  TempDir dir;
  std::unique_ptr<Hush> hush;
  explicit LocalEnv(const std::string& extra_config = kLocalConfig, std::vector<Endpoint> upstreams = {}) {
    HushOptions o;
    o.upstreams = upstreams.empty() ? std::vector<Endpoint>{up.endpoint()} : upstreams;
    o.probe_with_query = false;  // readiness by TCP connect: no query reaches the upstream
    o.extra_config = extra_config;
    hush = std::make_unique<Hush>(dir.path() / "hush", o);
    // TCP accepts as soon as the sockets are bound, before the local data is
    // loaded; the log line comes after that.
    if (!wait_until([&] { return contains(hush->log(), "listening on"); }, 10s))
      throw std::runtime_error("hush did not log 'listening on' within 10 s:\n" + hush->log());
  }
  Endpoint ep() const { return hush->v4(); }
};

std::string queries_seen(const FakeUpstream& up) {
  std::string s;
  for (auto& q : up.queries()) s += " " + q.qname + "/" + std::to_string(q.qtype);
  return s.empty() ? " (none)" : s;
}

// A local negative answer: AA, no answer, the SOA of `apex` in authority.
void check_local_negative(const Message& m, int want_rcode, const std::string& apex) {
  INFO(m.summary());
  CHECK(m.rcode() == want_rcode);
  CHECK(m.aa);
  CHECK(m.answer.empty());
  REQUIRE(m.authority.size() == 1);
  CHECK(m.authority[0].type == rr::SOA);
  CHECK(lower(m.authority[0].owner) == apex);
}

}  // namespace

TEST_CASE("local records: A, AAAA, CNAME, TXT, SRV, wildcard, PTR, NXDOMAIN, NODATA, unqualified names",
          "[integration][local]") {
  LocalEnv env;
  const auto ep = env.ep();

  {
    auto m = udp_query(ep, "nas.lan.", rr::A);
    INFO(m.summary());
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK(m.aa);
    CHECK(m.ra);
    REQUIRE(m.answer.size() == 1);
    CHECK(m.answer[0].owner == "nas.lan.");
    CHECK(m.answer[0].text == "192.168.1.10");
    CHECK(m.answer[0].ttl == 300);  // local.ttl default
  }
  {
    auto m = tcp_query(ep, "NAS.lan.", rr::AAAA);
    INFO(m.summary());
    CHECK(m.aa);
    CHECK(m.qname == "NAS.lan.");
    CHECK(m.texts(rr::AAAA) == std::vector<std::string>{"fd00::10"});
  }
  {
    // CNAME followed inside the local data.
    auto m = udp_query(ep, "files.lan.", rr::A);
    INFO(m.summary());
    CHECK(m.aa);
    REQUIRE(m.answer.size() == 2);
    CHECK(m.answer[0].owner == "files.lan.");
    CHECK(m.answer[0].type == rr::CNAME);
    CHECK(m.answer[0].text == "nas.lan.");
    CHECK(m.answer[1].owner == "nas.lan.");
    CHECK(m.answer[1].type == rr::A);
    CHECK(m.answer[1].text == "192.168.1.10");
  }
  {
    auto m = udp_query(ep, "nas.lan.", rr::TXT);
    INFO(m.summary());
    CHECK(m.aa);
    CHECK(m.texts(rr::TXT) == std::vector<std::string>{"\"model=ds920\""});
  }
  {
    auto m = udp_query(ep, "_smb._tcp.lan.", rr::SRV);
    INFO(m.summary());
    CHECK(m.aa);
    CHECK(m.texts(rr::SRV) == std::vector<std::string>{"0 5 445 nas.lan."});
  }
  // Wildcard: any name below lab.lan, one or more labels deep; the owner is the question.
  for (const std::string n : {"printer.lab.lan.", "a.b.lab.lan."}) {
    auto m = udp_query(ep, n, rr::A);
    INFO(n << ": " << m.summary());
    CHECK(m.aa);
    REQUIRE(m.answer.size() == 1);
    CHECK(m.answer[0].owner == n);
    CHECK(m.answer[0].text == "192.168.1.50");
  }
  {
    // PTR generated for the A record.
    auto m = udp_query(ep, "10.1.168.192.in-addr.arpa.", rr::PTR);
    INFO(m.summary());
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK(m.aa);
    CHECK(m.texts(rr::PTR) == std::vector<std::string>{"nas.lan."});
  }
  // NXDOMAIN for an unknown name in the local domain, with the SOA of "lan".
  check_local_negative(udp_query(ep, "unknown.lan.", rr::A), rcode::NXDOMAIN, "lan.");
  // NODATA for an existing name with a type it does not have.
  check_local_negative(udp_query(ep, "nas.lan.", rr::MX), rcode::NOERROR, "lan.");
  {
    // An unqualified name is looked up under the local domain.
    auto m = udp_query(ep, "nas.", rr::A);
    INFO(m.summary());
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK(m.aa);
    REQUIRE(m.answer.size() == 1);
    CHECK(m.answer[0].owner == "nas.");
    CHECK(m.answer[0].text == "192.168.1.10");
  }

  // The same through dig and kdig.
  struct Case {
    bool use_kdig;
    std::vector<std::string> args;
    std::vector<std::string> expect;
  };
  const std::vector<Case> cases{
      {false, {"nas.lan", "A", "+short"}, {"192.168.1.10"}},
      {false, {"nas.lan", "AAAA", "+short"}, {"fd00::10"}},
      {false, {"files.lan", "A", "+short"}, {"nas.lan.", "192.168.1.10"}},
      {false, {"nas.lan", "TXT", "+short"}, {"\"model=ds920\""}},
      {false, {"_smb._tcp.lan", "SRV", "+short"}, {"0 5 445 nas.lan."}},
      {false, {"-x", "192.168.1.10", "+short"}, {"nas.lan."}},
      {false, {"x.lab.lan", "A", "+short"}, {"192.168.1.50"}},
      {false, {"nas", "A", "+short"}, {"192.168.1.10"}},
      {true, {"nas.lan", "A", "+short"}, {"192.168.1.10"}},
      {true, {"nas.lan", "TXT", "+short"}, {"\"model=ds920\""}},
      {true, {"_smb._tcp.lan", "SRV", "+short"}, {"0 5 445 nas.lan."}},
      {true, {"-x", "fd00::10", "+short"}, {"nas.lan."}},
      {true, {"deep.er.lab.lan", "A", "+short", "+tcp"}, {"192.168.1.50"}},
  };
  for (auto& c : cases) {
    auto r = c.use_kdig ? kdig(ep, c.args) : dig(ep, c.args);
    std::string cmd;
    for (auto& a : c.args) cmd += " " + a;
    INFO((c.use_kdig ? "kdig" : "dig") << cmd << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err);
    CHECK(r.exit_code() == 0);
    CHECK(lines(r.out) == c.expect);
  }
  {
    auto r = dig(ep, {"nas.lan", "A"});
    INFO("dig:\n" << r.out);
    CHECK(std::regex_search(r.out, std::regex(R"(flags:[a-z ]*\baa\b)")));
    CHECK(contains(r.out, "status: NOERROR"));
  }
  {
    auto r = dig(ep, {"unknown.lan", "A"});
    INFO("dig:\n" << r.out);
    CHECK(contains(r.out, "status: NXDOMAIN"));
    CHECK(std::regex_search(r.out, std::regex(R"(AUTHORITY SECTION:\s*\nlan\.\s+\d+\s+IN\s+SOA)")));
  }
  {
    auto r = kdig(ep, {"nas.lan", "MX"});
    INFO("kdig:\n" << r.out);
    CHECK(contains(r.out, "status: NOERROR"));
    CHECK(std::regex_search(r.out, std::regex(R"(ANSWER: 0)")));
    CHECK(std::regex_search(r.out, std::regex(R"(lan\.\s+\d+\s+IN\s+SOA)")));
  }
  INFO("queries the upstream received:" << queries_seen(env.up));
  CHECK(env.up.queries().empty());
}

TEST_CASE("the local domain, bare names and private reverse zones never reach the upstream",
          "[integration][local]") {
  LocalEnv env;
  const auto ep = env.ep();
  struct Q {
    std::string name;
    uint16_t type;
    int rcode;
    std::string apex;
  };
  const std::vector<Q> qs{
      {"unknown.lan.", rr::A, rcode::NXDOMAIN, "lan."},
      {"deep.unknown.lan.", rr::AAAA, rcode::NXDOMAIN, "lan."},
      {"laptop.", rr::A, rcode::NXDOMAIN, "lan."},
      {"laptop.", rr::AAAA, rcode::NXDOMAIN, "lan."},
      {"9.9.168.192.in-addr.arpa.", rr::PTR, rcode::NXDOMAIN, "168.192.in-addr.arpa."},
      {"5.0.0.10.in-addr.arpa.", rr::PTR, rcode::NXDOMAIN, "10.in-addr.arpa."},
  };
  for (auto& q : qs) {
    INFO(q.name << " type " << q.type);
    check_local_negative(udp_query(ep, q.name, q.type), q.rcode, q.apex);
  }
  {
    auto r = dig(ep, {"laptop", "A"});
    INFO("dig:\n" << r.out);
    CHECK(contains(r.out, "status: NXDOMAIN"));
  }
  INFO("queries the upstream received:" << queries_seen(env.up));
  CHECK(env.up.queries().empty());

  // Other names do reach it.
  auto m = udp_query(ep, "example.test.", rr::A);
  INFO(m.summary());
  CHECK(m.texts(rr::A) == std::vector<std::string>{kUpstreamA});
  CHECK_FALSE(m.aa);
  CHECK(env.up.count("example.test.") == 1);
  CHECK(env.up.queries().size() == 1);
}

TEST_CASE("conditional forwarding: [[forward]] corp.test goes to its own server only", "[integration][local]") {
  FakeUpstream corp(answer_with(kCorpA));
  FakeUpstream def(answer_with(kUpstreamA));
  const std::string extra = std::string(kLocalConfig) + "\n[[forward]]\ndomain = \"corp.test\"\nservers = [\"" +
                            corp.endpoint().str() + "\"]\n";
  LocalEnv env(extra, {def.endpoint()});
  const auto ep = env.ep();

  for (const std::string n : {"x.corp.test.", "corp.test.", "a.b.CORP.test."}) {
    auto m = udp_query(ep, n, rr::A);
    INFO(n << ": " << m.summary());
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK(m.texts(rr::A) == std::vector<std::string>{kCorpA});
    CHECK(corp.count(n) == 1);
    CHECK(def.count(n) == 0);
  }
  for (const std::string n : {"example.test.", "notcorp.test.", "corp.test.example."}) {
    auto m = udp_query(ep, n, rr::A);
    INFO(n << ": " << m.summary());
    CHECK(m.texts(rr::A) == std::vector<std::string>{kUpstreamA});
    CHECK(def.count(n) == 1);
    CHECK(corp.count(n) == 0);
  }
  // Local names still answered locally, by neither server.
  auto m = udp_query(ep, "nas.lan.", rr::A);
  CHECK(m.texts(rr::A) == std::vector<std::string>{"192.168.1.10"});
  INFO("corp server saw:" << queries_seen(corp) << "\ndefault server saw:" << queries_seen(def));
  CHECK(corp.queries().size() == 3);
  CHECK(def.queries().size() == 3);
  CHECK(env.up.queries().empty());
}

TEST_CASE("hush's own name and its aliases answer with the address the client reaches it on",
          "[integration][local]") {
  LocalEnv env;
  const auto ep = env.ep();
  for (const std::string n : {"hush.lan.", "HUSH.lan.", "hush.", "pi.hole."}) {
    auto m = udp_query(ep, n, rr::A);
    INFO(n << ": " << m.summary());
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK(m.aa);
    CHECK(m.qname == n);
    CHECK(m.texts(rr::A) == std::vector<std::string>{"127.0.0.1"});
  }
  auto r = dig(ep, {"pi.hole", "A", "+short"});
  INFO("dig:\n" << r.out);
  CHECK(lines(r.out) == std::vector<std::string>{"127.0.0.1"});
  INFO("queries the upstream received:" << queries_seen(env.up));
  CHECK(env.up.queries().empty());
}

TEST_CASE("hush local add / rm / ls change the records of a running hush", "[integration][local][cli]") {
  LocalEnv env;
  const auto ep = env.ep();
  const std::string data_dir = env.hush->data_dir().string();
  auto answer = [&](const std::string& name) {
    auto m = udp_query(ep, name, rr::A);
    return std::make_pair(m.rcode(), m.texts(rr::A));
  };
  REQUIRE(answer("printer.lan.").first == rcode::NXDOMAIN);

  auto add = run_command({hush_binary(), "local", "add", "printer.lan", "A", "192.168.1.30", "--data-dir", data_dir});
  INFO("hush local add: exit " << add.exit_code() << "\nstdout: " << add.out << "\nstderr: " << add.err);
  REQUIRE(add.exit_code() == 0);
  auto t0 = Clock::now();
  bool seen = wait_until(
      [&] { return answer("printer.lan.") == std::make_pair(rcode::NOERROR, std::vector<std::string>{"192.168.1.30"}); },
      15s, 100ms);
  auto took = std::chrono::duration_cast<ms>(Clock::now() - t0).count();
  INFO("added record visible after " << took << " ms");
  REQUIRE(seen);
  {
    auto r = dig(ep, {"printer.lan", "A", "+short"});
    CHECK(lines(r.out) == std::vector<std::string>{"192.168.1.30"});
    auto p = dig(ep, {"-x", "192.168.1.30", "+short"});
    INFO("dig -x:\n" << p.out);
    CHECK(lines(p.out) == std::vector<std::string>{"printer.lan."});
  }

  // A second add of the same record is refused; a bad record too.
  auto dup = run_command({hush_binary(), "local", "add", "printer.lan", "A", "192.168.1.30", "--data-dir", data_dir});
  INFO("duplicate add: exit " << dup.exit_code() << "\nstdout: " << dup.out << "\nstderr: " << dup.err);
  CHECK(dup.exit_code() != 0);
  auto bad = run_command({hush_binary(), "local", "add", "oops.lan", "A", "999.1.1.1", "--data-dir", data_dir});
  INFO("bad add: exit " << bad.exit_code() << "\nstderr: " << bad.err);
  CHECK(bad.exit_code() != 0);

  {
    auto ls = run_command({hush_binary(), "local", "ls", "--data-dir", data_dir});
    INFO("hush local ls: exit " << ls.exit_code() << "\nstdout: " << ls.out << "\nstderr: " << ls.err);
    CHECK(ls.exit_code() == 0);
    CHECK(std::regex_search(ls.out, std::regex(R"((^|\n)printer\.lan\t[^\n]*192\.168\.1\.30)")));
    CHECK_FALSE(contains(ls.out, "oops"));
  }

  auto rm = run_command({hush_binary(), "local", "rm", "printer.lan", "--data-dir", data_dir});
  INFO("hush local rm: exit " << rm.exit_code() << "\nstdout: " << rm.out << "\nstderr: " << rm.err);
  REQUIRE(rm.exit_code() == 0);
  CHECK(contains(rm.out, "removed 1 record"));
  t0 = Clock::now();
  bool gone = wait_until([&] { return answer("printer.lan.").first == rcode::NXDOMAIN; }, 15s, 100ms);
  took = std::chrono::duration_cast<ms>(Clock::now() - t0).count();
  INFO("removed record gone after " << took << " ms");
  REQUIRE(gone);
  check_local_negative(udp_query(ep, "printer.lan.", rr::A), rcode::NXDOMAIN, "lan.");
  {
    auto ls = run_command({hush_binary(), "local", "ls", "--data-dir", data_dir});
    INFO("hush local ls after rm:\n" << ls.out);
    CHECK_FALSE(contains(ls.out, "printer.lan"));
  }
  // Removing it again: nothing to remove.
  auto rm2 = run_command({hush_binary(), "local", "rm", "printer.lan", "--data-dir", data_dir});
  CHECK(rm2.exit_code() != 0);
  // The config's records were never affected.
  CHECK(answer("nas.lan.").second == std::vector<std::string>{"192.168.1.10"});
  INFO("queries the upstream received:" << queries_seen(env.up));
  CHECK(env.up.queries().empty());
}

TEST_CASE("a zone file with one bad record: hush starts, warns with file and line, serves the rest",
          "[integration][local]") {
  TempDir zdir;
  const fs::path zf = zdir.path() / "office.zone";
  write_file(zf,
             "$ORIGIN office.example.\n"                                            // 1
             "$TTL 600\n"                                                           // 2
             "@ IN SOA ns.office.example. admin.office.example. 7 3600 600 86400 120\n"  // 3
             "printer IN A 192.168.5.10\n"                                          // 4
             "broken IN A 999.1.1.1\n"                                              // 5
             "scanner IN A 192.168.5.11\n"                                          // 6
             "www IN CNAME printer\n");                                             // 7
  LocalEnv env("[local]\nzone_files = [\"" + zf.string() + "\"]\n");
  const auto ep = env.ep();
  REQUIRE(env.hush->running());

  const std::string log = env.hush->log();
  INFO("hush log:\n" << log);
  std::string warning;
  for (auto& l : lines(log))
    if (contains(l, zf.string() + ":")) warning = l;
  CHECK(contains(warning, zf.string() + ":5"));
  CHECK(contains(lower(warning), "warn"));

  for (auto [n, ip] : {std::pair<std::string, std::string>{"printer.office.example.", "192.168.5.10"},
                       {"scanner.office.example.", "192.168.5.11"}}) {
    auto m = udp_query(ep, n, rr::A);
    INFO(n << ": " << m.summary());
    CHECK(m.aa);
    REQUIRE(m.answer.size() == 1);
    CHECK(m.answer[0].text == ip);
    CHECK(m.answer[0].ttl == 600);  // the file's $TTL
  }
  {
    auto m = udp_query(ep, "www.office.example.", rr::A);
    INFO(m.summary());
    CHECK(m.texts(rr::CNAME) == std::vector<std::string>{"printer.office.example."});
    CHECK(m.texts(rr::A) == std::vector<std::string>{"192.168.5.10"});
  }
  // The bad record is not served; the zone (from its SOA) is answered locally.
  {
    auto m = udp_query(ep, "broken.office.example.", rr::A);
    check_local_negative(m, rcode::NXDOMAIN, "office.example.");
  }
  {
    auto r = dig(ep, {"scanner.office.example", "A", "+short"});
    CHECK(lines(r.out) == std::vector<std::string>{"192.168.5.11"});
  }
  INFO("queries the upstream received:" << queries_seen(env.up));
  CHECK(env.up.queries().empty());
}

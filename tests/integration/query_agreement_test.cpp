// `hush query` says what `hush serve` answers: one running server with
// configured lists (one scoped to a group), the dashboard's allow and deny
// entries (rules.json, written through policy::RulesStore as the dashboard
// does), a device put in a group with `hush clients group`, and local names.
// For every row, `hush query NAME --client IP` and a real query sent from IP
// must give the same verdict, and it must be the expected one.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "dns_client.hpp"
#include "harness.hpp"
#include "policy/rules.hpp"

using namespace hush_it;

namespace {

constexpr const char* kKid = "127.0.0.2";      // put in groups default,kids below
constexpr const char* kAdult = "127.0.0.3";    // only in default
constexpr const char* kOutsider = "127.0.0.9"; // outside access.allow

// With EDNS, so a blocked answer can carry its Extended DNS Error.
const QueryOpts kEdns{.edns = true};

struct Verdict {
  std::string kind;  // blocked, local, forwarded, refused
  std::string detail;  // blocked: the list; local and forwarded: the A answer
  bool operator==(const Verdict&) const = default;
};
std::ostream& operator<<(std::ostream& o, const Verdict& v) { return o << v.kind << " (" << v.detail << ")"; }

// The verdict in hush query's line, e.g. "x A: blocked by ads (rule ...),
// answered with null [stage: policy]". Forwarded names have no answer there:
// their detail is left to the row.
Verdict from_query_line(const std::string& line, const std::string& forwarded_answer) {
  auto after = [&](const std::string& key) {
    size_t p = line.find(key);
    if (p == std::string::npos) return std::string();
    p += key.size();
    return line.substr(p, line.find_first_of(" ,\n", p) - p);
  };
  if (line.find("[stage: access]") != std::string::npos && line.find("refused") != std::string::npos)
    return {"refused", ""};
  if (line.find("[stage: policy]") != std::string::npos) return {"blocked", after("blocked by ")};
  if (line.find("[stage: local]") != std::string::npos) return {"local", after("answered ")};
  if (line.find("[stage: upstream]") != std::string::npos) return {"forwarded", forwarded_answer};
  return {"unknown", line};
}

// The verdict a real answer shows. The fixture keeps the kinds apart by
// their data: blocks carry EDE 15 "blocked by LIST", local records are in
// 192.168.0.0/16, and what unbound serves for test. is in 192.0.2.0/24.
Verdict from_answer(const Message& m) {
  if (m.rcode() == 5) return {"refused", ""};
  if (m.opt)
    if (const Bytes* ede = m.opt->option(15); ede && ede->size() >= 2 && ((*ede)[0] << 8 | (*ede)[1]) == 15) {
      std::string text(ede->begin() + 2, ede->end());
      return {"blocked", text.rfind("blocked by ", 0) == 0 ? text.substr(11) : text};
    }
  auto a = m.texts(rr::A);
  std::string first = a.empty() ? "" : a.front();
  if (first.rfind("192.168.", 0) == 0) return {"local", first};
  if (first.rfind("192.0.2.", 0) == 0) return {"forwarded", first};
  return {"unknown", m.summary()};
}

struct Row {
  const char* name;
  const char* client;
  Verdict want;
};

}  // namespace

TEST_CASE("hush query and hush serve give the same verdict for every input", "[integration][cli][query]") {
  TempDir lists("hush-it-lists-");
  write_file(lists.path() / "ads.txt", "||ads.test^\n||tracker.test^\n");
  write_file(lists.path() / "kids.txt", "kids-only.test\n");
  HushOptions o;
  o.extra_config = "[[lists]]\npath = \"" + (lists.path() / "ads.txt").string() + "\"\nname = \"ads\"\n" +
                   "[[lists]]\npath = \"" + (lists.path() / "kids.txt").string() +
                   "\"\nname = \"kids-list\"\ngroups = [\"kids\"]\n" +
                   "[local]\nrecords = [\"nas.lan A 192.168.1.10\"]\n" +
                   "[access]\nallow = [\"127.0.0.1/32\", \"127.0.0.2/32\", \"127.0.0.3/32\"]\n";
  Env env(o);
  const std::string data_dir = env.hush.data_dir().string();

  // The dashboard's entries: an allow that beats a list, a deny for
  // everyone, and a deny for the kids group only.
  hush::policy::RulesStore rules(data_dir);
  std::string error;
  REQUIRE(rules.add({"", "allow", "good.tracker.test", {"default"}, "", 0}, error));
  REQUIRE(rules.add({"", "deny", "newly.test", {"default"}, "", 0}, error));
  REQUIRE(rules.add({"", "deny", "cached.test", {"kids"}, "", 0}, error));

  // The kid's device exists once the log stored a query from it; then it
  // joins the kids group, and the server picks that up without a restart.
  bool grouped = wait_until(
      [&] {
        udp_query(env.ep(), "www.test.", rr::A, kEdns, 3000ms, kKid);
        return run_command({hush_binary(), "clients", "group", kKid, "default,kids", "--data-dir", data_dir}, 5s)
                   .exit_code() == 0;
      },
      20s, 300ms);
  INFO(env.logs());
  REQUIRE(grouped);
  bool applied = wait_until(
      [&] {
        return from_answer(udp_query(env.ep(), "cached.test.", rr::A, kEdns, 3000ms, kKid)).kind == "blocked" &&
               from_answer(udp_query(env.ep(), "newly.test.", rr::A, kEdns, 3000ms, kAdult)).kind == "blocked";
      },
      15s, 200ms);
  REQUIRE(applied);

  const Row rows[] = {
      {"www.test", kKid, {"forwarded", zone::kWwwA}},
      {"www.test", kAdult, {"forwarded", zone::kWwwA}},
      {"sub.ads.test", kKid, {"blocked", "ads"}},                    // a configured list
      {"sub.ads.test", kAdult, {"blocked", "ads"}},
      {"good.tracker.test", kAdult, {"forwarded", zone::kGoodTrackerA}},  // the dashboard's allow beats the list
      {"kids-only.test", kKid, {"blocked", "kids-list"}},            // a list for the kid's group
      {"kids-only.test", kAdult, {"forwarded", zone::kKidsA}},
      {"newly.test", kAdult, {"blocked", "denylist"}},               // the dashboard's deny
      {"cached.test", kKid, {"blocked", "denylist"}},                // a deny for the kid's group
      {"cached.test", kAdult, {"forwarded", zone::kCachedA}},
      {"nas.lan", kKid, {"local", "192.168.1.10"}},                  // a local record
      {"nas.lan", kAdult, {"local", "192.168.1.10"}},
      {"use-application-dns.net", kAdult, {"blocked", "special-names"}},  // a special name
      {"www.test", kOutsider, {"refused", ""}},                      // outside access.allow
  };
  for (const Row& row : rows) {
    auto q = run_command({hush_binary(), "query", row.name, "--client", row.client, "--data-dir", data_dir,
                          "--config", env.hush.config_path().string()},
                         10s);
    Message m = udp_query(env.ep(), std::string(row.name) + ".", rr::A, kEdns, 3000ms, row.client);
    INFO(row.name << " from " << row.client << "\nhush query: " << q.out << q.err << "answer: " << m.summary());
    CHECK(q.exit_code() == 0);
    Verdict served = from_answer(m);
    Verdict said = from_query_line(q.out, served.kind == "forwarded" ? served.detail : "");
    CHECK(said == served);
    CHECK(served == row.want);
  }
}

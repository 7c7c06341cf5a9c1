#include <catch2/catch.hpp>

#include <sstream>

#include "helpers.hpp"

using namespace bltest;

namespace {

struct Fixture {
  TempDir dir;
  PolicyConfig cfg;
  BuildReport report;

  void list(const std::string& name, std::string_view text, std::vector<std::string> groups = {"default"},
            bool subdomains = false) {
    cfg.lists.push_back({name, dir.write(name + ".txt", text), std::move(groups), subdomains});
  }
  std::shared_ptr<const Policy> build() {
    auto p = Policy::build(cfg, &report);
    REQUIRE(p);
    return p;
  }
};

Decision decide(const Policy& p, std::string_view name, uint16_t qtype = 1, const sockaddr* client = nullptr) {
  return p.decide(name, qtype, client ? p.groups_for(client) : kDefaultGroup, client);
}

}  // namespace

TEST_CASE("a list blocks its names and says which list and rule", "[policy]") {
  Fixture f;
  f.list("ads", "||ads.com^\n0.0.0.0 exact.org\n");
  auto p = f.build();
  Decision d = decide(*p, "x.ads.com");
  CHECK(d.action == Action::Block);
  CHECK(d.forced == Forced::None);
  CHECK(d.list == "ads");
  CHECK(d.rule == "ads.com");
  CHECK(d.match == Match::Subdomains);
  CHECK(rule_text(d) == "||ads.com^");
  d = decide(*p, "exact.org");
  CHECK(d.action == Action::Block);
  CHECK(d.match == Match::Exact);
  CHECK(rule_text(d) == "exact.org");
  CHECK(decide(*p, "www.exact.org").action == Action::Pass);
  CHECK(decide(*p, "ads.co").action == Action::Pass);
  d = decide(*p, "example.net");
  CHECK(d.action == Action::Pass);
  CHECK(d.list.empty());
  CHECK(p->entry_count() == 2);
  CHECK(p->memory_bytes() > 0);
}

TEST_CASE("policy order: allowlist, $important, denylist, lists", "[policy]") {
  struct Case {
    const char* name;
    Action action;
    const char* list;
    const char* rule;
  };
  Fixture f;
  f.list("L", "||a.com^\n||imp.com^$important\n||both.com^\n@@||ok.a.com^\n/^re[0-9]+\\./\n");
  f.cfg.allow = {{"*.a.com"}, {"imp.com"}, {"allowed.b.com"}, {"/^free\\./"}, {"||vip.com^$important"}};
  f.cfg.deny = {{"both.com"}, {"b.com"}, {"*.d.com"}, {"||vip.com^$important"}, {"/^free/"}};
  auto p = f.build();
  const Case cases[] = {
      {"x.a.com", Action::Allow, "allowlist", "*.a.com"},          // allowlist wins over list
      {"ok.a.com", Action::Allow, "allowlist", "*.a.com"},         // user allow found before list @@
      {"imp.com", Action::Block, "L", "||imp.com^$important"},    // $important beats the allowlist
      {"both.com", Action::Block, "denylist", "both.com"},         // denylist reported before lists
      {"b.com", Action::Block, "denylist", "b.com"},
      {"sub.b.com", Action::Pass, "", ""},                         // plain deny entry is exact
      {"allowed.b.com", Action::Allow, "allowlist", "allowed.b.com"},
      {"x.d.com", Action::Block, "denylist", "*.d.com"},
      {"d.com", Action::Block, "denylist", "*.d.com"},             // *.d covers d itself
      {"re12.net", Action::Block, "L", "/^re[0-9]+\\./"},
      {"free.net", Action::Allow, "allowlist", "/^free\\./"},      // allow regex beats deny regex
      {"vip.com", Action::Allow, "allowlist", "||vip.com^$important"},  // important allow beats important block
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Decision d = decide(*p, c.name);
    CHECK(d.action == c.action);
    CHECK(d.list == c.list);
    CHECK(d.rule == c.rule);
  }
  CHECK(f.report.errors.empty());
}

TEST_CASE("@@ exceptions in lists allow", "[policy]") {
  Fixture f;
  f.list("tv", slurp(kData + "Perflyst_SmartTV-AGH.head.txt"));
  auto p = f.build();
  Decision d = decide(*p, "mhc-ajax-eu.myhomescreen.tv");
  CHECK(d.action == Action::Allow);
  CHECK(d.list == "tv");
  CHECK(rule_text(d) == "@@||mhc-ajax-eu.myhomescreen.tv^");
  CHECK(decide(*p, "x.mhc-ajax-eu.myhomescreen.tv").action == Action::Allow);
  d = decide(*p, "collect.myhomescreen.tv");
  CHECK(d.action == Action::Block);
  CHECK(rule_text(d) == "||myhomescreen.tv^");
}

TEST_CASE("$badfilter cancels the named rule across lists", "[policy]") {
  Fixture f;
  f.list("A", "||a.com^\n||keep.com^\n||t.com^$dnstype=AAAA\n0.0.0.0 h.org\n");
  f.list("B", "[Adblock Plus]\n||a.com^$badfilter\n||t.com^$dnstype=AAAA,badfilter\n|h.org^$badfilter\n");
  auto p = f.build();
  CHECK(decide(*p, "a.com").action == Action::Pass);
  CHECK(decide(*p, "keep.com").action == Action::Block);
  CHECK(decide(*p, "t.com", 28).action == Action::Pass);
  CHECK(decide(*p, "h.org").action == Action::Pass);
  CHECK(f.report.badfiltered == 3);
}

TEST_CASE("$dnstype restricts by query type", "[policy]") {
  Fixture f;
  f.list("L", "||six.com^$dnstype=AAAA\n||nota.com^$dnstype=~A\n");
  auto p = f.build();
  CHECK(decide(*p, "six.com", 28).action == Action::Block);
  CHECK(decide(*p, "www.six.com", 28).action == Action::Block);
  CHECK(decide(*p, "six.com", 1).action == Action::Pass);
  CHECK(decide(*p, "nota.com", 1).action == Action::Pass);
  CHECK(decide(*p, "nota.com", 65).action == Action::Block);
}

TEST_CASE("$client restricts by address, CIDR or client name", "[policy]") {
  Fixture f;
  f.list("L", "||lan.com^$client=192.168.1.0/24\n||notme.com^$client=~10.0.0.1\n||tv.com^$client='tv'\n"
              "||v6.com^$client=fd00::/8\n");
  f.cfg.clients = {{"10.0.0.9", {"default"}, "tv"}};
  auto p = f.build();
  V4 lan("192.168.1.5"), other("10.0.0.1"), tv("10.0.0.9");
  V6 v6("fd00::1"), mapped("::ffff:192.168.1.5");
  CHECK(decide(*p, "lan.com", 1, lan.get()).action == Action::Block);
  CHECK(decide(*p, "lan.com", 1, mapped.get()).action == Action::Block);
  CHECK(decide(*p, "lan.com", 1, other.get()).action == Action::Pass);
  CHECK(decide(*p, "lan.com", 1, nullptr).action == Action::Pass);
  CHECK(decide(*p, "notme.com", 1, other.get()).action == Action::Pass);
  CHECK(decide(*p, "notme.com", 1, lan.get()).action == Action::Block);
  CHECK(decide(*p, "tv.com", 1, tv.get()).action == Action::Block);
  CHECK(decide(*p, "tv.com", 1, lan.get()).action == Action::Pass);
  CHECK(decide(*p, "v6.com", 1, v6.get()).action == Action::Block);
  CHECK(decide(*p, "v6.com", 1, lan.get()).action == Action::Pass);
}

TEST_CASE("groups: a device known by its client ID keeps its groups behind any address", "[policy]") {
  Fixture f;
  f.list("kids", "||games.com^\n", {"kids"});
  f.cfg.clients = {{"192.168.1.0/24", {"adults"}}, {"id:tablet-mia", {"kids"}}, {"id:phone-anna", {"adults"}}};
  auto p = f.build();
  REQUIRE(f.report.errors.empty());
  const GroupMask kids = p->group_bit("kids"), adults = p->group_bit("adults");
  V4 nat("192.168.1.1"), roaming("203.0.113.9");
  // The ID wins over the NAT router's address, wherever the tablet is.
  CHECK(p->groups_for(nat.get(), "tablet-mia") == kids);
  CHECK(p->groups_for(roaming.get(), "tablet-mia") == kids);
  CHECK(p->groups_for(nat.get(), "phone-anna") == adults);
  // An ID no rule names, or none, falls back to the address.
  CHECK(p->groups_for(nat.get(), "laptop") == adults);
  CHECK(p->groups_for(roaming.get(), "") == kDefaultGroup);
  CHECK(p->decide("games.com", 1, p->groups_for(nat.get(), "tablet-mia"), nat.get()).action == Action::Block);
  CHECK(p->decide("games.com", 1, p->groups_for(nat.get()), nat.get()).action == Action::Pass);
}

TEST_CASE("groups: a malformed client ID rule is an error that names it", "[policy]") {
  Fixture f;
  f.cfg.clients = {{"id:Tablet Mia", {"kids"}}, {"id:", {"kids"}}, {"id:ok", {"kids"}, "mia"}};
  f.list("mia", "||games.com^$client='mia'\n");
  f.build();
  REQUIRE(f.report.errors.size() == 3);
  CHECK(f.report.errors[0].find("\"id:Tablet Mia\": not an IP address, a CIDR or id:NAME") != std::string::npos);
  CHECK(f.report.errors[2].find("known by its ID") != std::string::npos);
}

TEST_CASE("groups: lists and entries apply only to their clients' groups", "[policy]") {
  Fixture f;
  f.list("everyone", "||ads.com^\n");
  f.list("kids", "||games.com^\n||ads.com^\n", {"kids"});
  f.cfg.clients = {{"192.168.1.0/24", {"kids"}}, {"fd00::/8", {"kids", "default"}}, {"192.168.1.77", {"adults"}}};
  f.cfg.allow = {{"ads.com", {"adults"}}};
  f.cfg.deny = {{"social.com", {"kids"}}};
  auto p = f.build();
  const GroupMask kids = p->group_bit("kids");
  const GroupMask adults = p->group_bit("adults");
  REQUIRE(kids != 0);
  REQUIRE(adults != 0);
  CHECK(p->group_bit("default") == kDefaultGroup);
  CHECK(p->group_bit("nope") == 0);

  V4 child("192.168.1.20"), grownup("192.168.1.77"), stranger("10.1.1.1");
  V6 v6("fd00::5"), mapped("::ffff:192.168.1.20");
  CHECK(p->groups_for(child.get()) == kids);
  CHECK(p->groups_for(mapped.get()) == kids);
  CHECK(p->groups_for(grownup.get()) == (kids | adults));  // both rows contain it
  CHECK(p->groups_for(stranger.get()) == kDefaultGroup);
  CHECK(p->groups_for(v6.get()) == (kids | kDefaultGroup));
  CHECK(p->groups_for(nullptr) == kDefaultGroup);

  CHECK(decide(*p, "games.com", 1, child.get()).action == Action::Block);
  CHECK(decide(*p, "games.com", 1, stranger.get()).action == Action::Pass);
  Decision d = decide(*p, "ads.com", 1, stranger.get());
  CHECK(d.list == "everyone");
  d = decide(*p, "ads.com", 1, child.get());
  CHECK(d.list == "kids");
  CHECK(decide(*p, "ads.com", 1, grownup.get()).action == Action::Allow);
  CHECK(decide(*p, "social.com", 1, child.get()).action == Action::Block);
  CHECK(decide(*p, "social.com", 1, stranger.get()).action == Action::Pass);
}

TEST_CASE("special names force NXDOMAIN and can be turned off", "[policy]") {
  Fixture f;
  auto p = f.build();
  for (const char* n : {"use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com"}) {
    INFO(n);
    Decision d = decide(*p, n);
    CHECK(d.action == Action::Block);
    CHECK(d.forced == Forced::NxDomain);
    CHECK(d.match == Match::Special);
    CHECK(d.list == "special-names");
  }
  CHECK(decide(*p, "x.mask.icloud.com").action == Action::Pass);
  f.cfg.special_names = false;
  auto off = f.build();
  CHECK(decide(*off, "use-application-dns.net").action == Action::Pass);
  f.cfg.special_names = true;
  f.cfg.allow = {{"mask.icloud.com"}};
  auto allowed = f.build();
  CHECK(decide(*allowed, "mask.icloud.com").action == Action::Allow);
  CHECK(decide(*allowed, "mask-h2.icloud.com").forced == Forced::NxDomain);
}

TEST_CASE("per-list subdomains option", "[policy]") {
  Fixture f;
  f.list("plain", "a.com\n");
  f.list("sub", "0.0.0.0 b.com\n", {"default"}, true);
  auto p = f.build();
  CHECK(decide(*p, "a.com").action == Action::Block);
  CHECK(decide(*p, "x.a.com").action == Action::Pass);
  CHECK(decide(*p, "x.b.com").action == Action::Block);
}

TEST_CASE("a missing list is reported and the others still load", "[policy]") {
  Fixture f;
  f.cfg.lists.push_back({"gone", f.dir.path("nope.txt")});
  f.list("ok", "ok-block.com\n");
  f.cfg.allow = {{"not a domain"}};
  auto p = f.build();
  CHECK(decide(*p, "ok-block.com").action == Action::Block);
  REQUIRE(f.report.lists.size() == 2);
  CHECK_FALSE(f.report.lists[0].error.empty());
  CHECK(f.report.lists[1].error.empty());
  CHECK(f.report.lists[1].entries == 1);
  REQUIRE(f.report.errors.size() == 2);
  CHECK(f.report.errors[0].find("gone") != std::string::npos);
  CHECK(f.report.errors[1].find("allowlist") != std::string::npos);
}

TEST_CASE("report counts entries, drops and formats", "[policy]") {
  Fixture f;
  f.list("w", "*.a.com\n*.x.a.com\nb.com\n");
  f.list("bad", "good.com\nbad..com\n");
  auto p = f.build();
  CHECK(f.report.dropped_covered == 1);
  CHECK(f.report.unique_entries == 3);
  CHECK(f.report.lists[0].stats.by_format[static_cast<size_t>(Format::Wildcard)] == 2);
  CHECK(f.report.lists[1].stats.invalid == 1);
  CHECK(f.report.lists[1].stats.first_invalid.at(0).line == 2);
  CHECK(f.report.compiled_bytes > 0);
  CHECK(f.report.build_ms >= 0);
}

TEST_CASE("regex lists block through RE2::Set", "[policy]") {
  Fixture f;
  f.cfg.lists.push_back({"regex", kData + "Perflyst_regex.list"});
  auto p = f.build();
  Decision d = decide(*p, "us.ibs.lgappstv.com");
  CHECK(d.action == Action::Block);
  CHECK(d.match == Match::Regex);
  CHECK(d.rule == "(^|\\.)ibs\\.lgappstv\\.com");
  CHECK(decide(*p, "api.x.hismarttv.com").action == Action::Block);
  CHECK(decide(*p, "example.com").action == Action::Pass);
}

TEST_CASE("lists_check prints counts and invalid lines", "[policy]") {
  TempDir dir;
  std::string path = dir.write("l.txt", "# Title: t\n0.0.0.0 a.com\nb..com\n||c.com^\n");
  std::ostringstream out;
  CHECK(lists_check(path, out) == 0);
  const std::string s = out.str();
  CHECK(s.find("format: hosts") != std::string::npos);
  CHECK(s.find("hosts: 1") != std::string::npos);
  CHECK(s.find("adblock: 1") != std::string::npos);
  CHECK(s.find("line 3: empty label: b..com") != std::string::npos);
  CHECK(s.find("compiled size:") != std::string::npos);
  std::ostringstream missing;
  CHECK(lists_check(dir.path("none.txt"), missing) == 1);
  CHECK(missing.str().find("error") != std::string::npos);
}

TEST_CASE("paused groups get no blocking; \"*\" is every group", "[policy]") {
  Fixture f;
  f.list("ads", "||ads.com^\n");
  f.cfg.clients = {{"10.0.0.2", {"device-1"}}, {"10.0.0.3", {"kids"}}};
  f.cfg.deny = {{"games.com", {"*"}}};
  f.cfg.paused = {"device-1"};
  auto p = f.build();
  CHECK(f.report.errors.empty());
  V4 paused("10.0.0.2"), kid("10.0.0.3"), other("10.0.0.9");
  CHECK(decide(*p, "x.ads.com", 1, paused.get()).action == Action::Pass);
  CHECK(decide(*p, "games.com", 1, paused.get()).action == Action::Pass);
  CHECK(decide(*p, "use-application-dns.net", 1, paused.get()).action == Action::Pass);
  CHECK(decide(*p, "x.ads.com", 1, other.get()).action == Action::Block);
  // The "*" entry reaches a client in a group of its own, outside "default".
  CHECK(decide(*p, "games.com", 1, kid.get()).action == Action::Block);
  CHECK(decide(*p, "games.com", 1, other.get()).action == Action::Block);
  CHECK(decide(*p, "x.ads.com", 1, kid.get()).action == Action::Pass);

  f.cfg.paused = {"*"};
  auto all = f.build();
  CHECK(decide(*all, "x.ads.com", 1, other.get()).action == Action::Pass);
  CHECK(decide(*all, "games.com", 1, kid.get()).action == Action::Pass);
}

TEST_CASE("groups: devices' own groups have 64 places beside the 64 groups people make", "[policy]") {
  Fixture f;
  f.list("empty", "");
  // 63 groups and "default", one client network each, every group blocking
  // a name of its own: the whole first half.
  for (int g = 1; g < 64; ++g) {
    const std::string name = "g" + std::to_string(g);
    f.cfg.clients.push_back({"10.0." + std::to_string(g) + ".0/24", {name}});
    f.cfg.deny.push_back({"only-" + name + ".test", {name}});
  }
  // 64 devices, each in group g1 and its own group, each blocking a name
  // for itself alone; 30 more devices that kept their own group after
  // their controls ended (nothing names those groups).
  for (int d = 1; d <= 94; ++d) {
    const std::string own = "device-" + std::to_string(d);
    f.cfg.clients.push_back({"10.1.0." + std::to_string(d), {"g1", own}});
    if (d <= 64) f.cfg.deny.push_back({"only-" + own + ".test", {own}});
  }
  auto p = f.build();
  CHECK(f.report.errors.empty());
  for (int g = 1; g < 64; ++g) REQUIRE(p->group_bit("g" + std::to_string(g)) != 0);
  V4 named("10.0.63.9"), first("10.1.0.1"), last("10.1.0.64"), former("10.1.0.90");
  CHECK(decide(*p, "only-g63.test", 1, named.get()).action == Action::Block);
  CHECK(decide(*p, "only-device-64.test", 1, named.get()).action == Action::Pass);
  CHECK(decide(*p, "only-device-1.test", 1, first.get()).action == Action::Block);
  CHECK(decide(*p, "only-device-64.test", 1, last.get()).action == Action::Block);
  CHECK(decide(*p, "only-device-64.test", 1, first.get()).action == Action::Pass);
  CHECK(decide(*p, "only-g1.test", 1, last.get()).action == Action::Block);  // its named group still counts
  CHECK(decide(*p, "only-g1.test", 1, former.get()).action == Action::Block);
  CHECK(p->group_bit("device-90") == 0);

  // Past either bound: the group is ignored and named.
  f.cfg.deny.push_back({"one-more.test", {"g64"}});
  f.cfg.deny.push_back({"one-more.test", {"device-65"}});
  f.report = {};
  p = f.build();
  REQUIRE(f.report.errors.size() == 2);
  CHECK(f.report.errors[0] == "more than 64 groups; ignoring group \"g64\"");
  CHECK(f.report.errors[1] == "more than 64 devices with controls of their own; ignoring group \"device-65\"");
  CHECK(decide(*p, "only-device-64.test", 1, last.get()).action == Action::Block);
}

TEST_CASE("groups: which names are devices' own groups", "[policy]") {
  CHECK(is_device_group("device-7"));
  CHECK(is_device_group("device-1234567"));
  CHECK(!is_device_group("device-"));
  CHECK(!is_device_group("device-7a"));
  CHECK(!is_device_group("devices"));
  CHECK(!is_device_group("kids"));
}

TEST_CASE("a list big enough to be parsed in two parts reads as one pass does", "[policy]") {
  // Over 4 MiB, so compiled_lists.cpp parses the second half on a thread of
  // its own; the rules near the end must still see the format found at the
  // top, keep the file's line numbers and cancel rules in the first half.
  std::string text = "[Adblock Plus]\n";
  for (int i = 0; i < 200000; ++i) {
    text += "||n" + std::to_string(i) + ".example" + std::to_string(i % 97) + ".com^\n";
    if (i == 150000) {
      text += "not a domain!!\n";
      text += "||mod.example^$important\n";
      text += "@@||n150001.example" + std::to_string(150001 % 97) + ".com^\n";
      text += "||n10.example10.com^$badfilter\n";
    }
  }
  REQUIRE(text.size() > (size_t{4} << 20));
  Fixture f;
  f.list("big", text);
  auto p = f.build();
  const ParseStats one_pass = parse(text, "big.txt").stats;
  const ParseStats& parts = f.report.lists.at(0).stats;
  CHECK(parts.detected == Format::Adblock);
  CHECK(parts.lines == one_pass.lines);
  CHECK(parts.rules == one_pass.rules);
  CHECK(parts.by_format == one_pass.by_format);
  CHECK(parts.invalid == 1);
  REQUIRE(parts.first_invalid.size() == 1);
  CHECK(parts.first_invalid[0].line == 150003);  // the header, then names 0..150000
  CHECK(parts.first_invalid[0].line == one_pass.first_invalid.at(0).line);

  CHECK(decide(*p, "n0.example0.com").action == Action::Block);
  CHECK(decide(*p, "www.n199999.example" + std::to_string(199999 % 97) + ".com").action == Action::Block);
  CHECK(decide(*p, "n10.example10.com").action == Action::Pass);
  CHECK(decide(*p, "n150001.example" + std::to_string(150001 % 97) + ".com").action == Action::Allow);
  Decision mod = decide(*p, "mod.example");
  CHECK(mod.action == Action::Block);
  CHECK(mod.match == Match::Rule);
  CHECK(mod.rule == "||mod.example^$important");
  CHECK(f.report.badfiltered == 1);
  CHECK(f.report.lists.at(0).entries == 200000 + 2 - 1);  // the names, mod, the exception, less n10
}

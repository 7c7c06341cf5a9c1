#include <catch2/catch.hpp>

#include <random>

#include "helpers.hpp"

using namespace bltest;

namespace {

// "E:a.com" exact, "S:a.com" name and subdomains, "R:re" regex; "@" prefix for allow, "!" suffix for $important.
std::vector<std::string> summary(const Parsed& p) {
  std::vector<std::string> out;
  for (const Rule& r : p.rules) {
    std::string s = r.allow ? "@" : "";
    s += r.kind == RuleKind::Exact ? "E:" : r.kind == RuleKind::Subtree ? "S:" : "R:";
    s += r.name;
    if (r.important) s += "!";
    out.push_back(s);
  }
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("every published format parses to the rules it means", "[format]") {
  struct Case {
    const char* what;
    std::string text;
    V expect;
    Format format;
  };
  const Case cases[] = {
      {"hosts 0.0.0.0", "0.0.0.0 a.com\n", {"E:a.com"}, Format::Hosts},
      {"hosts 127.0.0.1, two names", "127.0.0.1 a.com b.com\n", {"E:a.com", "E:b.com"}, Format::Hosts},
      {"hosts ::", ":: a.com\n:: b.org\n", {"E:a.com", "E:b.org"}, Format::Hosts},
      {"hosts with tabs and inline comment", "0.0.0.0\ta.com\t# tracking\n", {"E:a.com"}, Format::Hosts},
      {"hosts compressed", "0.0.0.0 a.com b.com c.com d.com\n", {"E:a.com", "E:b.com", "E:c.com", "E:d.com"},
       Format::Hosts},
      {"plain domains", "a.com\nb.a.com\n", {"E:a.com", "E:b.a.com"}, Format::Domains},
      {"plain domain with inline comment", "a.com # why\nb.com#x\n", {"E:a.com", "E:b.com"}, Format::Domains},
      {"proxifier trailing semicolon", "a.com;\nb.com;\n", {"E:a.com", "E:b.com"}, Format::Domains},
      {"adblock ||", "[Adblock Plus]\n! Title: x\n||a.com^\n", {"S:a.com"}, Format::Adblock},
      {"adblock @@", "||a.com^\n@@||b.a.com^\n", {"S:a.com", "@S:b.a.com"}, Format::Adblock},
      {"adblock |exact^", "|a.com^\n||b.com^\n", {"E:a.com", "S:b.com"}, Format::Adblock},
      {"adblock $important", "||a.com^$important\n", {"S:a.com!"}, Format::Adblock},
      {"adblock plain name is exact", "[Adblock Plus]\na.com\n", {"E:a.com"}, Format::Adblock},
      {"adblock /regex/", "[Adblock Plus]\n/^ad[0-9]+\\./\n", {"R:^ad[0-9]+\\."}, Format::Adblock},
      {"adblock glob", "[Adblock Plus]\n||ad*.example.org^\n", {"R:(^|\\.)ad.*\\.example\\.org$"}, Format::Adblock},
      {"wildcard", "*.a.com\n*.b.org\n", {"S:a.com", "S:b.org"}, Format::Wildcard},
      {"wildcard glob (dnscrypt)", "*.ads*.msn.com\n*.a.com\n", {"R:(^|\\.)ads.*\\.msn\\.com$", "S:a.com"},
       Format::Wildcard},
      {"dnsmasq local", "local=/a.com/\nlocal=/b.com/\n", {"S:a.com", "S:b.com"}, Format::Dnsmasq},
      {"dnsmasq address", "address=/a.com/0.0.0.0\naddress=/b.com/::\naddress=/c.com/\n",
       {"S:a.com", "S:b.com", "S:c.com"}, Format::Dnsmasq},
      {"dnsmasq several names", "local=/a.com/b.com/\n", {"S:a.com", "S:b.com"}, Format::Dnsmasq},
      {"dnsmasq server= (OpenWrt)", "server=/a.com/\nserver=/b.com/\n", {"S:a.com", "S:b.com"}, Format::Dnsmasq},
      {"rpz", "$TTL 300\n@ SOA localhost. root.localhost. 1 43200 3600 86400 300\n  NS  localhost.\n;\n"
              "a.com CNAME .\n*.a.com CNAME .\nb.com CNAME rpz-passthru.\n",
       {"E:a.com", "S:a.com", "@E:b.com"}, Format::Rpz},
      {"pi-hole regex list", "# Title: x\n(^|\\.)ads\\.com$\n^api\\..*\\.tv$\n",
       {"R:(^|\\.)ads\\.com$", "R:^api\\..*\\.tv$"}, Format::Regex},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    Parsed p = parse(c.text, std::string(c.what).find("regex list") != std::string::npos ? "regex.list" : "");
    CHECK(summary(p) == c.expect);
    CHECK(p.stats.detected == c.format);
    CHECK(p.stats.invalid == 0);
  }
}

TEST_CASE("pitfalls of real files are tolerated", "[format]") {
  struct Case {
    const char* what;
    std::string text;
    V expect;
  };
  const Case cases[] = {
      {"UTF-8 BOM", "\xEF\xBB\xBF" "0.0.0.0 a.com\n0.0.0.0 b.com\n", {"E:a.com", "E:b.com"}},
      {"BOM before a comment", "\xEF\xBB\xBF# Title\na.com\n", {"E:a.com"}},
      {"CRLF", "0.0.0.0 a.com\r\n0.0.0.0 b.com\r\n", {"E:a.com", "E:b.com"}},
      {"CRLF adblock", "[Adblock Plus]\r\n||a.com^\r\n", {"S:a.com"}},
      {"no final newline", "a.com\nb.com", {"E:a.com", "E:b.com"}},
      {"upper case", "0.0.0.0 ADS.Example.COM\n", {"E:ads.example.com"}},
      {"trailing dot", "a.com.\n", {"E:a.com"}},
      {"underscore", "_xmpp-client._tcp.example.com\n", {"E:_xmpp-client._tcp.example.com"}},
      {"IDN", "bücher.de\n0.0.0.0 faß.de\n", {"E:xn--bcher-kva.de", "E:xn--fa-hia.de"}},
      {"IDN in adblock", "[Adblock Plus]\n||bücher.de^\n", {"S:xn--bcher-kva.de"}},
      {"blank and comment lines", "\n# c\n! c\n   \na.com\n", {"E:a.com"}},
      {"self entries", "127.0.0.1 localhost\n255.255.255.255 broadcasthost\n::1 ip6-localhost\n"
                       "fe80::1%lo0 localhost\n0.0.0.0 0.0.0.0\n127.0.0.1 local\n0.0.0.0 a.com\n",
       {"E:a.com"}},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    Parsed p = parse(c.text);
    CHECK(summary(p) == c.expect);
    CHECK(p.stats.invalid == 0);
  }
  Parsed self = parse(cases[std::size(cases) - 1].text);
  CHECK(self.stats.self_entries == 6);
}

TEST_CASE("invalid lines are counted with their numbers and never stop the list", "[format]") {
  std::string text =
      "a.com\n"           // 1
      "bad..name\n"       // 2
      "b.com\n"           // 3
      "has space.com x\n" // 4
      "0.0.0.0\n"         // 5
      "c.com\n";          // 6
  for (int i = 0; i < 12; ++i) text += "x..y\n";
  Parsed p = parse(text);
  CHECK(summary(p) == V{"E:a.com", "E:b.com", "E:c.com"});
  REQUIRE(p.stats.invalid == 15);
  REQUIRE(p.stats.first_invalid.size() == kKeptInvalid);
  CHECK(p.stats.first_invalid[0].line == 2);
  CHECK(p.stats.first_invalid[0].text == "bad..name");
  CHECK(p.stats.first_invalid[0].reason == "empty label");
  CHECK(p.stats.first_invalid[1].line == 4);
  CHECK(p.stats.first_invalid[2].line == 5);
  CHECK(p.stats.first_invalid[2].reason == "hosts line without a name");
  CHECK(p.stats.first_invalid[3].line == 7);
  CHECK(p.stats.lines == 18);
}

TEST_CASE("a bad name in a compressed hosts line keeps the others", "[format]") {
  Parsed p = parse("0.0.0.0 a.com b..com c.com\n");
  CHECK(summary(p) == V{"E:a.com", "E:c.com"});
  CHECK(p.stats.invalid == 1);
  CHECK(p.stats.first_invalid.at(0).line == 1);
}

TEST_CASE("browser-only and unsupported adblock rules are skipped and counted", "[format]") {
  Parsed p = parse(
      "[Adblock Plus]\n"
      "##.ad-banner\n"
      "example.com##.sponsored\n"
      "###id-banner\n"
      "||a.com/ads/banner.js\n"
      "||a.com^$third-party\n"
      "||a.com^$script,domain=b.com\n"
      "example.com#@#.ad\n"
      "||c.com^$ctag=device_tv\n"
      "||d.com^$dnsrewrite=1.2.3.4\n"
      "||ok.com^\n");
  CHECK(summary(p) == V{"S:ok.com"});
  CHECK(p.stats.skipped_browser == 7);
  CHECK(p.stats.skipped_unsupported == 2);
  CHECK(p.stats.invalid == 0);
}

TEST_CASE("adblock modifiers are parsed", "[format]") {
  Parsed p = parse(
      "[Adblock Plus]\n"
      "||a.com^$dnstype=AAAA|~A\n"
      "||b.com^$client=192.168.1.0/24|~10.0.0.1|'Frank\\'s laptop'\n"
      "||c.com^$badfilter\n"
      "||d.com^$dnstype=BOGUS\n");
  REQUIRE(p.rules.size() == 3);
  CHECK(p.rules[0].dnstype == std::vector<uint16_t>{28});
  CHECK(p.rules[0].not_dnstype == std::vector<uint16_t>{1});
  CHECK(p.rules[0].text == "||a.com^$dnstype=AAAA|~A");
  CHECK_FALSE(p.rules[0].plain());
  CHECK(p.rules[1].client == std::vector<std::string>{"192.168.1.0/24", "Frank's laptop"});
  CHECK(p.rules[1].not_client == std::vector<std::string>{"10.0.0.1"});
  CHECK(p.rules[2].badfilter);
  CHECK(p.stats.invalid == 1);
  CHECK(p.stats.first_invalid.at(0).line == 5);
}

TEST_CASE("header lines and options decide what a plain name covers", "[format]") {
  struct Case {
    const char* what;
    std::string text;
    std::string file;
    bool subdomains_option;
    RuleKind kind;
  };
  const Case cases[] = {
      {"no hint", "a.com\n", "list.txt", false, RuleKind::Exact},
      {"HaGeZi onlydomains header", "# Syntax: Domains (without subdomains)\na.com\n", "x.txt", false,
       RuleKind::Subtree},
      {"HaGeZi legacy header", "# Syntax: Domains (including possible subdomains)\na.com\n", "x.txt", false,
       RuleKind::Exact},
      {"hosts legacy header", "# Syntax: Hosts (including possible subdomains)\n0.0.0.0 a.com\n", "x.txt", false,
       RuleKind::Exact},
      {"onlydomains file name", "a.com\n", "pro-onlydomains.txt", false, RuleKind::Subtree},
      {"subdomains=true option", "a.com\n", "list.txt", true, RuleKind::Subtree},
      {"subdomains=true on hosts", "0.0.0.0 a.com\n", "list.txt", true, RuleKind::Subtree},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    Parsed p = parse(c.text, c.file, c.subdomains_option);
    REQUIRE(p.rules.size() == 1);
    CHECK(p.rules[0].name == "a.com");
    CHECK(p.rules[0].kind == c.kind);
  }
}

TEST_CASE("pi-hole regex extras", "[format]") {
  Parsed p = parse("^ads?\\.;querytype=AAAA\n(^|\\.)x\\.com$ # note\n^bad(\n^inv$;invert\n", "regex.list");
  REQUIRE(p.rules.size() == 2);
  CHECK(p.rules[0].name == "^ads?\\.");
  CHECK(p.rules[0].dnstype == std::vector<uint16_t>{28});
  CHECK(p.rules[1].name == "(^|\\.)x\\.com$");
  CHECK(p.stats.invalid == 1);
  CHECK(p.stats.first_invalid.at(0).line == 3);
  CHECK(p.stats.skipped_unsupported == 1);
}

TEST_CASE("parse_entry understands allow/deny entry spellings", "[format]") {
  struct Case {
    const char* pattern;
    RuleKind kind;
    const char* name;
  };
  const Case cases[] = {
      {"a.com", RuleKind::Exact, "a.com"},
      {"*.a.com", RuleKind::Subtree, "a.com"},
      {"||a.com^", RuleKind::Subtree, "a.com"},
      {"/^ad[0-9]+\\./", RuleKind::Regex, "^ad[0-9]+\\."},
      {"A.Com.", RuleKind::Exact, "a.com"},
  };
  for (const auto& c : cases) {
    INFO(c.pattern);
    Rule r;
    REQUIRE(parse_entry(c.pattern, r) == nullptr);
    CHECK(r.kind == c.kind);
    CHECK(r.name == c.name);
    CHECK(r.text == c.pattern);
  }
  Rule r;
  CHECK(parse_entry("not a domain", r) != nullptr);
  CHECK(parse_entry("localhost", r) != nullptr);
  REQUIRE(parse_entry("||a.com^$important", r) == nullptr);
  CHECK(r.important);
}

TEST_CASE("random bytes never crash the parser and every line is accounted for", "[format]") {
  std::mt19937 rng(99);
  const std::string alphabet = "ab.-_*|^$@#!/\\()[]{}=,;~'\" \t\r\n0123456789:%\xC3\xA9\xEF\xBB\xBF";
  for (int round = 0; round < 50; ++round) {
    std::string text;
    for (int i = 0; i < 2000; ++i) text += alphabet[rng() % alphabet.size()];
    Parsed p = parse(text);
    const ParseStats& s = p.stats;
    CHECK(s.rules == p.rules.size());
    CHECK(s.first_invalid.size() <= kKeptInvalid);
    for (const Rule& r : p.rules) {
      if (r.kind != RuleKind::Regex) CHECK(r.name.find_first_of("*|^$/ ") == std::string::npos);
    }
  }
}

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "helpers.hpp"
#include "hush/blocklists/compiled_lists.h"
#include "hush/blocklists/domain.h"

using namespace bltest;

namespace {

// (name, covers subdomains) pairs of a compiled list, for comparing formats.
// The set keeps no names, so they come from the file's own rules: every
// entry is one of them, and an entry answers for its exact name first.
std::set<std::pair<std::string, bool>> names_of(const std::string& path, const CompiledLists& cl) {
  std::set<std::pair<std::string, bool>> out;
  for (const Rule& r : parse(slurp(path), path).rules) {
    if (!r.plain() || r.allow) continue;
    cl.block.for_each_match(r.name, [&](uint32_t, bool subtree, size_t len) {
      if (len == r.name.size()) out.emplace(r.name, subtree);
      return true;
    });
  }
  CHECK(out.size() == cl.block.size());
  return out;
}

CompiledLists compile_file(const std::string& path) {
  ListSource s;
  s.name = path;
  s.path = path;
  return compile_lists({s});
}

// A count stated in the file's header (the first 20 lines; StevenBlack repeats
// per-source counts further down).
size_t header_count(const std::string& text, const std::string& key) {
  size_t header_end = 0;
  for (int i = 0; i < 20 && header_end != std::string::npos; ++i) header_end = text.find('\n', header_end + 1);
  size_t k = text.find(key);
  if (k == std::string::npos || k > header_end) return 0;
  std::string digits;
  for (size_t i = k + key.size(); i < text.size() && text[i] != '\n'; ++i) {
    if (std::isdigit(static_cast<unsigned char>(text[i]))) digits += text[i];
  }
  return digits.empty() ? 0 : std::stoul(digits);
}

}  // namespace

TEST_CASE("one HaGeZi list compiles to the same names in every format", "[real]") {
  const std::string adblock_file = kData + "hagezi_adblock_native.lgwebos.txt";
  const auto adblock = names_of(adblock_file, compile_file(adblock_file));
  REQUIRE(adblock.size() == 18);
  for (const auto& [name, subtree] : adblock) CHECK(subtree);
  for (const char* f : {"hagezi_wildcard_native.lgwebos.txt", "hagezi_wildcard_native.lgwebos-onlydomains.txt",
                        "hagezi_dnsmasq_native.lgwebos.txt", "hagezi_rpz_native.lgwebos.txt"}) {
    INFO(f);
    CompiledLists cl = compile_file(kData + f);
    CHECK(cl.lists[0].stats.invalid == 0);
    CHECK(names_of(kData + f, cl) == adblock);
  }
}

TEST_CASE("committed excerpts parse without invalid lines", "[real]") {
  struct Case {
    const char* file;
    Format format;
    size_t rules;
  };
  const Case cases[] = {
      {"hagezi-legacy_domains_native.lgwebos.head.txt", Format::Domains, 49},
      {"hagezi-legacy_hosts_native.xiaomi-compressed.head.txt", Format::Hosts, 5 * 9},
      {"StevenBlack_hosts.head.txt", Format::Hosts, 20},
      {"crazy-max_hosts_spy_v6.head.txt", Format::Hosts, 14},
      {"crazy-max_dnscrypt_spy.head.txt", Format::Domains, 20},  // mixed: ties go to domains
      {"crazy-max_openwrt_spy_dnsmasq.head.conf", Format::Dnsmasq, 16},
      {"Perflyst_SmartTV.excerpt.txt", Format::Domains, 8},
      {"Perflyst_regex.list", Format::Regex, 14},
  };
  for (const auto& c : cases) {
    INFO(c.file);
    Parsed p = parse(slurp(kData + c.file), c.file);
    CHECK(p.stats.detected == c.format);
    CHECK(p.stats.invalid == 0);
    CHECK(p.stats.rules == c.rules);
  }
}

TEST_CASE("StevenBlack excerpt: boilerplate skipped, inline comments stripped", "[real]") {
  Parsed p = parse(slurp(kData + "StevenBlack_hosts.head.txt"));
  CHECK(p.stats.self_entries == 14);
  std::set<std::string> names;
  for (const auto& r : p.rules) names.insert(r.name);
  CHECK(names.count("xvtelink.com") == 1);
  CHECK(names.count("mailmetromedia.amp.permutive.com") == 1);
  CHECK(names.count("localhost") == 0);
  CHECK(names.count("ip6-allrouters") == 0);
}

TEST_CASE("every shared list parses, counts match SOURCES.tsv and the headers", "[real][shared]") {
  if (!std::filesystem::exists(kShared + "SOURCES.tsv")) {
    WARN("shared blocklists not present; skipping");
    return;
  }
  std::istringstream tsv(slurp(kShared + "SOURCES.tsv"));
  std::string line;
  std::getline(tsv, line);  // header
  size_t checked = 0;
  while (std::getline(tsv, line)) {
    std::vector<std::string> col;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, '\t');) col.push_back(c);
    REQUIRE(col.size() >= 7);
    const std::string& file = col[0];
    if (file.rfind("AdguardTeam_dist", 0) == 0) continue;  // entity maps, not blocklists
    INFO(file);
    const std::string text = slurp(kShared + file);
    CompiledLists cl = compile_file(kShared + file);
    const ParseStats& s = cl.lists[0].stats;
    // SOURCES.tsv counts newlines; a file may lack the final one.
    CHECK(s.lines == std::stoul(col[6]) + (text.empty() || text.back() == '\n' ? 0 : 1));
    CHECK(s.invalid == 0);
    CHECK(s.rules > 0);
    const size_t compressed = file.find("-compressed");
    if (compressed != std::string::npos) {
      // Nine names a line: the same names as the uncompressed file.
      std::string plain = file;
      plain.erase(compressed, 11);
      CompiledLists p = compile_file(kShared + plain);
      CHECK(s.rules == p.lists[0].stats.rules);
      CHECK(names_of(kShared + file, cl) == names_of(kShared + plain, p));
    } else if (size_t n = header_count(text, "Number of entries:")) {
      CHECK(s.rules == n);  // HaGeZi states its entry count (RPZ: lines, d and *.d)
    }
    if (size_t n = header_count(text, "Number of unique domains:")) CHECK(cl.block.size() == n);
    ++checked;
  }
  CHECK(checked == 83);
}

TEST_CASE("HaGeZi Pro in adblock and wildcard form block the same names", "[real][shared]") {
  if (!std::filesystem::exists(kShared + "hagezi_adblock_pro.txt")) return;
  CompiledLists a = compile_file(kShared + "hagezi_adblock_pro.txt");
  CompiledLists w = compile_file(kShared + "hagezi_wildcard_pro.txt");
  CompiledLists o = compile_file(kShared + "hagezi_wildcard_pro-onlydomains.txt");
  CHECK(a.block.size() == 168310);
  const auto in_a = names_of(kShared + "hagezi_adblock_pro.txt", a);
  CHECK(in_a == names_of(kShared + "hagezi_wildcard_pro.txt", w));
  CHECK(in_a == names_of(kShared + "hagezi_wildcard_pro-onlydomains.txt", o));
  CHECK(static_cast<double>(a.block.memory_bytes()) / static_cast<double>(a.block.size()) < 16.0);
}

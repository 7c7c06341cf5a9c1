#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "helpers.hpp"
#include "hush/blocklists/persist.h"

using namespace bltest;

namespace {

void flip_byte(const std::string& path, std::streamoff from_end) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-from_end, std::ios::end);
  char c = 0;
  f.get(c);
  f.seekp(-from_end, std::ios::end);
  f.put(static_cast<char>(c ^ 0x5a));
}

struct CacheFixture {
  TempDir dir;
  PolicyConfig cfg;
  CacheFixture() {
    cfg.lists.push_back({"ads", dir.write("ads.txt", "||ads.com^\n0.0.0.0 exact.org\n@@||ok.ads.com^\n"
                                                     "||six.com^$dnstype=AAAA\n/^re[0-9]+\\./\n")});
    cfg.lists.push_back({"kids", dir.write("kids.txt", "games.com\n"), {"kids"}});
    cfg.compiled_cache_path = dir.path("compiled.hush");
  }
  void check_decisions(const Policy& p) const {
    CHECK(p.decide("x.ads.com", 1, kDefaultGroup, nullptr).action == Action::Block);
    CHECK(p.decide("ok.ads.com", 1, kDefaultGroup, nullptr).action == Action::Allow);
    CHECK(p.decide("exact.org", 1, kDefaultGroup, nullptr).list == "ads");
    CHECK(p.decide("six.com", 28, kDefaultGroup, nullptr).action == Action::Block);
    CHECK(p.decide("six.com", 1, kDefaultGroup, nullptr).action == Action::Pass);
    CHECK(p.decide("re5.org", 1, kDefaultGroup, nullptr).action == Action::Block);
    CHECK(p.decide("games.com", 1, kDefaultGroup, nullptr).action == Action::Pass);
    CHECK(p.decide("games.com", 1, p.group_bit("kids"), nullptr).action == Action::Block);
  }
};

}  // namespace

TEST_CASE("compiled lists survive a write and mmap round trip", "[persist]") {
  CacheFixture f;
  BuildReport first;
  auto p1 = Policy::build(f.cfg, &first);
  CHECK_FALSE(first.from_cache);
  CHECK(first.cache_status == "missing; rebuilt and written");
  REQUIRE(std::filesystem::exists(f.cfg.compiled_cache_path));
  f.check_decisions(*p1);

  BuildReport second;
  auto p2 = Policy::build(f.cfg, &second);
  CHECK(second.from_cache);
  CHECK(second.errors.empty());
  f.check_decisions(*p2);
  CHECK(p2->entry_count() == p1->entry_count());
  REQUIRE(second.lists.size() == 2);
  CHECK(second.lists[0].entries == first.lists[0].entries);
  CHECK(second.lists[0].stats.by_format == first.lists[0].stats.by_format);
}

TEST_CASE("cache with many names: lookups identical after mapping", "[persist]") {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "0.0.0.0 host" + std::to_string(i) + ".example" + std::to_string(i % 97) + ".com\n";
  CompiledLists built = compile_texts({{{"big", "big.txt"}, text, {}}});
  const std::string path = dir.path("c.hush");
  REQUIRE(save_compiled(built, 42, path).empty());
  CompiledLists loaded;
  REQUIRE(load_compiled(path, 42, loaded).empty());
  REQUIRE(loaded.block.size() == 20000);
  for (int i = 0; i < 20000; i += 37) {
    std::string n = "host" + std::to_string(i) + ".example" + std::to_string(i % 97) + ".com";
    CHECK(loaded.block.contains_exact(n));
  }
  CHECK_FALSE(loaded.block.contains_exact("host1.example2.com"));
}

TEST_CASE("corrupt, truncated, foreign and stale caches are rejected with a reason", "[persist]") {
  TempDir dir;
  CompiledLists built = compile_texts({{{"l", "l.txt"}, "a.com\n||b.com^\n", {}}});
  const std::string path = dir.path("c.hush");
  CompiledLists out;

  SECTION("missing") { CHECK(load_compiled(path, 1, out) == "missing"); }
  SECTION("checksum") {
    REQUIRE(save_compiled(built, 1, path).empty());
    flip_byte(path, 20);
    CHECK(load_compiled(path, 1, out) == "corrupt: checksum mismatch");
  }
  SECTION("truncated") {
    REQUIRE(save_compiled(built, 1, path).empty());
    std::filesystem::resize_file(path, std::filesystem::file_size(path) - 8);
    CHECK(load_compiled(path, 1, out) == "corrupt: size mismatch (truncated?)");
  }
  SECTION("too short") {
    std::ofstream(path) << "x";
    CHECK(load_compiled(path, 1, out) == "corrupt: file too short");
  }
  SECTION("not ours") {
    std::ofstream(path) << std::string(200, 'z');
    CHECK(load_compiled(path, 1, out) == "corrupt: not a hush compiled list file");
  }
  SECTION("stale key") {
    REQUIRE(save_compiled(built, 1, path).empty());
    CHECK(load_compiled(path, 2, out) == "stale: lists or their files changed");
  }
  CHECK(out.block.empty());
}

TEST_CASE("a changed list file makes the cache stale and the policy is rebuilt", "[persist]") {
  CacheFixture f;
  Policy::build(f.cfg, nullptr);
  std::ofstream(f.cfg.lists[1].path, std::ios::app) << "more.com\n";
  BuildReport rep;
  auto p = Policy::build(f.cfg, &rep);
  CHECK_FALSE(rep.from_cache);
  CHECK(rep.cache_status.rfind("stale", 0) == 0);
  CHECK(p->decide("more.com", 1, p->group_bit("kids"), nullptr).action == Action::Block);
  BuildReport again;
  Policy::build(f.cfg, &again);
  CHECK(again.from_cache);
}

TEST_CASE("a corrupt cache file falls back to parsing the lists", "[persist]") {
  CacheFixture f;
  Policy::build(f.cfg, nullptr);
  flip_byte(f.cfg.compiled_cache_path, 30);
  BuildReport rep;
  auto p = Policy::build(f.cfg, &rep);
  CHECK_FALSE(rep.from_cache);
  CHECK(rep.cache_status.rfind("corrupt", 0) == 0);
  f.check_decisions(*p);
}

TEST_CASE("the cache key follows list configuration", "[persist]") {
  TempDir dir;
  std::vector<ListSource> a{{"x", dir.write("x.txt", "a.com\n")}};
  auto b = a;
  b[0].subdomains = true;
  CHECK(cache_key(a) == cache_key(a));
  CHECK(cache_key(a) != cache_key(b));
  auto c = a;
  c[0].groups = {"kids"};  // groups are applied at load, not cached
  CHECK(cache_key(a) == cache_key(c));
}

TEST_CASE("a cache file of another format version is rebuilt, not misread", "[persist]") {
  CacheFixture f;
  Policy::build(f.cfg, nullptr);
  {
    // The version follows the 8-byte magic; the checksum covers only the
    // payload, so this is exactly what an older hush left behind.
    std::fstream file(f.cfg.compiled_cache_path, std::ios::in | std::ios::out | std::ios::binary);
    const uint32_t old_version = kCacheVersion - 1;
    file.seekp(8);
    file.write(reinterpret_cast<const char*>(&old_version), sizeof old_version);
  }
  CompiledLists out;
  CHECK(load_compiled(f.cfg.compiled_cache_path, cache_key(f.cfg.lists), out) ==
        "stale: format version " + std::to_string(kCacheVersion - 1));
  CHECK(out.block.empty());
  BuildReport rep;
  auto p = Policy::build(f.cfg, &rep);
  CHECK_FALSE(rep.from_cache);
  CHECK(rep.cache_status == "stale: format version " + std::to_string(kCacheVersion - 1) + "; rebuilt and written");
  f.check_decisions(*p);
  BuildReport again;
  auto p2 = Policy::build(f.cfg, &again);
  CHECK(again.from_cache);
  f.check_decisions(*p2);
}

TEST_CASE("write_cache_later leaves the file for write_cache()", "[persist]") {
  CacheFixture f;
  f.cfg.write_cache_later = true;
  BuildReport rep;
  auto p = Policy::build(f.cfg, &rep);
  CHECK_FALSE(rep.from_cache);
  CHECK(rep.cache_status == "missing; rebuilt, to be written");
  CHECK_FALSE(std::filesystem::exists(f.cfg.compiled_cache_path));
  f.check_decisions(*p);  // serves before the file exists
  CHECK(p->write_cache().empty());
  REQUIRE(std::filesystem::exists(f.cfg.compiled_cache_path));
  const auto written = std::filesystem::last_write_time(f.cfg.compiled_cache_path);
  CHECK(p->write_cache().empty());  // once only
  CHECK(std::filesystem::last_write_time(f.cfg.compiled_cache_path) == written);

  BuildReport second;
  auto p2 = Policy::build(f.cfg, &second);
  CHECK(second.from_cache);
  f.check_decisions(*p2);
  CHECK(p2->write_cache().empty());  // from the cache: nothing to write
}

TEST_CASE("edge names from a list: trailing dot, upper case, IDN, the longest name", "[persist]") {
  TempDir dir;
  const std::string longest = std::string(62, 'a') + "." + std::string(62, 'b') + "." + std::string(62, 'c') + "." +
                              std::string(62, 'd') + ".e";
  PolicyConfig cfg;
  cfg.lists.push_back({"l", dir.write("l.txt", "0.0.0.0 Ads.Example.COM.\n0.0.0.0 bücher.de\n0.0.0.0 " + longest +
                                                   "\n0.0.0.0 " + longest + "x\n")});
  cfg.compiled_cache_path = dir.path("c.hush");
  for (bool from_cache : {false, true}) {
    INFO("from cache: " << from_cache);
    BuildReport rep;
    auto p = Policy::build(cfg, &rep);
    REQUIRE(rep.from_cache == from_cache);
    CHECK(rep.lists[0].stats.invalid == 1);  // 254 bytes
    CHECK(p->decide("ads.example.com", 1, kDefaultGroup, nullptr).action == Action::Block);
    CHECK(p->decide("xn--bcher-kva.de", 1, kDefaultGroup, nullptr).action == Action::Block);
    CHECK(p->decide(longest, 1, kDefaultGroup, nullptr).action == Action::Block);
    CHECK(p->decide("x.ads.example.com", 1, kDefaultGroup, nullptr).action == Action::Pass);
    CHECK(p->decide("example.com", 1, kDefaultGroup, nullptr).action == Action::Pass);
  }
}

#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>

#include "hush/blocklists/compiled_set.h"

using namespace hush::blocklists;

namespace {

struct Hit {
  std::vector<uint32_t> ids;
  bool subtree;
  size_t len;
  bool operator==(const Hit&) const = default;
};

std::vector<Hit> matches(const CompiledSet& s, const SetTable& t, std::string_view name) {
  std::vector<Hit> out;
  s.for_each_match(name, [&](uint32_t set, bool subtree, size_t len) {
    out.push_back({t.members(set), subtree, len});
    return false;
  });
  return out;
}

struct Item {
  std::string name;
  uint32_t id;
  bool subtree;
};

CompiledSet build(const std::vector<Item>& items, SetTable& t, bool dedupe, size_t* dropped = nullptr) {
  uint32_t n = 0;
  for (const auto& i : items) n = std::max(n, i.id + 1);
  t = SetTable(n);
  CompiledSet::Builder b;
  for (const auto& i : items) b.add(i.name, i.id, i.subtree);
  return b.build(t, dedupe, dropped);
}

}  // namespace

TEST_CASE("exact and subtree entries match the right names", "[compiled_set]") {
  SetTable t;
  CompiledSet s = build({{"a.com", 0, true}, {"b.com", 1, false}, {"x.y.b.com", 2, true}, {"a-b.com", 3, false}}, t,
                        false);
  REQUIRE(s.size() == 4);
  using H = std::vector<Hit>;
  CHECK(matches(s, t, "a.com") == H{{{0}, true, 5}});
  CHECK(matches(s, t, "deep.sub.a.com") == H{{{0}, true, 5}});
  CHECK(matches(s, t, "b.com") == H{{{1}, false, 5}});
  CHECK(matches(s, t, "sub.b.com").empty());  // exact entries do not cover subdomains
  CHECK(matches(s, t, "z.x.y.b.com") == H{{{2}, true, 9}});
  CHECK(matches(s, t, "y.b.com").empty());
  CHECK(matches(s, t, "a-b.com") == H{{{3}, false, 7}});
  CHECK(matches(s, t, "xa.com").empty());     // not a label boundary
  CHECK(matches(s, t, "com").empty());
  CHECK(matches(s, t, "zzz.org").empty());
  CHECK(matches(s, t, "0.org").empty());      // sorts before every entry
}

TEST_CASE("nested subtree entries from different lists are all reported, nearest first", "[compiled_set]") {
  SetTable t;
  CompiledSet s = build({{"com", 0, true}, {"ads.com", 1, true}, {"x.ads.com", 2, false}, {"m.x.ads.com", 3, true},
                         {"ads.com", 4, false}},
                        t, false);
  using H = std::vector<Hit>;
  CHECK(matches(s, t, "q.m.x.ads.com") == H{{{3}, true, 11}, {{1}, true, 7}, {{0}, true, 3}});
  CHECK(matches(s, t, "x.ads.com") == H{{{2}, false, 9}, {{1}, true, 7}, {{0}, true, 3}});
  CHECK(matches(s, t, "ads.com") == H{{{1}, true, 7}, {{4}, false, 7}, {{0}, true, 3}});
  CHECK(matches(s, t, "b.x.ads.com") == H{{{1}, true, 7}, {{0}, true, 3}});
  CHECK(matches(s, t, "other.org").empty());
}

TEST_CASE("duplicates merge into one entry with a list set", "[compiled_set]") {
  SetTable t;
  CompiledSet s = build({{"a.com", 2, false}, {"a.com", 0, false}, {"a.com", 2, false}, {"a.com", 1, true}}, t, false);
  REQUIRE(s.size() == 1);
  using H = std::vector<Hit>;
  CHECK(matches(s, t, "a.com") == H{{{1}, true, 5}, {{0, 2}, false, 5}});
  CHECK(matches(s, t, "b.a.com") == H{{{1}, true, 5}});
}

TEST_CASE("names covered by a wildcard parent from the same or a superset of lists are dropped", "[compiled_set]") {
  SetTable t;
  size_t dropped = 0;
  CompiledSet s = build({{"a.com", 0, true},
                         {"a.com", 1, true},
                         {"x.a.com", 0, false},    // covered by list 0
                         {"y.x.a.com", 1, true},   // covered by list 1
                         {"z.a.com", 2, false},    // list 2 is not covering: kept
                         {"w.a.com", 0, false},
                         {"w.a.com", 2, false},    // {0,2} not a subset of {0,1}: kept
                         {"a-b.com", 0, false}},   // sibling, not below a.com
                        t, true, &dropped);
  CHECK(dropped == 2);
  CHECK(s.size() == 4);
  CHECK_FALSE(s.contains_exact("x.a.com"));
  CHECK(s.contains_exact("z.a.com"));
  CHECK(s.contains_exact("a-b.com"));
  // Coverage is unchanged by the drop.
  CHECK(matches(s, t, "x.a.com") == std::vector<Hit>{{{0, 1}, true, 5}});
}

// The builder skips names whose anchor word shows no subtree entry, and
// names of up to three labels take their anchor's hash instead of being
// hashed again: a name it wrongly kept or dropped would still be found, so
// the count of dropped names is checked against a brute-force one.
TEST_CASE("dedupe drops exactly the names a wildcard ancestor covers", "[compiled_set]") {
  std::mt19937 rng(777);
  const char* labels[] = {"a", "b", "com", "net", "x", "ads", "zz"};
  for (bool tld_wildcards : {false, true}) {
    std::vector<Item> items;
    for (int i = 0; i < 4000; ++i) {
      std::string n;
      for (int k = 1 + static_cast<int>(rng() % 6); k > 0; --k) n += (n.empty() ? "" : ".") + std::string(labels[rng() % std::size(labels)]);
      const bool single = n.find('.') == std::string::npos;
      const bool subtree = (!single || (tld_wildcards && rng() % 8 == 0)) && rng() % 5 == 0;
      items.push_back({n, static_cast<uint32_t>(rng() % 3), subtree});
    }
    std::map<std::string, std::pair<std::set<uint32_t>, std::set<uint32_t>>> ref;  // exact ids, subtree ids
    for (const auto& i : items) (i.subtree ? ref[i.name].second : ref[i.name].first).insert(i.id);
    size_t expected = 0;
    for (const auto& [name, ids] : ref) {
      std::set<uint32_t> covered;
      for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
        auto it = ref.find(name.substr(dot + 1));
        if (it != ref.end()) covered.insert(it->second.second.begin(), it->second.second.end());
      }
      std::set<uint32_t> own = ids.first;
      own.insert(ids.second.begin(), ids.second.end());
      expected += !covered.empty() && std::includes(covered.begin(), covered.end(), own.begin(), own.end());
    }
    SetTable t;
    size_t dropped = 0;
    CompiledSet s = build(items, t, true, &dropped);
    INFO("tld wildcards " << tld_wildcards);
    REQUIRE(expected > 100);
    CHECK(dropped == expected);
    CHECK(s.size() == ref.size() - expected);
  }
}

TEST_CASE("lookups agree with a brute-force reference on random sets", "[compiled_set]") {
  std::mt19937 rng(12345);
  const char* labels[] = {"a", "b", "ab", "a-b", "c", "com", "net", "x", "ads", "_t", "0", "zz"};
  auto random_name = [&](int max_labels) {
    int n = 1 + static_cast<int>(rng() % static_cast<unsigned>(max_labels));
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i) s += '.';
      s += labels[rng() % std::size(labels)];
    }
    return s;
  };
  for (bool dedupe : {false, true}) {
    std::vector<Item> items;
    for (int i = 0; i < 3000; ++i) {
      std::string n = random_name(4);
      // Single-label wildcards would cover nearly everything and leave dedupe nothing to keep.
      bool subtree = n.find('.') != std::string::npos && rng() % 4 == 0;
      items.push_back({n, static_cast<uint32_t>(rng() % 4), subtree});
    }
    SetTable t;
    CompiledSet s = build(items, t, dedupe);
    REQUIRE(s.size() > CompiledSet::kBucketSlots * 40);  // spans many buckets

    std::map<std::string, std::pair<std::set<uint32_t>, std::set<uint32_t>>> ref;  // exact ids, subtree ids
    for (const auto& i : items) (i.subtree ? ref[i.name].second : ref[i.name].first).insert(i.id);
    auto reference = [&](const std::string& q) {
      std::set<uint32_t> ids;
      for (size_t pos = 0;; ) {
        std::string suffix = q.substr(pos);
        auto it = ref.find(suffix);
        if (it != ref.end()) {
          if (pos == 0) ids.insert(it->second.first.begin(), it->second.first.end());
          ids.insert(it->second.second.begin(), it->second.second.end());
        }
        size_t dot = q.find('.', pos);
        if (dot == std::string::npos) break;
        pos = dot + 1;
      }
      return ids;
    };
    for (int i = 0; i < 5000; ++i) {
      std::string q = random_name(6);
      std::set<uint32_t> got;
      s.for_each_match(q, [&](uint32_t set, bool, size_t len) {
        CHECK(len <= q.size());
        for (uint32_t id : t.members(set)) got.insert(id);
        return false;
      });
      INFO(q << " dedupe=" << dedupe);
      REQUIRE(got == reference(q));
    }
  }
}

TEST_CASE("compact encoding stays under the memory target", "[compiled_set]") {
  SetTable t;
  CompiledSet::Builder b;
  std::mt19937 rng(7);
  for (int i = 0; i < 100000; ++i) {
    b.add("host" + std::to_string(rng() % 100000) + ".site" + std::to_string(i % 5000) + ".com", 0, false);
  }
  CompiledSet s = b.build(t, true);
  REQUIRE(s.size() > 90000);
  CHECK(static_cast<double>(s.memory_bytes()) / static_cast<double>(s.size()) < 16.0);
}

TEST_CASE("names sharing their first 16 bytes across many blocks are all found", "[compiled_set]") {
  // Every key starts "com\x01statistics\x01" (17 bytes), so the block index
  // cannot tell these blocks apart and the lookup must compare keys.
  std::vector<Item> items;
  for (uint32_t i = 0; i < 2000; ++i) {
    items.push_back({"n" + std::to_string(i * 7) + ".statistics.com", i % 3, i % 10 == 0});
  }
  items.push_back({"tracker.com", 3, true});
  SetTable t;
  CompiledSet s = build(items, t, false);
  REQUIRE(s.size() == items.size());
  using H = std::vector<Hit>;
  for (const Item& it : items) {
    CAPTURE(it.name);
    CHECK(matches(s, t, it.name) == H{{{it.id}, it.subtree, it.name.size()}});
  }
  CHECK(matches(s, t, "a.n70.statistics.com") == H{{{1}, true, 18}});  // i = 10: a subtree entry
  CHECK(matches(s, t, "a.n77.statistics.com").empty());               // i = 11: exact only
  CHECK(matches(s, t, "n8.statistics.com").empty());                  // between two entries
  CHECK(matches(s, t, "statistics.com").empty());
  CHECK(matches(s, t, "zzzz.statistics.com").empty());
}

TEST_CASE("edge names: longest, many labels, empty labels, odd bytes", "[compiled_set]") {
  const std::string longest = std::string(62, 'a') + "." + std::string(62, 'b') + "." + std::string(62, 'c') + "." +
                              std::string(62, 'd') + ".e";
  std::string labels127 = "x";
  for (int i = 1; i < 127; ++i) labels127 += ".x";
  REQUIRE(labels127.size() == 253);
  SetTable t;
  CompiledSet s = build({{longest, 0, false},
                         {labels127, 1, false},
                         {"x.x.x", 2, true},
                         {std::string(63, 'q') + ".com", 3, true}},
                        t, false);
  REQUIRE(s.size() == 4);
  using H = std::vector<Hit>;
  CHECK(matches(s, t, longest) == H{{{0}, false, 253}});
  CHECK(matches(s, t, longest.substr(1)).empty());  // one byte shorter: another name
  CHECK(matches(s, t, labels127) == H{{{1}, false, 253}, {{2}, true, 5}});
  CHECK(matches(s, t, "z." + std::string(63, 'q') + ".com") == H{{{3}, true, 67}});
  CHECK(matches(s, t, "x..x.x.x") == H{{{2}, true, 5}});  // an empty label is still a label
  CHECK(matches(s, t, ".x.x.x") == H{{{2}, true, 5}});
  CHECK(matches(s, t, "x.x.x.") .empty());                 // the resolver strips the trailing dot
  CHECK(matches(s, t, std::string(254, 'a')).empty());     // too long to be a name
  CHECK(matches(s, t, std::string("\0.x.x.x", 7)) == H{{{2}, true, 5}});
  CHECK(matches(s, t, std::string("\xff\x01.x.x.x", 8)) == H{{{2}, true, 5}});
  CHECK(matches(s, t, "").empty());
}

TEST_CASE("labels are hashed with their boundaries", "[compiled_set]") {
  SetTable t;
  CompiledSet s = build({{"ab.c", 0, true}, {"abcdefghijklmnop.q", 1, false}, {"a.bcdefghijklmnopq.r", 2, false}}, t,
                        false);
  using H = std::vector<Hit>;
  CHECK(matches(s, t, "a.bc").empty());
  CHECK(matches(s, t, "abc").empty());
  CHECK(matches(s, t, "x.ab.c") == H{{{0}, true, 4}});
  CHECK(matches(s, t, "abcdefghijklmnop.q") == H{{{1}, false, 18}});  // a 16-byte label
  CHECK(matches(s, t, "abcdefghijklmnopq").empty());
  CHECK(matches(s, t, "abcdefghijklmno.pq").empty());
  CHECK(matches(s, t, "a.bcdefghijklmnopq.r") == H{{{2}, false, 20}});
  CHECK(matches(s, t, "a.bcdefghijklmnopq.s").empty());
}

TEST_CASE("the anchor filter shrinks to the number of registrable domains", "[compiled_set]") {
  // 100,000 names under 50 registrable domains: the filter is sized for
  // names, then folded down to the anchors, and leaves the table alone.
  SetTable t;
  CompiledSet::Builder b;
  for (int i = 0; i < 100000; ++i) b.add("h" + std::to_string(i) + ".site" + std::to_string(i % 50) + ".com", 0, false);
  CompiledSet s = b.build(t, true);
  REQUIRE(s.size() == 100000);
  CHECK(s.filter().size() * 64 < 50 * 40);
  CHECK(static_cast<double>(s.memory_bytes()) / static_cast<double>(s.size()) < 10.0);
  CHECK(s.contains_exact("h4242.site42.com"));
  CHECK_FALSE(s.contains_exact("h4242.site43.com"));
  CHECK_FALSE(s.contains_exact("h4242.site42.net"));
}

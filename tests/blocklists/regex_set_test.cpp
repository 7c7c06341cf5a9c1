#include <catch2/catch.hpp>

#include "hush/blocklists/regex_set.h"

using namespace hush::blocklists;

TEST_CASE("regexes are searched unanchored unless they anchor themselves", "[regex]") {
  RegexSet rs;
  std::string err;
  REQUIRE(rs.add("^ad[0-9]+\\.", &err) == 0);
  REQUIRE(rs.add("(^|\\.)lgsmartad\\.com$", &err) == 1);
  REQUIRE(rs.add("track", &err) == 2);
  CHECK(rs.add("^bad(", &err) == -1);
  CHECK_FALSE(err.empty());
  REQUIRE(rs.compile(&err));
  auto hits = [&](std::string_view s) {
    std::vector<size_t> v;
    rs.for_each_match(s, [&](size_t i) {
      v.push_back(i);
      return false;
    });
    return v;
  };
  CHECK(hits("ad12.example.com") == std::vector<size_t>{0});
  CHECK(hits("xad12.example.com").empty());
  CHECK(hits("lgsmartad.com") == std::vector<size_t>{1});
  CHECK(hits("us.lgsmartad.com") == std::vector<size_t>{1});
  CHECK(hits("notlgsmartad.com").empty());
  CHECK(hits("lgsmartad.com.evil.org").empty());
  CHECK(hits("ad1.tracker.net") == std::vector<size_t>{0, 2});
  CHECK(rs.size() == 3);
}

TEST_CASE("a thousand regexes compile into one set and report the right index", "[regex]") {
  RegexSet rs;
  std::string err;
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(rs.add("(^|\\.)ads" + std::to_string(i) + "[a-z]*\\.example\\.(com|net)$", &err) == i);
  }
  REQUIRE(rs.compile(&err));
  for (int i : {0, 1, 499, 999}) {
    std::vector<size_t> v;
    rs.for_each_match("x.ads" + std::to_string(i) + "foo.example.net", [&](size_t k) {
      v.push_back(k);
      return false;
    });
    CHECK(v == std::vector<size_t>{static_cast<size_t>(i)});
  }
  CHECK_FALSE(rs.matches("ads1000.example.com"));
  CHECK_FALSE(rs.matches("www.example.com"));
}

TEST_CASE("an empty set matches nothing", "[regex]") {
  RegexSet rs;
  std::string err;
  REQUIRE(rs.compile(&err));
  CHECK_FALSE(rs.matches("anything"));
}

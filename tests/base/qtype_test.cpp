#include <catch2/catch.hpp>

#include "base/qtype.hpp"

using hush::qtype_from_name;
using hush::qtype_name;

TEST_CASE("query-type names and numbers round-trip") {
  for (unsigned t = 0; t <= 65535; ++t) {
    std::string name = qtype_name(uint16_t(t));
    auto back = qtype_from_name(name);
    REQUIRE(back);
    REQUIRE(*back == t);
  }
  CHECK(qtype_name(28) == "AAAA");
  CHECK(qtype_name(65) == "HTTPS");
  CHECK(qtype_name(999) == "TYPE999");
}

TEST_CASE("query-type names are read in any case, and RFC 3597 numbers too") {
  CHECK(qtype_from_name("aaaa") == uint16_t(28));
  CHECK(qtype_from_name("Https") == uint16_t(65));
  CHECK(qtype_from_name("type65") == uint16_t(65));
  CHECK(qtype_from_name("TYPE65535") == uint16_t(65535));
  CHECK_FALSE(qtype_from_name("TYPE65536"));
  CHECK_FALSE(qtype_from_name("TYPE"));
  CHECK_FALSE(qtype_from_name("TYPE6x"));
  CHECK_FALSE(qtype_from_name("28"));
  CHECK_FALSE(qtype_from_name(""));
  CHECK_FALSE(qtype_from_name("AAAAA"));
}

#include <catch2/catch.hpp>

#include "base/address.hpp"

using hush::format_address;
using hush::parse_address;

TEST_CASE("addresses parse in the forms people write") {
  struct Case {
    const char* text;
    const char* formatted;  // nullptr: must fail
  };
  const Case cases[] = {
      {"127.0.0.1", "127.0.0.1:53"},
      {"127.0.0.1:5353", "127.0.0.1:5353"},
      {"[::1]:5353", "[::1]:5353"},
      {"::1", "[::1]:53"},
      {"[fe80::1]", "[fe80::1]:53"},
      {"127.0.0.1:0", nullptr},
      {"127.0.0.1:70000", nullptr},
      {"127.0.0.1:x", nullptr},
      {"localhost", nullptr},
      {"[::1", nullptr},
      {"[::1]5353", nullptr},
      {"", nullptr},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    sockaddr_storage ss;
    std::string error;
    bool ok = parse_address(c.text, 53, ss, error);
    CHECK(ok == (c.formatted != nullptr));
    if (ok) CHECK(format_address(ss) == c.formatted);
    else CHECK_FALSE(error.empty());
  }
}

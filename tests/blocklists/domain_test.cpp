#include <catch2/catch.hpp>

#include "hush/blocklists/domain.h"

using namespace hush::blocklists;

TEST_CASE("normalize_domain accepts real-world spellings", "[domain]") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"example.com", "example.com"},
      {"Example.COM", "example.com"},                              // upper case
      {"example.com.", "example.com"},                             // trailing dot
      {"_xmpp-client._tcp.managed.xmpp.foxtel.com.au", "_xmpp-client._tcp.managed.xmpp.foxtel.com.au"},
      {"bücher.de", "xn--bcher-kva.de"},                           // IDN to punycode
      {"BÜCHER.de", "xn--bcher-kva.de"},                           // IDN upper case
      {"faß.de", "xn--fa-hia.de"},                                 // non-transitional keeps ß
      {"xn--6krsm155l.spotify.com.cn", "xn--6krsm155l.spotify.com.cn"},
      {"localhost", "localhost"},
  };
  for (const auto& c : cases) {
    std::string out;
    INFO(c.in);
    REQUIRE(normalize_domain(c.in, out) == nullptr);
    CHECK(out == c.out);
  }
}

TEST_CASE("normalize_domain rejects what is not a name", "[domain]") {
  const char* bad[] = {"", ".", "a..b", ".a.com", "a b.com", "a*b.com", "ads/x", "a.com/",
                       "exa\xff"  "mple.com"};
  for (const char* b : bad) {
    std::string out;
    INFO(b);
    CHECK(normalize_domain(b, out) != nullptr);
  }
  std::string out;
  CHECK(normalize_domain(std::string(64, 'a') + ".com", out) != nullptr);
  CHECK(normalize_domain(std::string(63, 'a') + ".com", out) == nullptr);
  std::string long_name;
  while (long_name.size() < 254) long_name += "abcdefghi.";
  long_name.resize(254);
  CHECK(normalize_domain(long_name, out) != nullptr);
}

TEST_CASE("self entries are recognised", "[domain]") {
  for (const char* s : {"localhost", "localhost.localdomain", "local", "broadcasthost", "0.0.0.0", "ip6-localhost",
                        "ip6-allnodes"}) {
    INFO(s);
    CHECK(is_self_entry(s));
  }
  CHECK_FALSE(is_self_entry("localhost.example.com"));
  CHECK_FALSE(is_self_entry("example.com"));
}

TEST_CASE("normalize_domain gives the same reasons on its fast and full paths", "[domain]") {
  std::string out = "a-much-longer-previous-name.example.org";  // reused buffers must not leak old bytes
  REQUIRE(normalize_domain("A.B", out) == nullptr);
  CHECK(out == "a.b");
  CHECK(std::string(normalize_domain("a..b", out)) == "empty label");
  CHECK(std::string(normalize_domain("a.com..", out)) == "empty label");
  CHECK(std::string(normalize_domain("a b.com", out)) == "character not allowed in a domain name");
  CHECK(std::string(normalize_domain(std::string(64, 'a') + ".com", out)) == "label longer than 63 characters");
  std::string long_name;
  while (long_name.size() < 254) long_name += "abcdefghi.";
  long_name.resize(254);
  CHECK(std::string(normalize_domain(long_name, out)) == "name longer than 253 characters");
  // 253 bytes is the longest name there is: four 62-byte labels and a 1-byte one.
  const std::string longest = std::string(62, 'a') + "." + std::string(62, 'b') + "." + std::string(62, 'c') + "." +
                              std::string(62, 'd') + ".E";
  REQUIRE(longest.size() == 253);
  REQUIRE(normalize_domain(longest + ".", out) == nullptr);
  CHECK(out.size() == 253);
  CHECK(out.back() == 'e');
}

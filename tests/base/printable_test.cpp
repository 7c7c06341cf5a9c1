#include <catch2/catch.hpp>

#include <string>

#include "base/printable.hpp"

using hush::name_needs_escapes;
using hush::name_to_text;
using hush::printable;

namespace {
std::string text_of(const std::string& wire, size_t cap = 1024) {
  std::string out(cap, '\0');
  size_t n = name_to_text(reinterpret_cast<const uint8_t*>(wire.data()), wire.size(), out.data(), cap);
  out.resize(n);
  return out;
}
bool escapes(const std::string& wire) {
  return name_needs_escapes(reinterpret_cast<const uint8_t*>(wire.data()), wire.size());
}
}  // namespace

TEST_CASE("printable leaves printable ASCII and turns every other byte into \\DDD") {
  CHECK(printable("www.example.com") == "www.example.com");
  CHECK(printable("a b~") == "a b~");
  CHECK(printable(std::string("\x1b]0;pwned\x07", 10)) == "\\027]0;pwned\\007");
  CHECK(printable(std::string("\0\r\n\x7f\x80\xff", 6)) == "\\000\\013\\010\\127\\128\\255");
  CHECK(printable("a\\.b") == "a\\.b");  // already presentation format
  CHECK(printable("").empty());
}

TEST_CASE("name_to_text writes the presentation format of RFC 1035 5.1") {
  CHECK(text_of(std::string("\3www\7example\3com\0", 17)) == "www.example.com");
  CHECK(text_of(std::string("\3WwW\0", 5)) == "www");
  // A dot inside a label is not a label boundary.
  CHECK(text_of(std::string("\3a.b\3com\0", 9)) == "a\\.b.com");
  CHECK(text_of(std::string("\3a\\b\0", 5)) == "a\\\\b");
  CHECK(text_of(std::string("\6\x1b]0;x\x07\0", 8)) == "\\027]0;x\\007");
  CHECK(text_of(std::string("\2a \0", 4)) == "a ");  // printable, as the dashboard shows it
  CHECK(text_of(std::string("\0", 1)).empty());
}

TEST_CASE("name_to_text never writes past its room nor half an escape") {
  std::string wire("\4\x1b\x1b\x1b\x1b\0", 6);
  CHECK(text_of(wire, 8) == "\\027\\027");
  CHECK(text_of(wire, 11) == "\\027\\027");
  CHECK(text_of(std::string("\3abc\3def\0", 9), 4) == "abc.");
}

TEST_CASE("name_needs_escapes is false for ordinary names only") {
  CHECK_FALSE(escapes(std::string("\3www\7example\3com\0", 17)));
  CHECK_FALSE(escapes(std::string("\4_dns\2-x\0", 9)));
  CHECK(escapes(std::string("\3a.b\0", 5)));
  CHECK(escapes(std::string("\3a\\b\0", 5)));
  CHECK(escapes(std::string("\2a\x07\0", 4)));
  CHECK(escapes(std::string("\2a\xc3\0", 4)));
}

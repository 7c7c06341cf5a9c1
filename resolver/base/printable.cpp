#include "base/printable.hpp"

namespace hush {

namespace {

bool plain(unsigned char c) { return c >= 0x20 && c < 0x7f && c != '.' && c != '\\'; }

// Writes `c` as presentation text at out[n]; false when it does not fit.
bool put(unsigned char c, char* out, size_t cap, size_t& n) {
  if (plain(c)) {
    if (n + 1 > cap) return false;
    out[n++] = char(c >= 'A' && c <= 'Z' ? c + 32 : c);
  } else if (c == '.' || c == '\\') {
    if (n + 2 > cap) return false;
    out[n++] = '\\';
    out[n++] = char(c);
  } else {
    if (n + 4 > cap) return false;
    out[n++] = '\\';
    out[n++] = char('0' + c / 100);
    out[n++] = char('0' + c / 10 % 10);
    out[n++] = char('0' + c % 10);
  }
  return true;
}

}  // namespace

size_t name_to_text(const uint8_t* wire, size_t len, char* out, size_t cap) {
  size_t n = 0;
  for (size_t off = 0; off < len && wire[off] != 0;) {
    size_t label = wire[off++];
    if (off + label > len) break;
    if (n > 0) {
      if (n + 1 > cap) break;
      out[n++] = '.';
    }
    for (size_t i = 0; i < label; ++i)
      if (!put(wire[off + i], out, cap, n)) return n;
    off += label;
  }
  return n;
}

bool name_needs_escapes(const uint8_t* wire, size_t len) {
  for (size_t off = 0; off < len && wire[off] != 0;) {
    size_t label = wire[off++];
    for (size_t i = 0; i < label && off + i < len; ++i)
      if (!plain(wire[off + i])) return true;
    off += label;
  }
  return false;
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(ch);
    } else {
      out.push_back('\\');
      out.push_back(char('0' + c / 100));
      out.push_back(char('0' + c / 10 % 10));
      out.push_back(char('0' + c % 10));
    }
  }
  return out;
}

}  // namespace hush

#include "dns/wire.hpp"

namespace hush::dns {

size_t skip_name(const uint8_t* msg, size_t len, size_t off) {
  size_t wire = 0;
  while (off < len) {
    uint8_t l = msg[off];
    if (l == 0) return off + 1;
    if ((l & 0xC0) == 0xC0) return off + 2 <= len ? off + 2 : 0;
    if (l & 0xC0) return 0;
    wire += l + 1;
    if (wire > kMaxNameWire) return 0;
    off += l + 1;
  }
  return 0;
}

namespace {
// Walks the name at `off` through its compression pointers; appends its
// lower-case dotted text to `out` unless that is null.
bool decode_name(const uint8_t* msg, size_t len, size_t off, std::string* out) {
  size_t wire = 1;
  // A pointer must point strictly backwards, which bounds the walk and rules out loops.
  size_t limit = off;
  while (off < len) {
    uint8_t l = msg[off];
    if (l == 0) return true;
    if ((l & 0xC0) == 0xC0) {
      if (off + 2 > len) return false;
      size_t target = size_t(l & 0x3F) << 8 | msg[off + 1];
      if (target >= limit) return false;
      off = limit = target;
      continue;
    }
    if (l & 0xC0) return false;
    wire += l + 1;
    if (wire > kMaxNameWire || off + 1 + l > len) return false;
    if (out) {
      if (!out->empty()) out->push_back('.');
      for (size_t i = 0; i < l; ++i) {
        char c = char(msg[off + 1 + i]);
        out->push_back(c >= 'A' && c <= 'Z' ? char(c + 32) : c);
      }
    }
    off += l + 1;
  }
  return false;
}
}  // namespace

bool read_name(const uint8_t* msg, size_t len, size_t off, std::string& out) {
  out.clear();
  return decode_name(msg, len, off, &out);
}

bool valid_name(const uint8_t* msg, size_t len, size_t off) { return decode_name(msg, len, off, nullptr); }

size_t question_end(const uint8_t* msg, size_t len) {
  if (len < kHeaderSize) return 0;
  size_t off = skip_name(msg, len, kHeaderSize);
  if (off == 0 || off + 4 > len) return 0;
  return off + 4;
}

}  // namespace hush::dns

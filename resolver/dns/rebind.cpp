#include "dns/rebind.hpp"

#include "dns/wire.hpp"

namespace hush::dns {

bool is_private_v4(const uint8_t a[4]) {
  return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 169 && a[1] == 254) ||
         (a[0] == 172 && (a[1] & 0xF0) == 16) || (a[0] == 192 && a[1] == 168) ||
         (a[0] == 100 && (a[1] & 0xC0) == 64);
}

bool is_private_v6(const uint8_t a[16]) {
  if ((a[0] & 0xFE) == 0xFC) return true;                        // fc00::/7
  if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) return true;        // fe80::/10
  if (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0) return true;        // fec0::/10
  for (int i = 0; i < 10; ++i)
    if (a[i] != 0) return false;
  if (a[10] == 0xFF && a[11] == 0xFF) return is_private_v4(a + 12);  // ::ffff:a.b.c.d
  if (a[10] != 0 || a[11] != 0 || a[12] != 0 || a[13] != 0 || a[14] != 0) return false;
  return a[15] <= 1;                                             // :: and ::1
}

bool answers_private_address(const uint8_t* msg, size_t len) {
  if (len < kHeaderSize) return false;
  Header h = read_header(msg);
  size_t off = kHeaderSize;
  for (unsigned i = 0; i < h.qdcount; ++i) {
    off = skip_name(msg, len, off);
    if (off == 0 || off + 4 > len) return false;
    off += 4;
  }
  for (unsigned i = 0; i < h.ancount; ++i) {
    off = skip_name(msg, len, off);
    if (off == 0 || off + 10 > len) return false;
    uint16_t rtype = get16(msg + off), rclass = get16(msg + off + 2), rdlen = get16(msg + off + 8);
    off += 10;
    if (off + rdlen > len) return false;
    if (rclass == kClassIn && ((rtype == type::A && rdlen == 4 && is_private_v4(msg + off)) ||
                               (rtype == type::AAAA && rdlen == 16 && is_private_v6(msg + off))))
      return true;
    off += rdlen;
  }
  return false;
}

}  // namespace hush::dns

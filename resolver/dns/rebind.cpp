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
  bool found = false;
  walk_records(msg, len, [&](const Record& r) {
    if (r.section != 1) return false;  // the answer section comes first
    const uint8_t* rdata = msg + r.rdata_offset;
    found = r.klass == kClassIn && ((r.type == type::A && r.rdlength == 4 && is_private_v4(rdata)) ||
                                    (r.type == type::AAAA && r.rdlength == 16 && is_private_v6(rdata)));
    return !found;
  });
  return found;
}

}  // namespace hush::dns

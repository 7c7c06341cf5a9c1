#include "base/random_hex.hpp"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace hush {

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), int(buf.size())) != 1) throw std::runtime_error("no random bytes");
  static const char digits[] = "0123456789abcdef";
  std::string out(2 * bytes, '0');
  for (size_t i = 0; i < bytes; ++i) {
    out[2 * i] = digits[buf[i] >> 4];
    out[2 * i + 1] = digits[buf[i] & 15];
  }
  return out;
}

}  // namespace hush

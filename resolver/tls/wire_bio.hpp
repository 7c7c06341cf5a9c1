// The BIO a server-side TLS session reads and writes through, for bytes
// that travel through libuv: reads take the bytes just received, writes are
// appended to a vector that is then handed to libuv as it is. Unlike a pair
// of BIO_s_mem, it keeps no buffer of its own between reads, so an idle
// connection holds none (1.4 KiB less per connection after the handshake,
// tests/bench/dot.sh and doh.sh) and each record is copied once less.
#pragma once

#include <openssl/bio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hush::tls {

struct Wire {
  const uint8_t* in = nullptr;  // received and not yet read by TLS
  size_t in_len = 0;
  std::vector<uint8_t> out;  // written by TLS, to be sent
};

// A BIO over `wire`, which outlives it; use it as both the read and the
// write BIO (SSL_set_bio(ssl, bio, bio) takes its one reference).
BIO* wire_bio(Wire* wire);

}  // namespace hush::tls

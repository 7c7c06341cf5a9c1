// Any datagram an upstream (or a spoofer) can send: the reply check, the
// cache's preparation of it, and serving it back to a client.
#include <cstdint>

#include "cache/cache.hpp"
#include "dns/answer.hpp"
#include "dns/wire.hpp"
#include "upstream/check.hpp"

using namespace hush;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const uint8_t qname[] = {3, 'w', 'w', 'w', 4, 't', 'e', 's', 't', 0};
  upstream::check_reply(data, size, size >= 2 ? dns::get16(data) : 0, qname, sizeof qname, 1, 1);
  cache::Entry e;
  if (!cache::prepare(data, size, {}, 1000, e)) return 0;
  size_t qend = dns::question_end(e.wire.data(), e.wire.size());
  if (qend == 0) return 0;
  dns::Query q;
  if (dns::parse_query(e.wire.data(), qend, q) != dns::ParseStatus::Ok) return 0;
  uint8_t out[65535];
  size_t n = dns::write_stored(e.wire.data(), e.wire.size(), e.ttl_offsets.data(), e.ttl_offsets.size(), 7,
                               q, out, 1232);
  dns::finish(out, n, sizeof out, q, 0, nullptr, 1232);
  return 0;
}

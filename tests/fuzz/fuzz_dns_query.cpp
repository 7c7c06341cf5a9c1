// Any datagram a client can send: the query reader and every answer writer
// that can follow it.
#include <cstdint>
#include <cstring>

#include "dns/answer.hpp"
#include "dns/query.hpp"

using namespace hush::dns;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Query q;
  ParseStatus st = parse_query(data, size, q);
  uint8_t out[65535];
  size_t n = write_error(q, st == ParseStatus::BadVers ? rcode::BadVers : rcode::FormErr, out, sizeof out);
  if (st == ParseStatus::Ok) {
    BlockAnswer how;
    uint16_t rc = 0;
    n = write_blocked(q, how, out, sizeof out, &rc);
    Ede ede{ede::Blocked, "blocked by fuzz"};
    n = finish(out, n, sizeof out, q, rc, &ede, q.has_edns ? q.udp_size : 512);
    n = write_upstream_query(1, q.qname_wire, q.qname_wire_len, q.qtype, q.qclass, q.do_bit, q.cd(), out,
                             sizeof out);
  }
  (void)n;
  return 0;
}

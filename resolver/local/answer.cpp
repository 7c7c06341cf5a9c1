#include "local/answer.hpp"

#include "dns/answer.hpp"

namespace hush::local {

size_t write_answer(const dns::Query& q, const Zone::Lookup& l, uint32_t negative_ttl, uint8_t* out,
                    size_t cap, uint16_t* rcode) {
  *rcode = l.kind == Zone::Kind::NxDomain ? dns::rcode::NxDomain : dns::rcode::NoError;
  size_t off = dns::write_error(q, *rcode, out, cap);
  if (off == 0) return 0;
  // Local data is authoritative: clients may rely on it as on any zone's.
  dns::put16(out + 2, dns::get16(out + 2) | dns::flag::AA);
  if (l.kind == Zone::Kind::Answer) {
    uint16_t count = 0;
    for (const Zone::Hop& hop : l.answer) {
      const Record& r = *hop.record;
      size_t next = dns::append_record(out, off, cap, hop.owner, r.type, r.ttl, r.rdata.data(), r.rdata.size());
      if (next == 0) break;
      off = next;
      ++count;
    }
    dns::put16(out + 6, count);
    return off;
  }
  size_t next = dns::append_soa(out, off, cap, l.apex, negative_ttl);
  if (next == 0) return off;
  dns::put16(out + 8, 1);
  return next;
}

}  // namespace hush::local

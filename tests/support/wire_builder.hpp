// Test messages built and read with ldns, so hush's hand-written reader and
// writer are checked against an independent implementation.
#pragma once

#include "dns/ldns.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hush::test {

struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;

// A query for `name`/`type`; `edns_size` 0 means no OPT record.
std::vector<uint8_t> make_query(const std::string& name, ldns_rr_type type, uint16_t id = 0x1234,
                                uint16_t edns_size = 0, bool do_bit = false);

// A response built from zone-file lines, e.g. {"a.test. 300 IN A 192.0.2.1"}.
std::vector<uint8_t> make_reply(const std::string& qname, ldns_rr_type type, uint16_t id,
                                ldns_pkt_rcode rcode, const std::vector<std::string>& answer,
                                const std::vector<std::string>& authority = {},
                                uint16_t edns_size = 0);

Pkt parse(const uint8_t* data, size_t len);
inline Pkt parse(const std::vector<uint8_t>& v) { return parse(v.data(), v.size()); }

// The first extended DNS error code (RFC 8914) in the OPT record, or 0.
uint16_t ede_code(ldns_pkt* p);
// The first field of the first answer record as text ("192.0.2.1"), or "".
std::string first_answer(ldns_pkt* p);

}  // namespace hush::test

// Writing answers for names hush answers itself.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dns/query.hpp"
#include "local/zone.hpp"

namespace hush::local {

// Writes the answer (records, or NXDOMAIN/NODATA with the zone's SOA) for a
// lookup that is not Kind::NotLocal. `negative_ttl` is the SOA's TTL and
// MINIMUM. Returns the length; `*rcode` receives the rcode used.
size_t write_answer(const dns::Query& q, const Zone::Lookup& l, uint32_t negative_ttl, uint8_t* out,
                    size_t cap, uint16_t* rcode);

}  // namespace hush::local

// Writing DNS messages into caller-owned buffers: error answers, answers
// served from a stored upstream reply, the OPT record, truncation, and the
// queries hush sends upstream. Hand-written for the same reason as query.hpp:
// these run per query and must not allocate. ldns checks every upstream reply
// before it is stored (upstream/check.cpp) and the tests read every one of
// these messages back with ldns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dns/query.hpp"

namespace hush::dns {

// The payload size hush offers in its own OPT record (the DNS flag day 2020
// value: no IP fragmentation on common paths).
constexpr uint16_t kOwnUdpSize = 1232;

struct Ede {
  uint16_t code = 0;
  std::string_view text;
};

// Writes header + echoed question (when it was readable) for `rcode`, which
// may be an extended rcode such as BADVERS. Returns the length written.
size_t write_error(const Query& q, uint16_t rcode, uint8_t* out, size_t cap);

// Writes a stored reply for `q`: the query's ID, RD/CD bits and the exact
// letter case of its question, with every TTL at `ttl_offsets` lowered by
// `age` seconds. `stored` must hold one question equal (ignoring case) to q's.
// When it does not fit in `cap`, only header and question go out, with TC.
size_t write_stored(const uint8_t* stored, size_t stored_len, const uint16_t* ttl_offsets,
                    size_t ttl_count, uint32_t age, const Query& q, uint8_t* out, size_t cap);

// Adds the OPT record when the query had one (with `ede` if given, and the
// upper bits of `rcode`), and truncates to header + question with TC set when
// the message would exceed `limit` bytes. Returns the final length.
size_t finish(uint8_t* out, size_t len, size_t cap, const Query& q, uint16_t rcode, const Ede* ede,
              size_t limit);

// What a blocked name is answered with.
enum class BlockMode : uint8_t {
  Null,      // 0.0.0.0 for A, :: for AAAA, NODATA for other types
  Ip,        // the configured addresses for A and AAAA, NODATA for other types
  NxDomain,  // NXDOMAIN
  NoData,    // NOERROR without records
};

struct BlockAnswer {
  BlockMode mode = BlockMode::Null;
  uint8_t ipv4[4] = {};
  uint8_t ipv6[16] = {};
  uint32_t ttl = 60;  // of the address records, and the SOA's TTL and MINIMUM
};

// Writes the sinkhole answer for `q`; negative answers carry a SOA so
// clients cache them for `how.ttl`. Returns the length; `*rcode` receives the
// rcode used (for finish()).
size_t write_blocked(const Query& q, const BlockAnswer& how, uint8_t* out, size_t cap,
                     uint16_t* rcode);

// Appends one record at `off` (the caller counts it in the header). An empty
// `owner` means the question name, written as a pointer to it. Returns the
// new end, or 0 when it does not fit or the owner is not a valid name.
size_t append_record(uint8_t* out, size_t off, size_t cap, std::string_view owner, uint16_t rtype,
                     uint32_t ttl, const uint8_t* rdata, size_t rdlength);

// Appends the SOA of a zone hush answers for itself ("hush.<apex>" as the
// primary server), with `ttl` as TTL and MINIMUM so negative answers are
// cached that long (RFC 2308).
size_t append_soa(uint8_t* out, size_t off, size_t cap, std::string_view apex, uint32_t ttl);

// The longest Client Subnet option hush sends: code, length, family, two
// prefix lengths and an IPv6 address.
constexpr size_t kMaxSubnetOption = 4 + 4 + 16;
// The most padding a query to an encrypted upstream carries (blocks of 128).
constexpr size_t kMaxPadding = 128 + 4;

// Cuts `s` to at most `max_v4` / `max_v6` bits of prefix, zeroing the bits
// past it (RFC 7871 6), so no more of the client's address leaves than that.
void truncate_subnet(ClientSubnet& s, unsigned max_v4, unsigned max_v6);

// Writes the query hush sends upstream: RD set, the lower-case name, EDNS with
// our payload size, the client's DO and CD bits, and `ecs` as a Client
// Subnet option when it names a family. With pad_block, a Padding option
// (RFC 7830) makes the message a multiple of that many bytes, so its length
// on an encrypted transport does not tell the name (RFC 8467 uses 128).
size_t write_upstream_query(uint16_t id, const uint8_t* qname_wire, size_t qname_len,
                            uint16_t qtype, uint16_t qclass, bool do_bit, bool cd, uint8_t* out,
                            size_t cap, const ClientSubnet* ecs = nullptr, size_t pad_block = 0);

}  // namespace hush::dns

// The hot-path reader for incoming queries: header, the one question and the
// EDNS OPT record. Hand-written rather than ldns_wire2pkt because it runs for
// every datagram and must not allocate; the benchmark in tests/bench shows
// ldns_wire2pkt alone costs more than the whole answer path here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dns/wire.hpp"

namespace hush::dns {

// The EDNS Client Subnet option (RFC 7871) of a query, as the client sent it.
struct ClientSubnet {
  uint8_t family = 0;  // 0: none (or malformed), 1: IPv4, 2: IPv6
  uint8_t source = 0;  // source prefix length
  uint8_t addr[16] = {};
  size_t addr_len() const { return (source + 7u) / 8u; }
};

struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  // The question name as received (letter case kept) and in lower-case dotted
  // form without the trailing dot, for matching.
  uint8_t qname_wire[kMaxNameWire];
  uint8_t qname_wire_len = 0;
  char name[kMaxNameWire + 1];
  uint8_t name_len = 0;
  size_t question_end = 0;   // offset just after the question
  bool has_edns = false;
  bool do_bit = false;
  uint8_t edns_version = 0;
  uint16_t udp_size = 512;   // the client's payload size, never below 512
  ClientSubnet ecs;

  std::string_view name_view() const { return {name, name_len}; }
  bool rd() const { return flags & flag::RD; }
  bool cd() const { return flags & flag::CD; }
};

enum class ParseStatus {
  Ok,
  Drop,     // not worth an answer: too short for a header, or a response
  FormErr,  // answer FORMERR
  NotImp,   // answer NOTIMP (opcode other than QUERY)
  BadVers,  // answer BADVERS (EDNS version above 0)
};

// Parses `len` bytes at `msg` into `q`. On anything but Ok, `q.id`, `q.flags`
// and (when it could be read) the question are still filled so an error answer
// can echo them; `q.question_end` is 0 when the question could not be read.
ParseStatus parse_query(const uint8_t* msg, size_t len, Query& q);

const char* to_string(ParseStatus s);

}  // namespace hush::dns

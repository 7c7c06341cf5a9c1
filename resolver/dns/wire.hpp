// Reading DNS wire format: header fields, names and resource records.
// Everything here works on caller-owned buffers, allocates nothing and never
// reads past the length it is given; malformed input is reported, not thrown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hush::dns {

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxNameWire = 255;
constexpr size_t kMaxLabel = 63;

namespace type {
constexpr uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16, AAAA = 28, SRV = 33,
                   OPT = 41, HTTPS = 65, ANY = 255;
}
namespace rcode {
constexpr uint8_t NoError = 0, FormErr = 1, ServFail = 2, NxDomain = 3, NotImp = 4, Refused = 5;
constexpr uint16_t BadVers = 16;
}
namespace ede {
constexpr uint16_t StaleAnswer = 3, Blocked = 15, NoReachableAuthority = 22, NetworkError = 23;
}
constexpr uint16_t kOptionEde = 15;
constexpr uint16_t kOptionClientSubnet = 8;
constexpr uint16_t kOptionPadding = 12;  // RFC 7830
constexpr uint16_t kClassIn = 1;
constexpr uint16_t kClassCh = 3;  // CHAOS

inline uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t get32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}

// Header flag bits, in the 16-bit flags word.
namespace flag {
constexpr uint16_t QR = 0x8000, AA = 0x0400, TC = 0x0200, RD = 0x0100, RA = 0x0080, Z = 0x0040, AD = 0x0020,
                   CD = 0x0010;
}
inline uint8_t opcode_of(uint16_t flags) { return (flags >> 11) & 0xF; }
inline uint8_t rcode_of(uint16_t flags) { return flags & 0xF; }

struct Header {
  uint16_t id, flags, qdcount, ancount, nscount, arcount;
};
inline Header read_header(const uint8_t* p) {
  return {get16(p), get16(p + 2), get16(p + 4), get16(p + 6), get16(p + 8), get16(p + 10)};
}

// Skips the (possibly compressed) name at `off`; returns the offset after it,
// or 0 when the name runs past `len` or uses a reserved label type.
size_t skip_name(const uint8_t* msg, size_t len, size_t off);

// Decodes the name at `off`, following compression pointers (bounded, so a
// loop is an error), into lower-case dotted text without the trailing dot
// ("" for the root). Returns false on any malformation.
bool read_name(const uint8_t* msg, size_t len, size_t off, std::string& out);
// The checks of read_name without the text.
bool valid_name(const uint8_t* msg, size_t len, size_t off);

struct Record {
  size_t offset;       // where the owner name starts
  size_t ttl_offset;   // where the 32-bit TTL sits
  size_t rdata_offset;
  uint16_t type, klass, rdlength;
  uint32_t ttl;
  uint8_t section;     // 1 answer, 2 authority, 3 additional
};

// Walks every record after the question section. `visit(const Record&)` is
// called in order; return false from it to stop early. Returns false if the
// message is malformed anywhere it walked.
template <class Visit>
bool walk_records(const uint8_t* msg, size_t len, Visit&& visit);

// Offset just past the question section of a message with QDCOUNT 1, or 0.
size_t question_end(const uint8_t* msg, size_t len);

template <class Visit>
bool walk_records(const uint8_t* msg, size_t len, Visit&& visit) {
  if (len < kHeaderSize) return false;
  Header h = read_header(msg);
  size_t off = kHeaderSize;
  for (unsigned i = 0; i < h.qdcount; ++i) {
    off = skip_name(msg, len, off);
    if (off == 0 || off + 4 > len) return false;
    off += 4;
  }
  const unsigned counts[3] = {h.ancount, h.nscount, h.arcount};
  for (uint8_t section = 1; section <= 3; ++section) {
    for (unsigned i = 0; i < counts[section - 1]; ++i) {
      Record r{};
      r.offset = off;
      off = skip_name(msg, len, off);
      if (off == 0 || off + 10 > len) return false;
      r.type = get16(msg + off);
      r.klass = get16(msg + off + 2);
      r.ttl_offset = off + 4;
      r.ttl = get32(msg + off + 4);
      r.rdlength = get16(msg + off + 8);
      r.rdata_offset = off + 10;
      r.section = section;
      off = r.rdata_offset + r.rdlength;
      if (off > len) return false;
      if (!visit(static_cast<const Record&>(r))) return true;
    }
  }
  return true;
}

}  // namespace hush::dns

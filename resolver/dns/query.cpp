#include "dns/query.hpp"

#include <cstring>

namespace hush::dns {

namespace {

// Reads an uncompressed question name. A compression pointer in a query's
// question can only point back into the header, so it is treated as malformed.
bool read_qname(const uint8_t* msg, size_t len, size_t& off, Query& q) {
  size_t wire = 0;
  size_t text = 0;
  while (true) {
    if (off >= len) return false;
    uint8_t l = msg[off];
    if (l == 0) {
      q.qname_wire[wire++] = 0;
      ++off;
      break;
    }
    if (l > kMaxLabel) return false;
    if (wire + l + 2 > kMaxNameWire || off + 1 + l > len) return false;
    q.qname_wire[wire++] = l;
    if (text) q.name[text++] = '.';
    for (size_t i = 0; i < l; ++i) {
      uint8_t c = msg[off + 1 + i];
      q.qname_wire[wire++] = c;
      q.name[text++] = char(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    off += 1 + l;
  }
  q.qname_wire_len = uint8_t(wire);
  q.name_len = uint8_t(text);
  q.name[text] = '\0';
  return true;
}

// RFC 7871 6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH, then just
// the bytes the source prefix covers. One that does not add up is ignored
// (never forwarded) rather than failing a query that is otherwise fine.
void read_subnet(const uint8_t* p, size_t len, ClientSubnet& out) {
  if (len < 4) return;
  uint16_t family = get16(p);
  uint8_t source = p[2];
  size_t max = family == 1 ? 32 : family == 2 ? 128 : 0;
  if (source > max || len - 4 != (source + 7u) / 8u) return;
  out.family = uint8_t(family);
  out.source = source;
  std::memcpy(out.addr, p + 4, len - 4);
}

// RFC 6891 6.1.2: the options must fill RDLEN exactly. An option that
// claims more than is left is a malformed query, not one to answer NOERROR.
bool read_options(const uint8_t* rdata, size_t rdlen, size_t available, Query& q) {
  if (rdlen > available) return false;
  size_t off = 0;
  while (off < rdlen) {
    if (rdlen - off < 4) return false;
    size_t opt_len = get16(rdata + off + 2);
    if (rdlen - off - 4 < opt_len) return false;
    if (get16(rdata + off) == kOptionClientSubnet) read_subnet(rdata + off + 4, opt_len, q.ecs);
    off += 4 + opt_len;
  }
  return true;
}

}  // namespace

ParseStatus parse_query(const uint8_t* msg, size_t len, Query& q) {
  q.question_end = 0;
  q.has_edns = false;
  q.do_bit = false;
  q.edns_version = 0;
  q.udp_size = 512;
  q.ecs.family = 0;
  if (len < kHeaderSize) return ParseStatus::Drop;
  Header h = read_header(msg);
  q.id = h.id;
  q.flags = h.flags;
  if (h.flags & flag::QR) return ParseStatus::Drop;

  size_t off = kHeaderSize;
  bool question_ok = h.qdcount == 1 && read_qname(msg, len, off, q) && off + 4 <= len;
  if (question_ok) {
    q.qtype = get16(msg + off);
    q.qclass = get16(msg + off + 2);
    off += 4;
    q.question_end = off;
  }
  if (opcode_of(h.flags) != 0) return ParseStatus::NotImp;
  if (!question_ok) return ParseStatus::FormErr;

  // Queries carry no answer or authority records in practice, but they are
  // legal, so skip them rather than reject.
  for (unsigned i = 0; i < unsigned(h.ancount) + h.nscount; ++i) {
    off = skip_name(msg, len, off);
    if (off == 0 || off + 10 > len) return ParseStatus::FormErr;
    off += 10 + get16(msg + off + 8);
    if (off > len) return ParseStatus::FormErr;
  }
  for (unsigned i = 0; i < h.arcount; ++i) {
    size_t name_at = off;
    off = skip_name(msg, len, off);
    if (off == 0 || off + 10 > len) return ParseStatus::FormErr;
    uint16_t rtype = get16(msg + off);
    if (rtype == type::OPT) {
      // RFC 6891 6.1.1: exactly one OPT, owned by the root.
      if (q.has_edns || msg[name_at] != 0) return ParseStatus::FormErr;
      q.has_edns = true;
      uint16_t size = get16(msg + off + 2);
      q.udp_size = size < 512 ? 512 : size;
      q.edns_version = msg[off + 5];
      q.do_bit = msg[off + 6] & 0x80;
      if (!read_options(msg + off + 10, get16(msg + off + 8), len - off - 10, q)) return ParseStatus::FormErr;
    }
    off += 10 + get16(msg + off + 8);
    if (off > len) return ParseStatus::FormErr;
  }
  if (q.has_edns && q.edns_version != 0) return ParseStatus::BadVers;
  return ParseStatus::Ok;
}

const char* to_string(ParseStatus s) {
  switch (s) {
    case ParseStatus::Ok: return "ok";
    case ParseStatus::Drop: return "dropped";
    case ParseStatus::FormErr: return "malformed";
    case ParseStatus::NotImp: return "opcode not implemented";
    case ParseStatus::BadVers: return "unsupported EDNS version";
  }
  return "?";
}

}  // namespace hush::dns

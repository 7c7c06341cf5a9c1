#include "dns/answer.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace hush::dns {

namespace {

// RD, RA and CD are defined for QUERY only (RFC 1035 4.1.1, RFC 4035 3.2.2):
// an answer to any other opcode keeps just the opcode and the rcode, as BIND
// does, so it claims nothing about a request hush did not understand. AA is
// never set here: only answers from hush's own data add it (local/answer.cpp).
uint16_t answer_flags(const Query& q, uint16_t rcode) {
  uint16_t opcode = q.flags & 0x7800;
  if (opcode != 0) return flag::QR | opcode | (rcode & 0xF);
  return flag::QR | (q.flags & (flag::RD | flag::CD)) | flag::RA | (rcode & 0xF);
}

size_t write_question(const Query& q, uint8_t* out, size_t off) {
  std::memcpy(out + off, q.qname_wire, q.qname_wire_len);
  off += q.qname_wire_len;
  put16(out + off, q.qtype);
  put16(out + off + 2, q.qclass);
  return off + 4;
}

}  // namespace

size_t write_error(const Query& q, uint16_t rcode, uint8_t* out, size_t cap) {
  if (cap < kHeaderSize + kMaxNameWire + 4) return 0;
  std::memset(out, 0, kHeaderSize);
  put16(out, q.id);
  put16(out + 2, answer_flags(q, rcode));
  if (q.question_end == 0) return kHeaderSize;
  put16(out + 4, 1);
  return write_question(q, out, kHeaderSize);
}

size_t write_stored(const uint8_t* stored, size_t stored_len, const uint16_t* ttl_offsets,
                    size_t ttl_count, uint32_t age, const Query& q, uint8_t* out, size_t cap) {
  size_t question_len = kHeaderSize + q.qname_wire_len + 4;
  if (stored_len < question_len || cap < question_len) return 0;
  bool fits = stored_len <= cap;
  std::memcpy(out, stored, fits ? stored_len : question_len);
  put16(out, q.id);
  // A stored reply came from upstream: hush is not an authority for it, so
  // the upstream's AA goes (RFC 1035 4.1.1), as does Z, which must be zero.
  // AD stays only for a client that asked for it with AD or DO (RFC 6840 5.7).
  uint16_t f = get16(out + 2);
  uint16_t dropped = flag::RD | flag::CD | flag::AA | flag::Z;
  if (!q.do_bit && !(q.flags & flag::AD)) dropped |= flag::AD;
  f = uint16_t((f & ~dropped) | (q.flags & (flag::RD | flag::CD)) | flag::RA);
  if (!fits) {
    put16(out + 2, f | flag::TC);
    std::memset(out + 6, 0, 6);
    std::memcpy(out + kHeaderSize, q.qname_wire, q.qname_wire_len);
    return question_len;
  }
  put16(out + 2, f);
  // Same name ignoring case, so the same length: names compressed against it stay valid.
  std::memcpy(out + kHeaderSize, q.qname_wire, q.qname_wire_len);
  for (size_t i = 0; i < ttl_count; ++i) {
    uint8_t* p = out + ttl_offsets[i];
    uint32_t ttl = get32(p);
    put32(p, ttl > age ? ttl - age : 0);
  }
  return stored_len;
}

size_t finish(uint8_t* out, size_t len, size_t cap, const Query& q, uint16_t rcode, const Ede* ede,
              size_t limit) {
  size_t opt_len = 0;
  if (q.has_edns) opt_len = 11 + (ede ? 4 + 2 + ede->text.size() : 0);
  if (len + opt_len > limit || len + opt_len > cap) {
    // RFC 2181 9: a truncated answer carries nothing a client could mistake for complete.
    len = q.question_end ? kHeaderSize + q.qname_wire_len + 4 : kHeaderSize;
    std::memset(out + 6, 0, 6);
    put16(out + 2, get16(out + 2) | flag::TC);
  }
  if (!q.has_edns || len + opt_len > cap) return len;
  uint8_t* p = out + len;
  p[0] = 0;
  put16(p + 1, type::OPT);
  put16(p + 3, kOwnUdpSize);
  p[5] = uint8_t(rcode >> 4);
  p[6] = 0;
  p[7] = q.do_bit ? 0x80 : 0;
  p[8] = 0;
  if (ede) {
    size_t option_len = 2 + ede->text.size();
    put16(p + 9, uint16_t(4 + option_len));
    put16(p + 11, kOptionEde);
    put16(p + 13, uint16_t(option_len));
    put16(p + 15, ede->code);
    std::memcpy(p + 17, ede->text.data(), ede->text.size());
  } else {
    put16(p + 9, 0);
  }
  put16(out + 10, get16(out + 10) + 1);
  return len + opt_len;
}

size_t write_blocked(const Query& q, const BlockAnswer& how, uint8_t* out, size_t cap,
                     uint16_t* rcode) {
  static constexpr uint8_t kSoaNames[] = {4, 'h', 'u', 's', 'h', 0,
                                          7, 'b', 'l', 'o', 'c', 'k', 'e', 'd', 0xC0, 0};
  constexpr size_t kRecordHeader = 2 + 10;  // compressed owner + type, class, TTL, rdlength
  constexpr size_t kMax = kHeaderSize + kMaxNameWire + 4 + kRecordHeader + sizeof kSoaNames + 20;
  *rcode = how.mode == BlockMode::NxDomain ? rcode::NxDomain : rcode::NoError;
  if (cap < kMax) return 0;
  // No AA: the sinkhole answer is hush's policy overriding a zone it does not
  // own, not that zone's data; the EDE says what happened instead.
  size_t off = write_error(q, *rcode, out, cap);
  const uint8_t* addr = nullptr;
  uint16_t addr_len = 0;
  if (how.mode == BlockMode::Null || how.mode == BlockMode::Ip) {
    if (q.qtype == type::A) {
      addr = how.ipv4;
      addr_len = 4;
    } else if (q.qtype == type::AAAA) {
      addr = how.ipv6;
      addr_len = 16;
    }
  }
  auto record_header = [&](uint16_t rtype, uint16_t rdlength) {
    put16(out + off, 0xC000 | kHeaderSize);  // the owner is the question name
    put16(out + off + 2, rtype);
    put16(out + off + 4, kClassIn);
    put32(out + off + 6, how.ttl);
    put16(out + off + 10, rdlength);
    off += kRecordHeader;
  };
  if (addr) {
    record_header(q.qtype, addr_len);
    std::memcpy(out + off, addr, addr_len);
    off += addr_len;
    put16(out + 6, 1);
    return off;
  }
  // RFC 2308: the SOA's MINIMUM (and TTL) tell clients how long to cache the
  // negative answer. Its names point into themselves so they need no space.
  record_header(type::SOA, uint16_t(sizeof kSoaNames + 20));
  size_t names_at = off;
  std::memcpy(out + off, kSoaNames, sizeof kSoaNames);
  out[names_at + sizeof kSoaNames - 1] = uint8_t(names_at);  // rname "blocked.hush."
  out[names_at + sizeof kSoaNames - 2] = uint8_t(0xC0 | (names_at >> 8));
  off += sizeof kSoaNames;
  put32(out + off, 1);          // serial
  put32(out + off + 4, 3600);   // refresh
  put32(out + off + 8, 600);    // retry
  put32(out + off + 12, 86400); // expire
  put32(out + off + 16, how.ttl);
  off += 20;
  put16(out + 8, 1);
  return off;
}

namespace {
// Dotted text to uncompressed wire form; 0 when a label or the name is too long.
size_t encode_name(std::string_view text, uint8_t* out, size_t cap) {
  size_t off = 0;
  while (!text.empty()) {
    size_t dot = text.find('.');
    std::string_view label = text.substr(0, dot);
    if (label.empty() || label.size() > kMaxLabel || off + 1 + label.size() + 1 > std::min(cap, kMaxNameWire))
      return 0;
    out[off++] = uint8_t(label.size());
    std::memcpy(out + off, label.data(), label.size());
    off += label.size();
    text = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  }
  if (off + 1 > cap) return 0;
  out[off++] = 0;
  return off;
}
}  // namespace

size_t append_record(uint8_t* out, size_t off, size_t cap, std::string_view owner, uint16_t rtype,
                     uint32_t ttl, const uint8_t* rdata, size_t rdlength) {
  size_t name_len;
  if (owner.empty()) {
    if (off + 2 > cap) return 0;
    put16(out + off, 0xC000 | kHeaderSize);
    name_len = 2;
  } else {
    name_len = encode_name(owner, out + off, cap - off);
    if (name_len == 0) return 0;
  }
  off += name_len;
  if (off + 10 + rdlength > cap || rdlength > 0xFFFF) return 0;
  put16(out + off, rtype);
  put16(out + off + 2, kClassIn);
  put32(out + off + 4, ttl);
  put16(out + off + 8, uint16_t(rdlength));
  std::memcpy(out + off + 10, rdata, rdlength);
  return off + 10 + rdlength;
}

size_t append_soa(uint8_t* out, size_t off, size_t cap, std::string_view apex, uint32_t ttl) {
  uint8_t rdata[2 * kMaxNameWire + 20];
  std::string mname = "hush." + std::string(apex), rname = "hostmaster." + std::string(apex);
  size_t m = encode_name(mname, rdata, kMaxNameWire);
  size_t r = m ? encode_name(rname, rdata + m, kMaxNameWire) : 0;
  if (!r) return 0;
  uint8_t* n = rdata + m + r;
  put32(n, 1);
  put32(n + 4, 3600);
  put32(n + 8, 600);
  put32(n + 12, 86400);
  put32(n + 16, ttl);
  return append_record(out, off, cap, apex, type::SOA, ttl, rdata, m + r + 20);
}

void truncate_subnet(ClientSubnet& s, unsigned max_v4, unsigned max_v6) {
  unsigned max = s.family == 1 ? max_v4 : max_v6;
  if (s.source > max) s.source = uint8_t(max);
  size_t keep = s.addr_len();
  std::memset(s.addr + keep, 0, sizeof s.addr - keep);
  if (s.source % 8) s.addr[keep - 1] &= uint8_t(0xFF << (8 - s.source % 8));
}

size_t write_upstream_query(uint16_t id, const uint8_t* qname_wire, size_t qname_len,
                            uint16_t qtype, uint16_t qclass, bool do_bit, bool cd, uint8_t* out,
                            size_t cap, const ClientSubnet* ecs, size_t pad_block) {
  size_t ecs_len = ecs && ecs->family ? 8 + ecs->addr_len() : 0;
  size_t unpadded = kHeaderSize + qname_len + 4 + 11 + ecs_len;
  // RFC 8467's block-length policy: the padding option's own 4 bytes count.
  size_t pad_len = pad_block ? (unpadded + 4 + pad_block - 1) / pad_block * pad_block - unpadded : 0;
  if (cap < unpadded + pad_len) return 0;
  std::memset(out, 0, kHeaderSize);
  put16(out, id);
  put16(out + 2, flag::RD | (cd ? flag::CD : 0));
  put16(out + 4, 1);
  put16(out + 10, 1);
  size_t off = kHeaderSize;
  for (size_t i = 0; i < qname_len; ++i) {
    uint8_t c = qname_wire[i];
    out[off + i] = c >= 'A' && c <= 'Z' ? uint8_t(c + 32) : c;
  }
  off += qname_len;
  put16(out + off, qtype);
  put16(out + off + 2, qclass);
  off += 4;
  out[off] = 0;
  put16(out + off + 1, type::OPT);
  put16(out + off + 3, kOwnUdpSize);
  out[off + 5] = 0;
  out[off + 6] = 0;
  out[off + 7] = do_bit ? 0x80 : 0;
  out[off + 8] = 0;
  put16(out + off + 9, uint16_t(ecs_len + pad_len));
  off += 11;
  if (ecs_len) {
    put16(out + off, kOptionClientSubnet);
    put16(out + off + 2, uint16_t(ecs_len - 4));
    put16(out + off + 4, ecs->family);
    out[off + 6] = ecs->source;
    out[off + 7] = 0;  // scope: always 0 in queries
    std::memcpy(out + off + 8, ecs->addr, ecs->addr_len());
  }
  off += ecs_len;
  if (pad_len) {
    put16(out + off, kOptionPadding);
    put16(out + off + 2, uint16_t(pad_len - 4));
    std::memset(out + off + 4, 0, pad_len - 4);
  }
  return off + pad_len;
}

}  // namespace hush::dns

#include "upstream/check.hpp"

#include "dns/wire.hpp"

namespace hush::upstream {

using namespace hush::dns;

namespace {
bool same_name(const uint8_t* a, const uint8_t* b, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    uint8_t x = a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i];
    uint8_t y = b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i];
    if (x != y) return false;
  }
  return true;
}
}  // namespace

ReplyCheck check_reply(const uint8_t* msg, size_t len, uint16_t id, const uint8_t* qname_wire,
                       size_t qname_len, uint16_t qtype, uint16_t qclass) {
  if (len < kHeaderSize) return ReplyCheck::Malformed;
  Header h = read_header(msg);
  if (!(h.flags & flag::QR)) return ReplyCheck::NotResponse;
  if (h.id != id) return ReplyCheck::WrongId;
  if (h.qdcount != 1 || len < kHeaderSize + qname_len + 4 ||
      !same_name(msg + kHeaderSize, qname_wire, qname_len) ||
      get16(msg + kHeaderSize + qname_len) != qtype ||
      get16(msg + kHeaderSize + qname_len + 2) != qclass)
    return ReplyCheck::WrongQuestion;
  // Every record must lie within the message and every owner name must
  // decode (compression pointers followed): hush reads answers only through
  // walk_records and read_name, which is what this checks. It replaced
  // ldns_wire2pkt, which also decoded every RDATA field into a tree of
  // allocations: ~0.3 us, 2 % of the CPU of a forwarded question.
  bool names_ok = true;
  bool framed = walk_records(msg, len, [&](const Record& r) { return names_ok = valid_name(msg, len, r.offset); });
  return framed && names_ok ? ReplyCheck::Ok : ReplyCheck::Malformed;
}

const char* to_string(ReplyCheck c) {
  switch (c) {
    case ReplyCheck::Ok: return "ok";
    case ReplyCheck::Malformed: return "malformed";
    case ReplyCheck::NotResponse: return "not a response";
    case ReplyCheck::WrongId: return "wrong id";
    case ReplyCheck::WrongQuestion: return "wrong question";
  }
  return "?";
}

}  // namespace hush::upstream

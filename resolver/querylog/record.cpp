#include "querylog/record.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>


#include "dns/wire.hpp"

namespace hush::querylog {

namespace {
constexpr const char* kStatusNames[kStatusCount] = {"forwarded", "cached", "blocked",
                                                    "local",     "refused", "error"};

// Decodes a possibly compressed name into `out` without allocating.
size_t read_name_into(const uint8_t* msg, size_t len, size_t off, char* out, size_t cap) {
  size_t n = 0;
  for (int jumps = 0; jumps < 32 && off < len;) {
    uint8_t l = msg[off];
    if (l == 0) return n;
    if ((l & 0xc0) == 0xc0) {
      if (off + 1 >= len) return 0;
      off = size_t((l & 0x3f) << 8 | msg[off + 1]);
      ++jumps;
      continue;
    }
    if (l > dns::kMaxLabel || off + 1 + l > len || n + l + 1 > cap) return 0;
    if (n) out[n++] = '.';
    for (size_t i = 0; i < l; ++i) {
      char c = char(msg[off + 1 + i]);
      out[n++] = (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
    }
    off += 1 + l;
  }
  return 0;
}
}  // namespace

const char* to_string(Status s) {
  size_t i = size_t(s);
  return i < kStatusCount ? kStatusNames[i] : "unknown";
}

bool parse_status(std::string_view text, Status& out) {
  for (size_t i = 0; i < kStatusCount; ++i)
    if (text == kStatusNames[i]) {
      out = Status(i);
      return true;
    }
  return false;
}

std::string Record::client_text() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (family == AF_INET || family == AF_INET6) inet_ntop(family, addr, buf, sizeof buf);
  return buf;
}

void Record::set_texts(std::string_view name, std::string_view reason, std::string_view answer,
                       std::string_view upstream, std::string_view client_id) {
  char* p = text;
  auto put = [&p](std::string_view s, size_t max, uint8_t& len) {
    len = uint8_t(s.size() < max ? s.size() : max);
    if (len) std::memcpy(p, s.data(), len);
    p += len;
  };
  put(name, kMaxName, name_len);
  put(reason, kMaxReason, reason_len);
  put(answer, kMaxAnswer, answer_len);
  put(upstream, kMaxUpstream, upstream_len);
  put(client_id, kMaxClientId, client_id_len);
}

std::string answer_text(std::string_view items) {
  std::string out;
  size_t i = 0;
  while (i < items.size()) {
    char kind = items[i++];
    char buf[INET6_ADDRSTRLEN];
    std::string_view piece;
    if ((kind == 'A' || kind == 'Q') && i + (kind == 'A' ? 4 : 16) <= items.size()) {
      int af = kind == 'A' ? AF_INET : AF_INET6;
      if (!inet_ntop(af, items.data() + i, buf, sizeof buf)) break;
      piece = buf;
      i += kind == 'A' ? 4 : 16;
    } else if ((kind == 'C' || kind == 'T') && i < items.size()) {
      size_t n = uint8_t(items[i++]);
      if (i + n > items.size()) break;
      if (kind == 'C') piece = "CNAME ";
      if (!out.empty()) out += ", ";
      out += piece;
      out.append(items.data() + i, n);
      i += n;
      continue;
    } else {
      break;
    }
    if (!out.empty()) out += ", ";
    out += piece;
  }
  return out;
}

size_t summarize_answer(const uint8_t* msg, size_t len, char* out, size_t cap, uint16_t& rcode) {
  if (!msg || len < dns::kHeaderSize) {
    rcode = 0xffff;
    return 0;
  }
  rcode = dns::rcode_of(dns::get16(msg + 2));
  size_t n = 0;
  int shown = 0;
  dns::walk_records(msg, len, [&](const dns::Record& r) {
    if (r.section != 1) return false;
    if (r.type == dns::type::A && r.rdlength == 4) {
      if (n + 5 > cap) return false;
      out[n] = 'A';
      std::memcpy(out + n + 1, msg + r.rdata_offset, 4);
      n += 5;
    } else if (r.type == dns::type::AAAA && r.rdlength == 16) {
      if (n + 17 > cap) return false;
      out[n] = 'Q';
      std::memcpy(out + n + 1, msg + r.rdata_offset, 16);
      n += 17;
    } else if (r.type == dns::type::CNAME) {
      char name[dns::kMaxNameWire];
      size_t nl = read_name_into(msg, len, r.rdata_offset, name, sizeof name);
      if (nl == 0) return true;
      if (n + 2 + nl > cap) return false;
      out[n] = 'C';
      out[n + 1] = char(nl);
      std::memcpy(out + n + 2, name, nl);
      n += 2 + nl;
    } else {
      return true;
    }
    return ++shown < 4;
  });
  return n;
}

void fill(Record& r, const Event& e) {
  r.time_us = e.time_us;
  r.latency_us = e.latency_us;
  r.qtype = e.qtype;
  r.transport = e.transport;
  r.status = e.status;
  r.family = 0;
  // All 16 bytes, whatever the family: the writer keys addresses by them,
  // and the ring reuses its bytes for records of any shape.
  std::memset(r.addr, 0, sizeof r.addr);
  if (e.client && e.client->sa_family == AF_INET) {
    r.family = AF_INET;
    std::memcpy(r.addr, &reinterpret_cast<const sockaddr_in*>(e.client)->sin_addr, 4);
  } else if (e.client && e.client->sa_family == AF_INET6) {
    const auto* a6 = &reinterpret_cast<const sockaddr_in6*>(e.client)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
      r.family = AF_INET;
      std::memcpy(r.addr, a6->s6_addr + 12, 4);
    } else {
      r.family = AF_INET6;
      std::memcpy(r.addr, a6->s6_addr, 16);
    }
  }
  // Texts go back to back, so only the bytes in use are written.
  char* p = r.text;
  auto put = [&p](std::string_view s, size_t max) {
    size_t n = s.size() < max ? s.size() : max;
    if (n) std::memcpy(p, s.data(), n);
    p += n;
    return n;
  };
  r.name_len = uint8_t(put(e.name, kMaxName));
  r.reason_len = uint8_t(put(e.reason, kMaxReason));
  size_t answer = summarize_answer(e.answer, e.answer_len, p, kMaxAnswer, r.rcode);
  p += answer;
  r.answer_len = uint8_t(answer);
  r.upstream_len = uint8_t(put(e.upstream, kMaxUpstream));
  r.client_id_len = uint8_t(put(e.client_id, kMaxClientId));
}

void Batch::add(const Record& r) {
  heads_.push_back(r);
  text_at_.push_back(uint32_t(text_.size()));
  text_.append(r.text, r.text_bytes());
}

void Batch::clear() {
  heads_.clear();
  text_at_.clear();
  text_.clear();
}

void Batch::reserve(size_t records) {
  heads_.reserve(records);
  text_at_.reserve(records);
  text_.reserve(records * 64);
}

}  // namespace hush::querylog

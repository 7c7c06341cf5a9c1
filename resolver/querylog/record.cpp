#include "querylog/record.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctime>

#include "dns/wire.hpp"

namespace hush::querylog {

namespace {
constexpr const char* kStatusNames[kStatusCount] = {"forwarded", "cached", "blocked",
                                                    "local",     "refused", "error"};

// Appends to a FixedText without overflowing; false once it is full.
template <size_t N>
bool append(FixedText<N>& t, std::string_view s) {
  size_t room = N - t.len;
  if (s.size() > room) return false;
  std::memcpy(t.data + t.len, s.data(), s.size());
  t.len = uint8_t(t.len + s.size());
  return true;
}

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

uint16_t summarize_answer(const uint8_t* msg, size_t len, FixedText<63>& out) {
  out.len = 0;
  if (!msg || len < dns::kHeaderSize) return 0xffff;
  uint16_t rcode = dns::rcode_of(dns::get16(msg + 2));
  int shown = 0;
  dns::walk_records(msg, len, [&](const dns::Record& r) {
    if (r.section != 1) return false;
    char text[dns::kMaxNameWire + 8];
    size_t n = 0;
    if (r.type == dns::type::A && r.rdlength == 4) {
      if (inet_ntop(AF_INET, msg + r.rdata_offset, text, sizeof text)) n = std::strlen(text);
    } else if (r.type == dns::type::AAAA && r.rdlength == 16) {
      if (inet_ntop(AF_INET6, msg + r.rdata_offset, text, sizeof text)) n = std::strlen(text);
    } else if (r.type == dns::type::CNAME) {
      std::memcpy(text, "CNAME ", 6);
      size_t nl = read_name_into(msg, len, r.rdata_offset, text + 6, sizeof text - 6);
      n = nl ? 6 + nl : 0;
    }
    if (n == 0) return true;
    std::string_view sep = shown ? ", " : "";
    if (out.len + sep.size() + n > sizeof out.data) return false;
    append(out, sep);
    append(out, {text, n});
    return ++shown < 4;
  });
  return rcode;
}

void fill(Record& r, const Event& e) {
  r.time_us = e.time_us;
  r.latency_us = e.latency_us;
  r.qtype = e.qtype;
  r.transport = e.transport;
  r.status = e.status;
  r.family = 0;
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
  r.name.assign(e.name);
  r.reason.assign(e.reason);
  r.upstream.assign(e.upstream);
  r.rcode = summarize_answer(e.answer, e.answer_len, r.answer);
}

int64_t now_us() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace hush::querylog

#include "clients/ptr.hpp"

#include <arpa/inet.h>

#include "dns/wire.hpp"

namespace hush::clients::ptr {

std::string reverse_name(const std::string& ip) {
  unsigned char b[16];
  std::string out;
  if (inet_pton(AF_INET, ip.c_str(), b) == 1) {
    for (int i = 3; i >= 0; --i) out += std::to_string(b[i]) + ".";
    return out + "in-addr.arpa";
  }
  if (inet_pton(AF_INET6, ip.c_str(), b) == 1) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
      out += hex[b[i] & 0xf];
      out += '.';
      out += hex[b[i] >> 4];
      out += '.';
    }
    return out + "ip6.arpa";
  }
  return "";
}

namespace {
// Dotted name to wire format; every label of a reverse name is short.
size_t put_name(const std::string& name, uint8_t* out, size_t cap) {
  size_t n = 0, start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    size_t l = dot - start;
    if (l == 0 || l > dns::kMaxLabel || n + 1 + l + 1 > cap) return 0;
    out[n++] = uint8_t(l);
    for (size_t i = 0; i < l; ++i) out[n++] = uint8_t(name[start + i]);
    start = dot + 1;
  }
  out[n++] = 0;
  return n;
}
}  // namespace

size_t write_query(uint16_t id, const std::string& ip, uint8_t* out, size_t cap) {
  std::string rev = reverse_name(ip);
  if (rev.empty() || cap < dns::kHeaderSize + 4) return 0;
  dns::put16(out, id);
  dns::put16(out + 2, dns::flag::RD);
  dns::put16(out + 4, 1);
  dns::put16(out + 6, 0);
  dns::put16(out + 8, 0);
  dns::put16(out + 10, 0);
  size_t n = put_name(rev, out + dns::kHeaderSize, cap - dns::kHeaderSize - 4);
  if (n == 0) return 0;
  size_t off = dns::kHeaderSize + n;
  dns::put16(out + off, dns::type::PTR);
  dns::put16(out + off + 2, dns::kClassIn);
  return off + 4;
}

bool read_answer(const uint8_t* msg, size_t len, uint16_t id, const std::string& ip, std::string& name) {
  if (len < dns::kHeaderSize) return false;
  dns::Header h = dns::read_header(msg);
  if (h.id != id || !(h.flags & dns::flag::QR) || dns::rcode_of(h.flags) != dns::rcode::NoError ||
      h.qdcount != 1)
    return false;
  std::string qname;
  if (!dns::read_name(msg, len, dns::kHeaderSize, qname) || qname != reverse_name(ip)) return false;
  size_t qend = dns::question_end(msg, len);
  if (qend == 0 || dns::get16(msg + qend - 4) != dns::type::PTR) return false;
  bool found = false;
  bool ok = dns::walk_records(msg, len, [&](const dns::Record& r) {
    if (r.section != 1) return false;
    if (r.type != dns::type::PTR) return true;
    found = dns::read_name(msg, len, r.rdata_offset, name) && !name.empty();
    return !found;
  });
  return ok && found;
}

std::vector<std::string> PtrCache::due(const std::vector<std::string>& candidates, int64_t now_s) {
  std::vector<std::string> out;
  for (const std::string& ip : candidates) {
    auto it = asked_.find(ip);
    if (it != asked_.end() && now_s - it->second < retry_s_) continue;
    asked_[ip] = now_s;
    out.push_back(ip);
  }
  return out;
}

}  // namespace hush::clients::ptr

#include "net/doh_request.hpp"

#include <algorithm>
#include <cctype>

#include "dns/wire.hpp"
#include "tls/server_context.hpp"

namespace hush::net::doh {

namespace {
constexpr std::string_view kPath = "/dns-query";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

Parsed fail(int status, std::string why) {
  Parsed p;
  p.status = status;
  p.why = std::move(why);
  return p;
}

// The value of `key` in a query string ("a=1&dns=AAAB"); nullopt-like via `found`.
std::string_view param(std::string_view query, std::string_view key, bool& found) {
  found = false;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != key) continue;
    found = true;
    return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return {};
}

// The media type without its parameters ("application/dns-message; charset=x").
std::string_view media_type(std::string_view v) {
  v = v.substr(0, v.find(';'));
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  return v;
}
}  // namespace

bool base64url_decode(std::string_view in, std::vector<uint8_t>& out) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  out.clear();
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '-') v = 62;
    else if (ch == '_') v = 63;
    else return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uint8_t(acc >> bits));
    }
  }
  return true;
}

Parsed parse(const Request& r) {
  const std::string_view path = r.target.substr(0, r.target.find('?'));
  const std::string_view query =
      path.size() < r.target.size() ? r.target.substr(path.size() + 1) : std::string_view{};
  if (path.substr(0, kPath.size()) != kPath) return fail(404, "not found: DNS over HTTPS is at /dns-query");
  std::string id;
  if (path.size() > kPath.size()) {
    if (path[kPath.size()] != '/') return fail(404, "not found: DNS over HTTPS is at /dns-query");
    id = tls::normalize_client_id(path.substr(kPath.size() + 1));
    if (id.empty()) return fail(404, "not found: a client ID is 1-63 letters, digits and '-'");
  }
  Parsed p;
  if (r.method == "GET") {
    bool found;
    std::string_view dns = param(query, "dns", found);
    if (!found) return fail(400, "GET needs the DNS message in ?dns= (base64url)");
    if (dns.size() > (kMaxMessage + 2) / 3 * 4) return fail(413, "the DNS message is over 65535 bytes");
    if (!base64url_decode(dns, p.message)) return fail(400, "?dns= is not base64url");
  } else if (r.method == "POST") {
    if (!iequals(media_type(r.content_type), kMediaType))
      return fail(415, "POST needs Content-Type: application/dns-message");
    if (r.body.size() > kMaxMessage) return fail(413, "the DNS message is over 65535 bytes");
    p.message.assign(r.body.begin(), r.body.end());
  } else {
    return fail(405, "DNS over HTTPS takes GET and POST");
  }
  if (p.message.size() < dns::kHeaderSize) return fail(400, "not a DNS message");
  if (p.message.size() > kMaxMessage) return fail(413, "the DNS message is over 65535 bytes");
  p.client_id = std::move(id);
  return p;
}

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
  }
  return "Error";
}

int64_t freshness(const uint8_t* msg, size_t len) {
  int64_t least = -1;
  dns::walk_records(msg, len, [&](const dns::Record& rr) {
    if (rr.section == 3) return false;
    if (least < 0 || rr.ttl < least) least = rr.ttl;
    return true;
  });
  return least;
}

}  // namespace hush::net::doh

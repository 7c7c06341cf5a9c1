// DNS over HTTPS requests (RFC 8484) as HTTP hands them over, whichever HTTP
// version carried them: the path names the service and maybe the device
// (/dns-query/phone-anna), the DNS message comes base64url-encoded in GET's
// ?dns= or as a POST body of type application/dns-message. No I/O, so the
// fuzz target runs it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hush::net::doh {

constexpr size_t kMaxMessage = 65535;  // a DNS message, as over TCP
constexpr std::string_view kMediaType = "application/dns-message";

struct Request {
  std::string_view method;
  std::string_view target;        // path and query string, as sent
  std::string_view content_type;  // POST only
  std::string_view body;
};

struct Parsed {
  int status = 0;           // 0: `message` is the query; else the HTTP error to answer with
  std::string why;          // the error, for the response body
  std::string client_id;    // from the path, lower case; empty when none
  std::vector<uint8_t> message;
};

Parsed parse(const Request& r);

// The status line's reason phrase for the statuses hush sends.
const char* reason(int status);

// Decodes base64url without padding (RFC 4648 section 5; trailing '=' is
// tolerated); false on any other character or an impossible length.
bool base64url_decode(std::string_view in, std::vector<uint8_t>& out);

// RFC 8484 section 5.1: an HTTP cache may keep the answer as long as its
// shortest TTL. The smallest TTL of the answer and authority records, or -1
// when there is none (nothing to say to a cache).
int64_t freshness(const uint8_t* msg, size_t len);

}  // namespace hush::net::doh

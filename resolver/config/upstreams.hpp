// The forms an upstream server may be written in, read in this one place
// for upstream.servers, upstream.bootstrap and [[forward]] servers:
//   9.9.9.9, 9.9.9.9:5353, [2620:fe::fe]:53   plain DNS (UDP, TCP after truncation)
//   udp://9.9.9.9   tcp://9.9.9.9             plain DNS; tcp:// asks over TCP only
//   tls://9.9.9.9   tls://dns.quad9.net       DNS over TLS (RFC 7858), port 853
//   tls://1.1.1.1#cloudflare-dns.com          an address plus the name its certificate carries
//   https://dns.quad9.net/dns-query           DNS over HTTPS (RFC 8484), port 443
#pragma once

#include <string>
#include <string_view>

#include "upstream/selector.hpp"

namespace hush {

// Parses `text` into `out`. A server given by name keeps it in out.host
// (its address is looked up later, through the bootstrap upstreams). On
// failure returns false and says what is wrong, and where in `text`, in
// `why`.
bool parse_upstream(std::string_view text, upstream::Server& out, std::string& why);

// Whether `name` is a host name hush can look up: dot-separated labels of
// letters, digits and hyphens, 1-63 characters each, 253 in all.
bool valid_host_name(std::string_view name);

}  // namespace hush

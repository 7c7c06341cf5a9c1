#include "web/request_checks.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace hush::web {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// The host part of a Host header or an origin's authority: no port, IPv6
// brackets removed.
std::string host_part(const std::string& authority) {
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    return close == std::string::npos ? authority : authority.substr(1, close - 1);
  }
  size_t colon = authority.rfind(':');
  return colon == std::string::npos ? authority : authority.substr(0, colon);
}

bool is_ip(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool changes_state(const std::string& method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

}  // namespace

RequestChecks::RequestChecks(std::vector<std::string> names) {
  for (std::string& n : names)
    if (!n.empty()) names_.push_back(lower(std::move(n)));
  names_.push_back("localhost");
}

bool RequestChecks::host_allowed(const std::string& host_header) const {
  std::string host = lower(host_part(host_header));
  // A rebinding page needs a name of its own in Host; an address cannot be rebound.
  if (is_ip(host)) return true;
  return std::find(names_.begin(), names_.end(), host) != names_.end();
}

std::optional<Refusal> RequestChecks::check(const Request& r) const {
  std::string host = r.header("Host");
  if (!host.empty() && !host_allowed(host))
    return Refusal{403, "unknown host name '" + host_part(host) +
                            "': open the dashboard by its address or by hush's own name (local.hostname, local.aliases)"};
  if (!changes_state(r.method)) return std::nullopt;
  std::string origin = r.header("Origin");
  if (!origin.empty()) {
    size_t scheme = origin.find("://");
    std::string authority = scheme == std::string::npos ? "" : origin.substr(scheme + 3);
    if (lower(authority) != lower(host)) return Refusal{403, "cross-site request refused (Origin " + origin + ")"};
  }
  std::string site = lower(r.header("Sec-Fetch-Site"));
  if (!site.empty() && site != "same-origin" && site != "none")
    return Refusal{403, "cross-site request refused (Sec-Fetch-Site " + site + ")"};
  if (r.method == "POST") {
    std::string type = lower(r.header("Content-Type"));
    bool json = type.rfind("application/json", 0) == 0;
    bool custom_header = !r.header("X-CSRF-Token").empty() || !r.header("Authorization").empty();
    if (!json && !(r.body.empty() && custom_header))
      return Refusal{415, "send the request body as application/json"};
  }
  return std::nullopt;
}

}  // namespace hush::web

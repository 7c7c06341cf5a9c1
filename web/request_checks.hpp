// Checks every request passes before a handler sees it, against pages on
// other sites that a browser on the LAN happens to show:
// - Host must be an IP address or one of hush's own names, so a DNS-rebinding
//   page (evil.example resolving to hush's address) reaches nothing, not even
//   /metrics or the login;
// - a POST must be JSON, or carry a header no cross-site form can send
//   (X-CSRF-Token, Authorization) and no body; a same-origin Origin and
//   Sec-Fetch-Site, when the browser sends them, on every state-changing
//   request. A cross-site `text/plain` login post is refused before it is
//   parsed, so it cannot spend the admin's login attempts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "web/http_server.hpp"

namespace hush::web {

struct Refusal {
  int status;
  std::string message;
};

class RequestChecks {
 public:
  // `names`: host names the dashboard answers to besides IP addresses
  // (case and a trailing dot do not matter).
  explicit RequestChecks(std::vector<std::string> names);
  // Why `r` is refused, or nullopt when it may go on.
  std::optional<Refusal> check(const Request& r) const;

 private:
  bool host_allowed(const std::string& host_header) const;
  std::vector<std::string> names_;
};

}  // namespace hush::web

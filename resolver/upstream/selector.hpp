// Choosing which upstream to ask, from what past queries taught us. One per
// worker, so no locks; logic only, the network layer does the sending.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "upstream/transport.hpp"

namespace hush::upstream {

// One upstream as configured (config/upstreams.hpp parses the forms).
struct Server {
  sockaddr_storage addr{};  // family AF_UNSPEC while `host` is not resolved yet
  std::string text;         // as configured, for logs
  Transport transport = Transport::Udp;
  // TLS: the name the certificate must carry, also sent as SNI; empty when
  // an address was given without #name (the certificate must carry it).
  std::string tls_name;
  // A server given by name (tls://dns.quad9.net): resolved through the
  // bootstrap upstreams, never through hush's own cache.
  std::string host;
  uint16_t port = 53;
  std::string path;  // HTTPS: the request path
};

// Conditional forwarding: names in `domain` go to these servers instead of
// the default upstreams (the router for the home's DHCP names, say).
struct ForwardZone {
  std::string domain;  // lower case, no trailing dot
  std::vector<std::string> servers;
  std::vector<sockaddr_storage> addrs;  // filled when the configuration is resolved
  std::vector<Server> parsed;           // likewise
};

class Selector {
 public:
  explicit Selector(std::vector<Server> servers);

  const std::vector<Server>& servers() const { return servers_; }

  // The order to try servers for a new query: those answering now, fastest
  // smoothed RTT first; servers that failed recently go last, so a dead
  // upstream costs one timeout per back-off period rather than per query.
  void order(uint64_t now_ms, std::vector<uint8_t>& out) const;

  void success(size_t i, uint32_t rtt_ms);
  void failure(size_t i, uint64_t now_ms);

 private:
  struct Health {
    uint32_t srtt_ms = 0;
    uint32_t failures = 0;
    uint64_t retry_after_ms = 0;
  };
  std::vector<Server> servers_;
  std::vector<Health> health_;
};

}  // namespace hush::upstream

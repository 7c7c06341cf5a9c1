// How hush reaches an upstream server. net/ implements UDP and TCP; TLS and
// HTTPS have their place here so encrypted upstreams add a case, not a flag.
#pragma once

#include <cstdint>

namespace hush::upstream {

enum class Transport : uint8_t { Udp, Tcp, Tls, Https };

constexpr const char* to_string(Transport t) {
  switch (t) {
    case Transport::Udp: return "UDP";
    case Transport::Tcp: return "TCP";
    case Transport::Tls: return "TLS";
    case Transport::Https: return "HTTPS";
  }
  return "?";
}

}  // namespace hush::upstream

// Who asked: enough to send an answer back later, without holding pointers
// into the network layer (a TCP connection may be gone by then).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string_view>

namespace hush {

// The values are stored in the query log: new ones go at the end.
enum class Transport : uint8_t { Udp, Tcp, Dot, Doh };

constexpr const char* transport_name(Transport t) {
  switch (t) {
    case Transport::Udp: return "udp";
    case Transport::Tcp: return "tcp";
    case Transport::Dot: return "dot";
    case Transport::Doh: return "doh";
  }
  return "udp";
}

// A device's own name for itself on an encrypted transport (the DoT SNI's
// first label, the DoH path's last part), kept inline so a waiting question owns it.
struct ClientId {
  static constexpr size_t kMax = 63;
  uint8_t len = 0;
  char text[kMax];
  void set(std::string_view id) {
    len = uint8_t(id.size() < kMax ? id.size() : kMax);
    if (len) std::memcpy(text, id.data(), len);
  }
  std::string_view view() const { return {text, len}; }
};

struct ClientRef {
  Transport transport = Transport::Udp;
  uint16_t worker = 0;        // which worker received it (owns a TCP connection)
  uint32_t listener = 0;      // index of the listen address; the same in every worker
  uint64_t connection = 0;    // TCP connection id within the worker
  sockaddr_storage addr{};
  ClientId id;                // empty on plain DNS
};

}  // namespace hush

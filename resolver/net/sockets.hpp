// Opening the listening sockets before any worker starts, so a busy port or a
// bad address is reported at once, with the address, and not from a thread.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

namespace hush::net {

struct ListenSockets {
  std::vector<int> udp;  // one per listen address
  std::vector<int> tcp;
  std::vector<int> dot;  // one per DNS-over-TLS address
  std::vector<int> doh;  // one per DNS-over-HTTPS address
};

// Opens one UDP and one TCP socket per address, and one TCP socket per
// DNS-over-TLS and DNS-over-HTTPS address, with SO_REUSEPORT, so each worker gets its own on
// the same port and the kernel spreads clients. On failure closes what it
// opened and says which address and why.
bool open_listen_sockets(const std::vector<sockaddr_storage>& addrs, const std::vector<sockaddr_storage>& dot_addrs,
                         const std::vector<sockaddr_storage>& doh_addrs, ListenSockets& out, std::string& error);

// Binds each address once without SO_REUSEPORT and lets go again: the
// workers' own sockets share the port with each other, but this way another
// program (or a second hush) already on it is reported instead of silently
// sharing the traffic.
bool ports_free(const std::vector<sockaddr_storage>& addrs, const std::vector<sockaddr_storage>& dot_addrs,
                const std::vector<sockaddr_storage>& doh_addrs, std::string& error);

void close_sockets(ListenSockets& s);

}  // namespace hush::net

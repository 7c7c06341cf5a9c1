#include "net/sockets.hpp"

#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/address.hpp"
#include "net/port_owner.hpp"

namespace hush::net {

namespace {

int open_one(const sockaddr_storage& addr, int type, bool reuse_port, std::string& error) {
  const char* proto = type == SOCK_DGRAM ? "udp" : "tcp";
  int fd = ::socket(addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("cannot open a ") + proto + " socket for " + format_address(addr) + ": " +
            std::strerror(errno);
    return -1;
  }
  int one = 1;
  // SO_REUSEADDR only for TCP (restarts across TIME_WAIT); on UDP it would let
  // two programs share a port unnoticed.
  if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), address_length(addr)) != 0 ||
      (type == SOCK_STREAM && ::listen(fd, 1024) != 0)) {
    int err = errno;
    error = "cannot listen on " + format_address(addr) + " (" + proto + "): " + std::strerror(err);
    if (err == EADDRINUSE) error += describe_port_holders(find_port_holders(addr, type), addr, type);
    if (err == EACCES) error += "; ports below 1024 need root or CAP_NET_BIND_SERVICE";
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

bool open_listen_sockets(const std::vector<sockaddr_storage>& addrs, const std::vector<sockaddr_storage>& dot_addrs,
                         const std::vector<sockaddr_storage>& doh_addrs, ListenSockets& out, std::string& error) {
  for (const sockaddr_storage& a : addrs) {
    int u = open_one(a, SOCK_DGRAM, true, error);
    if (u < 0) {
      close_sockets(out);
      return false;
    }
    out.udp.push_back(u);
    int t = open_one(a, SOCK_STREAM, true, error);
    if (t < 0) {
      close_sockets(out);
      return false;
    }
    out.tcp.push_back(t);
  }
  for (const sockaddr_storage& a : dot_addrs) {
    int t = open_one(a, SOCK_STREAM, true, error);
    if (t < 0) {
      close_sockets(out);
      return false;
    }
    out.dot.push_back(t);
  }
  for (const sockaddr_storage& a : doh_addrs) {
    int t = open_one(a, SOCK_STREAM, true, error);
    if (t < 0) {
      close_sockets(out);
      return false;
    }
    out.doh.push_back(t);
  }
  return true;
}

bool ports_free(const std::vector<sockaddr_storage>& addrs, const std::vector<sockaddr_storage>& dot_addrs,
                const std::vector<sockaddr_storage>& doh_addrs, std::string& error) {
  for (const sockaddr_storage& a : addrs)
    for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
      int fd = open_one(a, type, false, error);
      if (fd < 0) return false;
      ::close(fd);
    }
  for (const auto* list : {&dot_addrs, &doh_addrs})
    for (const sockaddr_storage& a : *list) {
      int fd = open_one(a, SOCK_STREAM, false, error);
      if (fd < 0) return false;
      ::close(fd);
    }
  return true;
}

void close_sockets(ListenSockets& s) {
  for (int fd : s.udp) ::close(fd);
  for (int fd : s.tcp) ::close(fd);
  for (int fd : s.dot) ::close(fd);
  for (int fd : s.doh) ::close(fd);
  s.udp.clear();
  s.tcp.clear();
  s.dot.clear();
  s.doh.clear();
}

}  // namespace hush::net

// Who holds a port: when a listen address is busy, hush names the program in
// the way and says how to move it, instead of leaving the user to run ss.
// Linux only: reads /proc/net/{udp,tcp}{,6} and /proc/PID/fd.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace hush::net {

struct PortHolder {
  std::string local;  // the address it is bound to, as "ADDR:PORT"
  unsigned long inode = 0;
  uid_t uid = 0;
  pid_t pid = 0;      // 0 when no readable /proc/PID/fd links to the socket
  std::string comm;   // /proc/PID/comm, empty when pid is 0
};

// Sockets of `type` (SOCK_DGRAM or SOCK_STREAM; TCP: listening sockets only)
// whose port is that of `addr` and whose address overlaps it (equal, or
// either one is the wildcard). `proc` is the procfs root, for tests. Never
// fails: unreadable files just give fewer (or less detailed) holders.
std::vector<PortHolder> find_port_holders(const sockaddr_storage& addr, int type,
                                          const std::string& proc = "/proc");

// One sentence for the EADDRINUSE message: who holds the port and what to do
// about it (systemd-resolved's stub, dnsmasq, another hush, or the ss command
// to find out). Starts with "; ".
std::string describe_port_holders(const std::vector<PortHolder>& holders,
                                  const sockaddr_storage& addr, int type);

}  // namespace hush::net

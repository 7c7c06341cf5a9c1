#include "net/port_owner.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "base/address.hpp"

namespace hush::net {

namespace {

uint16_t port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
}

bool is_wildcard(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr);
  return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr == INADDR_ANY;
}

bool same_address(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET6)
    return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr,
                       &reinterpret_cast<const sockaddr_in6&>(b).sin6_addr, 16) == 0;
  return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr ==
         reinterpret_cast<const sockaddr_in&>(b).sin_addr.s_addr;
}

// "0100007F:0035" (IPv4) or 32 hex digits ":0035" (IPv6): the kernel prints
// each 32-bit word of the address as it lies in memory, so reading a word
// back as a host integer restores the bytes.
bool parse_proc_address(const std::string& text, sockaddr_storage& out) {
  size_t colon = text.find(':');
  if (colon == std::string::npos) return false;
  std::string hex = text.substr(0, colon);
  unsigned port = 0;
  if (std::sscanf(text.c_str() + colon + 1, "%x", &port) != 1) return false;
  out = {};
  if (hex.size() == 8) {
    auto& sin = reinterpret_cast<sockaddr_in&>(out);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(uint16_t(port));
    uint32_t word = uint32_t(std::stoul(hex, nullptr, 16));
    std::memcpy(&sin.sin_addr, &word, 4);
    return true;
  }
  if (hex.size() == 32) {
    auto& sin6 = reinterpret_cast<sockaddr_in6&>(out);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(uint16_t(port));
    for (int i = 0; i < 4; ++i) {
      uint32_t word = uint32_t(std::stoul(hex.substr(size_t(i) * 8, 8), nullptr, 16));
      std::memcpy(reinterpret_cast<uint8_t*>(&sin6.sin6_addr) + i * 4, &word, 4);
    }
    return true;
  }
  return false;
}

void scan_table(const std::string& path, bool tcp, const sockaddr_storage& want,
                std::vector<PortHolder>& out) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string slot, local, remote, state, queues, timer, retr;
    uid_t uid = 0;
    unsigned timeout = 0;
    unsigned long inode = 0;
    if (!(f >> slot >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode))
      continue;
    if (tcp && state != "0A") continue;  // only listening TCP sockets hold a port
    sockaddr_storage have;
    if (!parse_proc_address(local, have) || port_of(have) != port_of(want)) continue;
    if (!same_address(have, want) && !is_wildcard(have) && !is_wildcard(want)) continue;
    PortHolder h;
    h.local = format_address(have);
    h.inode = inode;
    h.uid = uid;
    out.push_back(std::move(h));
  }
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

void find_processes(const std::string& proc, std::vector<PortHolder>& holders) {
  std::unordered_map<unsigned long, size_t> wanted;
  for (size_t i = 0; i < holders.size(); ++i) wanted.emplace(holders[i].inode, i);
  DIR* d = ::opendir(proc.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string fd_dir = proc + "/" + e->d_name + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (!fds) continue;  // another user's process, or gone
    while (dirent* f = ::readdir(fds)) {
      char target[64];
      std::string link = fd_dir + "/" + f->d_name;
      ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = 0;
      unsigned long inode = 0;
      if (std::sscanf(target, "socket:[%lu]", &inode) != 1) continue;
      auto it = wanted.find(inode);
      if (it == wanted.end()) continue;
      PortHolder& h = holders[it->second];
      if (h.pid == 0) {
        h.pid = pid_t(std::atol(e->d_name));
        h.comm = read_line(proc + "/" + e->d_name + "/comm");
      }
    }
    ::closedir(fds);
  }
  ::closedir(d);
}

std::string user_name(uid_t uid) {
  if (passwd* pw = ::getpwuid(uid)) return pw->pw_name;
  return "uid " + std::to_string(uid);
}

}  // namespace

std::vector<PortHolder> find_port_holders(const sockaddr_storage& addr, int type,
                                          const std::string& proc) {
  std::vector<PortHolder> holders;
  bool tcp = type == SOCK_STREAM;
  const char* base = tcp ? "/net/tcp" : "/net/udp";
  scan_table(proc + base, tcp, addr, holders);
  scan_table(proc + base + "6", tcp, addr, holders);
  if (!holders.empty()) find_processes(proc, holders);
  return holders;
}

std::string describe_port_holders(const std::vector<PortHolder>& holders,
                                  const sockaddr_storage& addr, int type) {
  const char* proto = type == SOCK_STREAM ? "tcp" : "udp";
  std::string port = std::to_string(port_of(addr));
  std::string ss = "`ss -l" + std::string(type == SOCK_STREAM ? "t" : "u") + "pn 'sport = :" + port + "'`";
  if (holders.empty())
    return "; another program holds this port (find it with " + ss + ", as root)";
  std::string who;
  bool resolved = false, dnsmasq = false, hush = false;
  for (const PortHolder& h : holders) {
    if (!who.empty()) who += ", ";
    if (h.pid) {
      who += h.comm + " (pid " + std::to_string(h.pid) + ") on " + h.local;
    } else {
      who += "a program of user " + user_name(h.uid) + " on " + h.local;
    }
    std::string local = h.local;
    resolved = resolved || h.comm == "systemd-resolve" || local.rfind("127.0.0.53:", 0) == 0 ||
               local.rfind("127.0.0.54:", 0) == 0;
    dnsmasq = dnsmasq || h.comm == "dnsmasq";
    hush = hush || h.comm == "hush";
  }
  std::string out = std::string("; ") + proto + " port " + port + " is held by " + who;
  if (resolved)
    out += ". That is systemd-resolved's stub listener: set DNSStubListener=no in "
           "/etc/systemd/resolved.conf and run `systemctl restart systemd-resolved` (or listen "
           "on specific addresses instead of all of them)";
  else if (dnsmasq)
    out += ". Stop dnsmasq (`systemctl disable --now dnsmasq`), or, when libvirt or "
           "NetworkManager runs it, let hush listen on specific addresses only";
  else if (hush)
    out += ". hush is already running (`systemctl status hush`)";
  else if (holders.front().pid == 0)
    out += " (run " + ss + " as root for the program's name); stop it or move it to another port";
  else
    out += "; stop it or move it to another port";
  return out;
}

}  // namespace hush::net

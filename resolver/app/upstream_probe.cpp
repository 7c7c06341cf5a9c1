#include "app/upstream_probe.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>

#include "config/upstreams.hpp"
#include "dns/ldns.hpp"

namespace hush {

namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits until `fd` is ready for `events` or `deadline` passes.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, int(left));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

socklen_t addr_len(const sockaddr_storage& a) {
  return a.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// One exchange over UDP; the reply's bytes, or "" with `error` set.
std::string over_udp(const sockaddr_storage& to, const std::string& query, Clock::time_point deadline,
                     std::string& error) {
  Fd s{::socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0 || ::connect(s.fd, reinterpret_cast<const sockaddr*>(&to), addr_len(to)) != 0 ||
      ::send(s.fd, query.data(), query.size(), 0) < 0) {
    error = std::string("cannot send: ") + std::strerror(errno);
    return "";
  }
  char buf[65535];
  while (wait_for(s.fd, POLLIN, deadline)) {
    ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n < 0) {
      error = std::string("no answer: ") + std::strerror(errno);
      return "";
    }
    // The reply to this question (its id), not a stray datagram.
    if (n >= 12 && std::memcmp(buf, query.data(), 2) == 0) return std::string(buf, size_t(n));
  }
  error = "no answer before the timeout";
  return "";
}

bool read_exact(int fd, char* out, size_t n, Clock::time_point deadline) {
  for (size_t got = 0; got < n;) {
    if (!wait_for(fd, POLLIN, deadline)) return false;
    ssize_t r = ::recv(fd, out + got, n - got, 0);
    if (r <= 0) return false;
    got += size_t(r);
  }
  return true;
}

std::string over_tcp(const sockaddr_storage& to, const std::string& query, Clock::time_point deadline,
                     std::string& error) {
  Fd s{::socket(to.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (s.fd < 0) {
    error = std::string("cannot open a socket: ") + std::strerror(errno);
    return "";
  }
  int r = ::connect(s.fd, reinterpret_cast<const sockaddr*>(&to), addr_len(to));
  int soerr = 0;
  socklen_t len = sizeof soerr;
  if ((r != 0 && errno != EINPROGRESS) || !wait_for(s.fd, POLLOUT, deadline) ||
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
    error = std::string("cannot connect over TCP: ") + (soerr ? std::strerror(soerr) : "timed out");
    return "";
  }
  std::string framed(2, '\0');
  framed[0] = char(query.size() >> 8);
  framed[1] = char(query.size() & 0xff);
  framed += query;
  if (::send(s.fd, framed.data(), framed.size(), MSG_NOSIGNAL) != ssize_t(framed.size())) {
    error = "cannot send over TCP";
    return "";
  }
  char head[2];
  if (!read_exact(s.fd, head, 2, deadline)) {
    error = "no answer over TCP before the timeout";
    return "";
  }
  std::string reply(size_t(static_cast<unsigned char>(head[0])) << 8 | static_cast<unsigned char>(head[1]), '\0');
  if (!read_exact(s.fd, reply.data(), reply.size(), deadline)) {
    error = "the answer over TCP ended early";
    return "";
  }
  return reply;
}

}  // namespace

Runtime::Probe probe_upstream(const std::string& server, const std::string& name, std::chrono::milliseconds timeout) {
  Runtime::Probe out;
  upstream::Server s;
  if (!parse_upstream(server, s, out.error)) return out;
  if (s.transport != upstream::Transport::Udp && s.transport != upstream::Transport::Tcp) {
    out.error = "the test asks plain DNS servers only; a tls:// or https:// server shows its state in "
                "/metrics (hush_upstream_*) once saved";
    return out;
  }
  if (s.addr.ss_family == AF_UNSPEC) {
    out.error = "give a plain server by address";
    return out;
  }
  ldns_rdf* owner = ldns_dname_new_frm_str(name.c_str());
  if (!owner) {
    out.error = "'" + name + "' is not a domain name";
    return out;
  }
  std::unique_ptr<ldns_pkt, void (*)(ldns_pkt*)> q(ldns_pkt_query_new(owner, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD),
                                                   ldns_pkt_free);
  if (!q) {
    out.error = "cannot build the question";
    return out;
  }
  ldns_pkt_set_id(q.get(), uint16_t(std::random_device{}()));
  uint8_t* wire = nullptr;
  size_t wire_len = 0;
  if (ldns_pkt2wire(&wire, q.get(), &wire_len) != LDNS_STATUS_OK) {
    out.error = "cannot build the question";
    return out;
  }
  std::string query(reinterpret_cast<char*>(wire), wire_len);
  free(wire);
  auto start = Clock::now();
  auto deadline = start + timeout;
  std::string reply = s.transport == upstream::Transport::Tcp ? over_tcp(s.addr, query, deadline, out.error)
                                                               : over_udp(s.addr, query, deadline, out.error);
  if (!reply.empty() && reply.size() > 2 && (static_cast<unsigned char>(reply[2]) & 0x02))
    reply = over_tcp(s.addr, query, deadline, out.error);  // truncated: ask again over TCP
  out.latency_ms = double(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count()) / 1000.0;
  if (reply.empty()) return out;
  ldns_pkt* parsed = nullptr;
  if (ldns_wire2pkt(&parsed, reinterpret_cast<const uint8_t*>(reply.data()), reply.size()) != LDNS_STATUS_OK) {
    out.error = "the answer is not a DNS message";
    return out;
  }
  std::unique_ptr<ldns_pkt, void (*)(ldns_pkt*)> a(parsed, ldns_pkt_free);
  const ldns_lookup_table* rc = ldns_lookup_by_id(ldns_rcodes, int(ldns_pkt_get_rcode(a.get())));
  out.rcode = rc ? rc->name : std::to_string(int(ldns_pkt_get_rcode(a.get())));
  ldns_rr_list* answers = ldns_pkt_answer(a.get());
  for (size_t i = 0; answers && i < ldns_rr_list_rr_count(answers); ++i) {
    char* text = ldns_rr2str(ldns_rr_list_rr(answers, i));
    if (!text) continue;
    std::string line(text);
    free(text);
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    out.answers.push_back(std::move(line));
  }
  out.ok = true;
  return out;
}

}  // namespace hush

#include "dns_client.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>

namespace hush_it {

uint16_t random_id() {
  static std::mt19937 g{std::random_device{}()};
  static std::mutex mu;
  std::lock_guard lk(mu);
  return static_cast<uint16_t>(std::uniform_int_distribution<int>(1, 65535)(g));
}

std::string hex(const Bytes& b, size_t max) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < b.size() && i < max; ++i) {
    s += d[b[i] >> 4];
    s += d[b[i] & 15];
  }
  if (b.size() > max) s += "...(" + std::to_string(b.size()) + " bytes)";
  return s;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

uint16_t wire_id(const Bytes& b) { return b.size() < 2 ? 0 : static_cast<uint16_t>(b[0] << 8 | b[1]); }

Bytes encode_name(const std::string& name) {
  Bytes out;
  std::string label;
  auto flush = [&] {
    if (label.empty()) return;
    if (label.size() > 63) throw std::runtime_error("encode_name: label > 63");
    out.push_back(static_cast<uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    label.clear();
  };
  for (char c : name) {
    if (c == '.')
      flush();
    else
      label += c;
  }
  flush();
  out.push_back(0);
  return out;
}

// ---------------------------------------------------------------- queries

Bytes make_query(const std::string& name, uint16_t qtype, const QueryOpts& o) {
  ldns_rdf* dname = ldns_dname_new_frm_str(name.c_str());
  if (!dname) throw std::runtime_error("make_query: bad name " + name);
  ldns_pkt* pkt = ldns_pkt_query_new(dname, static_cast<ldns_rr_type>(qtype), LDNS_RR_CLASS_IN,
                                     o.rd ? LDNS_RD : 0);
  if (!pkt) throw std::runtime_error("ldns_pkt_query_new failed");
  std::unique_ptr<ldns_pkt, decltype(&ldns_pkt_free)> guard(pkt, ldns_pkt_free);
  ldns_pkt_set_id(pkt, o.id ? *o.id : random_id());
  ldns_pkt_set_opcode(pkt, static_cast<ldns_pkt_opcode>(o.opcode));
  if (o.edns) {
    ldns_pkt_set_edns_udp_size(pkt, o.udp_size);
    ldns_pkt_set_edns_version(pkt, o.edns_version);
    ldns_pkt_set_edns_do(pkt, o.do_bit);
  }
  uint8_t* wire = nullptr;
  size_t len = 0;
  if (ldns_pkt2wire(&wire, pkt, &len) != LDNS_STATUS_OK) throw std::runtime_error("ldns_pkt2wire failed");
  Bytes b(wire, wire + len);
  free(wire);
  // ldns_pkt2wire writes the opcode; double-check the EDNS switch took effect.
  const uint16_t arcount = static_cast<uint16_t>(b[10] << 8 | b[11]);
  if (o.edns != (arcount == 1)) throw std::runtime_error("make_query: EDNS presence not as requested");
  return b;
}

// ---------------------------------------------------------------- parsing

namespace {

struct Reader {
  const Bytes& w;
  size_t pos = 0;
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("malformed DNS message at offset " + std::to_string(pos) + ": " + what +
                             " [" + hex(w, 96) + "]");
  }
  uint8_t u8() {
    if (pos + 1 > w.size()) fail("truncated");
    return w[pos++];
  }
  uint16_t u16() {
    if (pos + 2 > w.size()) fail("truncated");
    uint16_t v = static_cast<uint16_t>(w[pos] << 8 | w[pos + 1]);
    pos += 2;
    return v;
  }
  uint32_t u32() {
    uint32_t hi = u16();
    return hi << 16 | u16();
  }
  // Name with compression, case kept, presentation form with trailing dot.
  std::string name() {
    std::string out;
    size_t p = pos;
    bool jumped = false;
    size_t total = 1;
    for (int hops = 0; hops < 256; ++hops) {
      if (p >= w.size()) fail("name runs past end");
      uint8_t len = w[p];
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= w.size()) fail("truncated pointer");
        size_t target = static_cast<size_t>((len & 0x3F) << 8 | w[p + 1]);
        if (!jumped) pos = p + 2;
        jumped = true;
        if (target >= p) fail("forward/self compression pointer");
        p = target;
        continue;
      }
      if (len & 0xC0) fail("bad label type");
      if (len == 0) {
        if (!jumped) pos = p + 1;
        if (out.empty()) out = ".";
        if (total > 255) fail("name longer than 255");
        return out;
      }
      if (p + 1 + len > w.size()) fail("label runs past end");
      total += len + 1;
      for (size_t i = 0; i < len; ++i) {
        char c = static_cast<char>(w[p + 1 + i]);
        if (c == '.' || c == '\\') {
          out += '\\';
          out += c;
        } else if (std::isgraph(static_cast<unsigned char>(c))) {
          out += c;
        } else {
          char buf[8];
          snprintf(buf, sizeof buf, "\\%03u", static_cast<unsigned>(static_cast<uint8_t>(c)));
          out += buf;
        }
      }
      out += '.';
      p += 1 + len;
    }
    fail("too many compression hops");
  }
};

std::string rdata_text(const Bytes& wire, size_t rr_start) {
  ldns_rr* r = nullptr;
  size_t pos = rr_start;
  if (ldns_wire2rr(&r, wire.data(), wire.size(), &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK || !r)
    return "<ldns cannot parse>";
  std::string s;
  for (size_t i = 0; i < ldns_rr_rd_count(r); ++i) {
    char* t = ldns_rdf2str(ldns_rr_rdf(r, i));
    if (t) {
      s += (i ? " " : "") + std::string(t);
      free(t);
    }
  }
  ldns_rr_free(r);
  return s;
}

}  // namespace

const Bytes* Opt::option(uint16_t code) const {
  for (auto& [c, v] : options)
    if (c == code) return &v;
  return nullptr;
}

Message parse_message(const Bytes& wire) {
  Message m;
  m.wire = wire;
  Reader r{wire};
  if (wire.size() < 12) r.fail("shorter than a header");
  m.id = r.u16();
  uint16_t flags = r.u16();
  m.qr = flags & 0x8000;
  m.opcode = (flags >> 11) & 0xF;
  m.aa = flags & 0x0400;
  m.tc = flags & 0x0200;
  m.rd = flags & 0x0100;
  m.ra = flags & 0x0080;
  m.ad = flags & 0x0020;
  m.cd = flags & 0x0010;
  m.rcode4 = flags & 0xF;
  m.qdcount = r.u16();
  m.ancount = r.u16();
  m.nscount = r.u16();
  m.arcount = r.u16();
  for (int i = 0; i < m.qdcount; ++i) {
    std::string n = r.name();
    uint16_t t = r.u16(), c = r.u16();
    if (i == 0) {
      m.qname = n;
      m.qtype = t;
      m.qclass = c;
    }
  }
  auto section = [&](int count, std::vector<Record>& out, bool additional) {
    for (int i = 0; i < count; ++i) {
      size_t start = r.pos;
      Record rec;
      rec.owner = r.name();
      rec.type = r.u16();
      rec.cls = r.u16();
      rec.ttl = r.u32();
      uint16_t rdlen = r.u16();
      if (r.pos + rdlen > wire.size()) r.fail("rdata runs past end");
      rec.rdata.assign(wire.begin() + static_cast<long>(r.pos), wire.begin() + static_cast<long>(r.pos + rdlen));
      r.pos += rdlen;
      if (rec.type == rr::OPT) {
        if (!additional) r.fail("OPT outside the additional section");
        ++m.opt_count;
        Opt o;
        o.udp_size = rec.cls;
        o.ext_rcode = static_cast<uint8_t>(rec.ttl >> 24);
        o.version = static_cast<uint8_t>(rec.ttl >> 16);
        o.do_bit = rec.ttl & 0x8000;
        for (size_t p = 0; p < rec.rdata.size();) {
          if (p + 4 > rec.rdata.size()) r.fail("truncated EDNS option");
          uint16_t code = static_cast<uint16_t>(rec.rdata[p] << 8 | rec.rdata[p + 1]);
          uint16_t len = static_cast<uint16_t>(rec.rdata[p + 2] << 8 | rec.rdata[p + 3]);
          if (p + 4 + len > rec.rdata.size()) r.fail("EDNS option runs past OPT rdata");
          o.options.emplace_back(code, Bytes(rec.rdata.begin() + static_cast<long>(p + 4),
                                             rec.rdata.begin() + static_cast<long>(p + 4 + len)));
          p += 4 + len;
        }
        if (!m.opt) m.opt = o;
        continue;
      }
      rec.text = rdata_text(wire, start);
      out.push_back(std::move(rec));
    }
  };
  section(m.ancount, m.answer, false);
  section(m.nscount, m.authority, false);
  section(m.arcount, m.additional, true);
  if (r.pos != wire.size()) r.fail("trailing bytes after the last record");
  return m;
}

std::vector<std::string> Message::texts(uint16_t type) const {
  std::vector<std::string> v;
  for (auto& a : answer)
    if (a.type == type) v.push_back(a.text);
  return v;
}

const Record* Message::first(uint16_t type) const {
  for (auto& a : answer)
    if (a.type == type) return &a;
  return nullptr;
}

std::string Message::summary() const {
  std::ostringstream s;
  s << "id=" << id << " qr=" << qr << " opcode=" << int(opcode) << " rcode=" << rcode() << " aa=" << aa
    << " tc=" << tc << " rd=" << rd << " ra=" << ra << " q=" << qname << "/" << qtype << " an=" << ancount
    << " ns=" << nscount << " ar=" << arcount << " opt=" << (opt ? "yes" : "no") << " size=" << wire.size();
  for (auto& a : answer) s << " | " << a.owner << " " << a.ttl << " " << a.type << " " << a.text.substr(0, 40);
  for (auto& a : authority) s << " | auth " << a.owner << " " << a.ttl << " " << a.type;
  return s.str();
}

// ---------------------------------------------------------------- sockets

namespace {

socklen_t fill_addr(const Endpoint& ep, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (ep.is_v6()) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(ep.port);
    if (inet_pton(AF_INET6, ep.host.c_str(), &a->sin6_addr) != 1) throw std::runtime_error("bad address " + ep.host);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(ep.port);
  if (inet_pton(AF_INET, ep.host.c_str(), &a->sin_addr) != 1) throw std::runtime_error("bad address " + ep.host);
  return sizeof *a;
}

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<ms>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Connected UDP socket; receive until `accept` says yes or the deadline passes.
template <class Accept>
std::optional<Bytes> udp_io(const Endpoint& ep, const Bytes& packet, ms timeout, Accept accept,
                            const std::string& source = "") {
  sockaddr_storage ss;
  socklen_t len = fill_addr(ep, ss);
  Fd s(socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (s.fd < 0) throw std::runtime_error("socket: " + std::string(strerror(errno)));
  if (!source.empty()) {
    sockaddr_storage src;
    socklen_t slen = fill_addr(Endpoint{source, 0}, src);
    if (src.ss_family != ss.ss_family) throw std::runtime_error("source " + source + " and " + ep.str() + " differ in family");
    if (bind(s.fd, reinterpret_cast<sockaddr*>(&src), slen) != 0)
      throw std::runtime_error("bind " + source + ": " + strerror(errno));
  }
  if (connect(s.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw std::runtime_error("connect " + ep.str() + ": " + strerror(errno));
  if (send(s.fd, packet.data(), packet.size(), 0) != static_cast<ssize_t>(packet.size())) return std::nullopt;
  const auto deadline = Clock::now() + timeout;
  Bytes buf(65535);
  for (int i = 0; i < 1000; ++i) {
    pollfd p{s.fd, POLLIN, 0};
    int rc = poll(&p, 1, remaining_ms(deadline));
    if (rc <= 0) return std::nullopt;
    ssize_t n = recv(s.fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return std::nullopt;  // e.g. ECONNREFUSED: ICMP port unreachable, nobody listening
    }
    Bytes got(buf.begin(), buf.begin() + n);
    if (accept(got)) return got;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Bytes> udp_exchange(const Endpoint& ep, const Bytes& query, ms timeout, const std::string& source) {
  const uint16_t id = wire_id(query);
  return udp_io(
      ep, query, timeout, [&](const Bytes& b) { return b.size() >= 2 && wire_id(b) == id; }, source);
}

std::optional<Bytes> udp_send_raw(const Endpoint& ep, const Bytes& packet, ms wait) {
  return udp_io(ep, packet, wait, [](const Bytes&) { return true; });
}

Bytes frame(const Bytes& msg) {
  Bytes b(msg.size() + 2);
  b[0] = static_cast<uint8_t>(msg.size() >> 8);
  b[1] = static_cast<uint8_t>(msg.size() & 0xFF);
  std::copy(msg.begin(), msg.end(), b.begin() + 2);
  return b;
}

TcpClient::TcpClient(const Endpoint& ep, ms timeout) {
  sockaddr_storage ss;
  socklen_t len = fill_addr(ep, ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error_ = strerror(errno);
    return;
  }
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) {
      error_ = "connect: " + std::string(strerror(errno));
      close(fd);
      return;
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t elen = sizeof err;
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
      error_ = "connect to " + ep.str() + " failed: " + (err ? strerror(err) : "timeout");
      close(fd);
      return;
    }
  }
  fd_ = fd;
}

TcpClient::~TcpClient() {
  if (fd_ >= 0) close(fd_);
}

bool TcpClient::send_all(const Bytes& data) {
  if (fd_ < 0) return false;
  size_t off = 0;
  const auto deadline = Clock::now() + 3s;
  for (int i = 0; i < 10000 && off < data.size(); ++i) {
    ssize_t n = send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, remaining_ms(deadline)) <= 0) break;
      continue;
    }
    error_ = "send: " + std::string(strerror(errno));
    return false;
  }
  if (off < data.size() && error_.empty()) error_ = "send timed out";
  return off == data.size();
}

bool TcpClient::read_exact(uint8_t* dst, size_t n, Clock::time_point deadline) {
  size_t got = 0;
  for (int i = 0; i < 100000 && got < n; ++i) {
    ssize_t r = recv(fd_, dst + got, n - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) {
      eof_ = true;
      error_ = "connection closed by server";
      return false;
    }
    if (errno == EAGAIN || errno == EINTR) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, remaining_ms(deadline)) <= 0) {
        error_ = "read timed out";
        return false;
      }
      continue;
    }
    eof_ = true;
    error_ = "recv: " + std::string(strerror(errno));
    return false;
  }
  return got == n;
}

std::optional<Bytes> TcpClient::read_framed(ms timeout) {
  if (fd_ < 0) return std::nullopt;
  const auto deadline = Clock::now() + timeout;
  uint8_t len[2];
  if (!read_exact(len, 2, deadline)) return std::nullopt;
  Bytes msg(static_cast<size_t>(len[0] << 8 | len[1]));
  if (!read_exact(msg.data(), msg.size(), deadline)) return std::nullopt;
  return msg;
}

bool TcpClient::wait_closed(ms timeout) {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  uint8_t b;
  ssize_t r = recv(fd_, &b, 1, 0);
  if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
    eof_ = true;
    return true;
  }
  return false;
}

Message udp_query(const Endpoint& ep, const std::string& name, uint16_t qtype, const QueryOpts& o, ms timeout,
                  const std::string& source) {
  auto q = make_query(name, qtype, o);
  auto r = udp_exchange(ep, q, timeout, source);
  if (!r)
    throw std::runtime_error("no UDP answer from " + ep.str() + (source.empty() ? "" : " (sent from " + source + ")") +
                             " for " + name + " type " + std::to_string(qtype) + " within " +
                             std::to_string(timeout.count()) + " ms");
  return parse_message(*r);
}

Message tcp_query(const Endpoint& ep, const std::string& name, uint16_t qtype, const QueryOpts& o, ms timeout) {
  TcpClient c(ep, timeout);
  if (!c.connected()) throw std::runtime_error("TCP connect to " + ep.str() + " failed: " + c.error());
  auto q = make_query(name, qtype, o);
  if (!c.send_framed(q)) throw std::runtime_error("TCP send failed: " + c.error());
  auto r = c.read_framed(timeout);
  if (!r) throw std::runtime_error("no TCP answer from " + ep.str() + " for " + name + ": " + c.error());
  auto m = parse_message(*r);
  if (m.id != wire_id(q)) throw std::runtime_error("TCP answer has wrong ID: " + m.summary());
  return m;
}

// ---------------------------------------------------------------- dig

CommandResult dig(const Endpoint& ep, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"dig", "@" + ep.host, "-p", std::to_string(ep.port), "+time=2", "+tries=1"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, 10s);
}

CommandResult kdig(const Endpoint& ep, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"kdig", "@" + ep.host, "-p", std::to_string(ep.port), "+time=2", "+retry=0"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, 10s);
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  std::string l;
  for (int i = 0; i < 100000 && std::getline(in, l); ++i) {
    auto b = l.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    auto e = l.find_last_not_of(" \t\r");
    v.push_back(l.substr(b, e - b + 1));
  }
  return v;
}

Ede ede_of(const Message& m) {
  Ede e;
  const Bytes* b = m.opt ? m.opt->option(kEdnsOptionEde) : nullptr;
  if (!b || b->size() < 2) return e;
  e.present = true;
  e.code = (*b)[0] << 8 | (*b)[1];
  e.text.assign(b->begin() + 2, b->end());
  return e;
}

int connected_udp(const Endpoint& ep) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(ep.port);
  REQUIRE(inet_pton(AF_INET, ep.host.c_str(), &to.sin_addr) == 1);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  return fd;
}

}  // namespace hush_it

// The probes of ISC's EDNS compliance checker (DNS-Compliance-Testing's
// `genreport -R -f -c`: the recursive-server run with the full and common
// test sets), as a table run against the real hush in front of unbound. Each
// row is one genreport test: the header bits, opcode, EDNS version, flags and
// options it sends, over UDP or TCP. Every reply is judged by the same rules
// genreport applies to a recursive server (see judge()), so the table passing
// means genreport would report "all ok". Then a differential check of the
// header flags by kind of answer: forwarded, cached, NXDOMAIN, local, blocked.
//
// HUSH_BINARY in the environment runs the table against another build (e.g.
// the previous release) to compare.
#include <catch2/catch.hpp>

#include <iostream>
#include <sstream>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

constexpr const char* kZone = "test.";  // unbound serves it; genreport's <zone>
constexpr uint16_t kDnskey = 48, kType666 = 666;
constexpr uint16_t kOptionEcho = 100;   // genreport's unknown option: must not come back

// Header bits as genreport sets them in the query.
enum Bit : uint16_t {
  kAa = 0x0400,
  kTc = 0x0200,
  kRd = 0x0100,
  kRa = 0x0080,
  kZ = 0x0040,
  kAd = 0x0020,
  kCd = 0x0010,
};

struct Probe {
  const char* name;
  uint16_t bits = 0;       // header flags set in the query (besides RD, which -R sets)
  uint8_t opcode = 0;
  uint16_t qtype = rr::SOA;
  bool edns = false;
  uint16_t udp_size = 4096;
  uint8_t version = 0;
  uint16_t edns_flags = 0;  // 0x8000 = DO
  Bytes options;            // OPT rdata
  bool tcp = false;
  bool ignore_tc = false;   // judge the truncated UDP reply itself (edns@512)
};

Bytes opt(std::initializer_list<uint8_t> b) { return Bytes(b); }
const Bytes kNsid = opt({0, 3, 0, 0});
const Bytes kEcs = opt({0, 8, 0, 4, 0, 1, 0, 0});  // 0.0.0.0/0
const Bytes kExpire = opt({0, 9, 0, 0});
const Bytes kCookie = opt({0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8});
const Bytes kEcho = opt({0, 100, 0, 0});
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Probe edns_probe(const char* name, uint8_t version, uint16_t flags = 0, Bytes options = {}) {
  Probe p{name};
  p.edns = true;
  p.version = version;
  p.edns_flags = flags;
  p.options = std::move(options);
  return p;
}

// genreport's tests in the -f (EDNS + FULL) and -c (COMM) groups.
std::vector<Probe> probes() {
  std::vector<Probe> t;
  t.push_back({"dns"});
  t.push_back({"aa", kAa});
  t.push_back({"ad", kAd});
  t.push_back({"cd", kCd});
  t.push_back({"ra", kRa});
  t.push_back({"rd", kRd});
  t.push_back({"tc", kTc});
  t.push_back({"zflag", kZ});
  Probe op{"opcode"};
  op.opcode = 15;
  t.push_back(op);
  Probe opf{"opcodeflg", kTc | kRd | kRa | kCd | kAd | kAa | kZ};
  opf.opcode = 15;
  t.push_back(opf);
  Probe t666{"type666"};
  t666.qtype = kType666;
  t.push_back(t666);
  Probe tcp{"tcp"};
  tcp.tcp = true;
  t.push_back(tcp);
  t.push_back(edns_probe("edns", 0));
  t.push_back(edns_probe("edns1", 1));
  Probe e512 = edns_probe("edns@512", 0, 0x8000);
  e512.udp_size = 512;
  e512.qtype = kDnskey;
  e512.ignore_tc = true;
  t.push_back(e512);
  t.push_back(edns_probe("ednsopt", 0, 0, kEcho));
  t.push_back(edns_probe("edns1opt", 1, 0, kEcho));
  t.push_back(edns_probe("do", 0, 0x8000));
  t.push_back(edns_probe("edns1do", 1, 0x8000));
  t.push_back(edns_probe("ednsflags", 0, 0x0080));
  t.push_back(edns_probe("optlist", 0, 0, cat({kNsid, kEcs, kExpire, kCookie})));
  t.push_back(edns_probe("ednsnsid", 0, 0, kNsid));
  t.push_back(edns_probe("ednscookie", 0, 0, kCookie));
  t.push_back(edns_probe("ednsexpire", 0, 0, kExpire));
  t.push_back(edns_probe("ednssubnet", 0, 0, kEcs));
  t.push_back(edns_probe("edns1nsid", 1, 0, kNsid));
  t.push_back(edns_probe("edns1cookie", 1, 0, kCookie));
  t.push_back(edns_probe("edns1expire", 1, 0, kExpire));
  t.push_back(edns_probe("edns1subnet", 1, 0, kEcs));
  Probe etcp = edns_probe("ednstcp", 0, 0x8000);
  etcp.udp_size = 512;
  etcp.qtype = kDnskey;
  etcp.tcp = true;
  t.push_back(etcp);
  t.push_back(edns_probe("bind11", 0, 0x8000, kCookie));
  Probe dig11 = edns_probe("dig11", 0, 0, kCookie);
  dig11.bits = kAd | kRd;
  t.push_back(dig11);
  return t;
}

// The query genreport builds: a QUERY for <zone>, or for another opcode a
// bare header (no question), then the OPT record when the test has one.
Bytes build(const Probe& p, uint16_t id) {
  Bytes q{uint8_t(id >> 8), uint8_t(id), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  uint16_t flags = uint16_t(p.opcode << 11) | p.bits;
  if (p.opcode == 0) flags |= kRd;  // -R: questions to a recursive server ask for recursion
  q[2] = uint8_t(flags >> 8);
  q[3] = uint8_t(flags);
  if (p.opcode != 0) return q;
  q[5] = 1;
  Bytes name = encode_name(kZone);
  q.insert(q.end(), name.begin(), name.end());
  q.insert(q.end(), {uint8_t(p.qtype >> 8), uint8_t(p.qtype), 0, 1});
  if (!p.edns) return q;
  q[11] = 1;
  uint16_t rdlen = uint16_t(p.options.size());
  q.insert(q.end(), {0, 0, 41, uint8_t(p.udp_size >> 8), uint8_t(p.udp_size), 0, p.version,
                     uint8_t(p.edns_flags >> 8), uint8_t(p.edns_flags), uint8_t(rdlen >> 8), uint8_t(rdlen)});
  q.insert(q.end(), p.options.begin(), p.options.end());
  return q;
}

std::optional<Bytes> exchange(const Endpoint& ep, const Probe& p, const Bytes& q, std::string& why) {
  if (!p.tcp) {
    auto r = udp_exchange(ep, q, 3000ms);
    if (!r) why = "timeout";
    // Like genreport, a truncated reply is asked again over TCP unless the test ignores TC.
    bool tc = r && r->size() > 2 && ((*r)[2] & 0x02);
    if (!tc || p.ignore_tc) return r;
  }
  TcpClient c(ep);
  if (!c.connected() || !c.send_framed(q)) {
    why = "tcp: " + c.error();
    return std::nullopt;
  }
  auto r = c.read_framed(3000ms);
  if (!r) why = "tcp read: " + c.error();
  return r;
}

// genreport's verdict on one reply to a recursive server, as its tags: an
// empty list is "ok". The rules are genreport's own, with the -R reading of
// the header: RD echoed and RA set for QUERY, and AA never, because a
// recursive server's answers come from elsewhere.
std::vector<std::string> judge(const Probe& p, const Message& m) {
  std::vector<std::string> tags;
  auto tag = [&](bool bad, const std::string& t) {
    if (bad) tags.push_back(t);
  };
  uint16_t flags = uint16_t(m.wire[2] << 8 | m.wire[3]);
  bool query = p.opcode == 0;
  tag(m.opcode != p.opcode, "opcode" + std::to_string(m.opcode));
  if (!query) {
    tag(m.rcode() != rcode::NOTIMP, "rcode" + std::to_string(m.rcode()));
    tag(m.qdcount || m.ancount || m.nscount || m.arcount, "non-empty-section");
  } else if (p.version != 0) {
    tag(m.rcode() != rcode::BADVERS, "rcode" + std::to_string(m.rcode()));
  } else {
    tag(m.rcode() != rcode::NOERROR, "rcode" + std::to_string(m.rcode()));
  }
  if (m.opt) {
    tag(m.opt->version != 0, "version-not-zero");
    tag(!p.edns, "opt");
    tag((p.edns_flags & 0x8000) && !m.opt->do_bit, "nodo");
    tag(m.opt_count != 1, "opt-count");
    tag(m.opt->option(kOptionEcho) != nullptr, "echoed");
  } else {
    tag(p.edns, "noopt");
  }
  bool soa = false;
  for (const Record& r : m.answer) soa = soa || (r.type == rr::SOA && lower(r.owner) == kZone);
  if (p.qtype == rr::SOA && query) {
    bool want = p.version == 0 && m.rcode() == rcode::NOERROR;
    tag(want && !soa && !p.ignore_tc, "nosoa");
    tag(!want && soa, "soa");
  }
  tag(m.aa, "aa");
  tag(m.ra != query, query ? "nora" : "ra");
  tag(m.rd && !query, "rd");
  tag(!m.rd && query, "nord");
  tag(m.ad && (!query || (!(p.bits & kAd) && !(p.edns_flags & 0x8000))), "ad");
  tag(m.cd && (!query || !(p.bits & kCd)), "cd");
  tag(flags & kZ, "z");
  size_t limit = p.edns ? p.udp_size : 512;
  tag(p.ignore_tc && m.wire.size() > limit, "toobig");
  return tags;
}

// The EDNS flags word of the reply's OPT record (genreport's "mbz" check).
std::optional<uint16_t> opt_flags(const Bytes& wire) {
  // hush's OPT is its last record: the root name and type 41, whose rdata
  // ends the message.
  for (size_t i = 12; i + 11 <= wire.size(); ++i)
    if (wire[i] == 0 && wire[i + 1] == 0 && wire[i + 2] == 41 && i + 11 + size_t(wire[i + 9] << 8 | wire[i + 10]) == wire.size())
      return uint16_t(wire[i + 7] << 8 | wire[i + 8]);
  return std::nullopt;
}

}  // namespace

TEST_CASE("genreport -R -f -c: every probe of ISC's EDNS compliance checker is ok", "[integration][compliance]") {
  auto ep = shared_env().ep();
  std::vector<Probe> table = probes();
  size_t ok = 0;
  std::ostringstream report;
  for (const Probe& p : table) {
    std::string why;
    uint16_t id = random_id();
    auto reply = exchange(ep, p, build(p, id), why);
    std::vector<std::string> tags;
    std::string summary;
    if (!reply) {
      tags.push_back(why);
    } else {
      try {
        Message m = parse_message(*reply);
        summary = m.summary();
        tags = judge(p, m);
        if (m.id != id) tags.push_back("id");
        auto f = opt_flags(*reply);
        // Only DO is defined: every other EDNS flag bit must be zero.
        if (m.opt && f && (*f & 0x7FFF)) tags.push_back("mbz");
      } catch (const std::exception& e) {
        tags.push_back(std::string("malformed: ") + e.what());
      }
    }
    std::string verdict;
    for (const std::string& t : tags) verdict += (verdict.empty() ? "" : ",") + t;
    if (verdict.empty()) ++ok;
    report << " " << p.name << "=" << (verdict.empty() ? "ok" : verdict);
    INFO("genreport test " << p.name << ": " << summary);
    CHECK(verdict == "");
  }
  std::cout << "genreport table: " << ok << " of " << table.size() << " ok;" << report.str() << "\n";
  CHECK(ok == table.size());
}

namespace {

// A QUERY for `name` with exactly the header bits `bits`.
Message ask(const Endpoint& ep, const std::string& name, uint16_t qtype, uint16_t bits) {
  uint16_t id = random_id();
  Bytes q{uint8_t(id >> 8), uint8_t(id), uint8_t(bits >> 8), uint8_t(bits), 0, 1, 0, 0, 0, 0, 0, 0};
  Bytes n = encode_name(name);
  q.insert(q.end(), n.begin(), n.end());
  q.insert(q.end(), {uint8_t(qtype >> 8), uint8_t(qtype), 0, 1});
  auto r = udp_exchange(ep, q, 3000ms);
  if (!r) throw std::runtime_error("no answer for " + name);
  return parse_message(*r);
}

struct FlagCase {
  const char* kind;
  const char* name;
  uint16_t qtype;
  int rcode;
  bool aa;  // only hush's own data is authoritative
};

}  // namespace

TEST_CASE("header flags by kind of answer: AA only on hush's own data, RA and RD/CD echo on all",
          "[integration][compliance]") {
  HushOptions o;
  o.extra_config =
      "[blocking]\ndeny = [\"blocked.test\"]\n"
      "[local]\nrecords = [\"nas.lan A 192.168.1.10\"]\n";
  Env env(o);
  auto ep = env.ep();
  // unbound is authoritative for test. and sets AA on every answer it gives
  // hush; what reaches the client must not.
  const std::vector<FlagCase> cases = {
      {"forwarded", "www.test.", rr::A, rcode::NOERROR, false},
      {"cached", "www.test.", rr::A, rcode::NOERROR, false},
      {"forwarded NXDOMAIN", "nothing-here.test.", rr::A, rcode::NXDOMAIN, false},
      {"cached NXDOMAIN", "nothing-here.test.", rr::A, rcode::NXDOMAIN, false},
      {"forwarded NODATA", "www.test.", rr::MX, rcode::NOERROR, false},
      {"local record", "nas.lan.", rr::A, rcode::NOERROR, true},
      {"local NXDOMAIN", "nobody.lan.", rr::A, rcode::NXDOMAIN, true},
      {"RFC 6303 zone", "1.1.168.192.in-addr.arpa.", rr::PTR, rcode::NXDOMAIN, true},
      {"blocked", "blocked.test.", rr::A, rcode::NOERROR, false},
  };
  for (uint16_t bits : {uint16_t(kRd), uint16_t(kRd | kCd), uint16_t(0)}) {
    for (const FlagCase& c : cases) {
      Message m = ask(ep, c.name, c.qtype, bits);
      INFO(c.kind << " " << c.name << " query bits " << bits << ": " << m.summary() << "\n" << env.logs());
      uint16_t flags = uint16_t(m.wire[2] << 8 | m.wire[3]);
      CHECK(m.qr);
      CHECK(m.rcode() == c.rcode);
      CHECK(m.aa == c.aa);
      CHECK(m.ra);
      CHECK(m.rd == bool(bits & kRd));
      CHECK(m.cd == bool(bits & kCd));
      CHECK_FALSE(m.ad);
      CHECK_FALSE(flags & kZ);
    }
  }
}

// DNS client side of the integration tests: build queries with ldns (full
// control over ID, flags, EDNS size/version/DO, letter case), send them over
// raw UDP/TCP sockets with time limits, and parse answers with a strict
// wire parser of our own (so we see the bytes the server sent: question case,
// OPT presence, EDNS options) plus ldns for record text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace hush_it {

using Bytes = std::vector<uint8_t>;

namespace rr {
inline constexpr uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16, AAAA = 28, SRV = 33,
                          OPT = 41;
}
namespace rcode {
inline constexpr int NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4, REFUSED = 5,
                     BADVERS = 16;
}
inline constexpr uint16_t kEdnsOptionEde = 15;  // RFC 8914 Extended DNS Error

uint16_t random_id();
std::string hex(const Bytes& b, size_t max = 64);
std::string lower(std::string s);

struct QueryOpts {
  std::optional<uint16_t> id;  // random if unset
  bool rd = true;
  bool edns = false;
  uint16_t udp_size = 1232;
  uint8_t edns_version = 0;
  bool do_bit = false;
  uint8_t opcode = 0;
};
// Query built with ldns_pkt_query_new + ldns_pkt2wire.  Name case is kept.
Bytes make_query(const std::string& name, uint16_t qtype, const QueryOpts& o = {});

// A UDP socket connected to `ep` (IPv4), for tests that send many queries
// from one port; the caller closes it.
int connected_udp(const Endpoint& ep);
uint16_t wire_id(const Bytes& b);  // 0 if shorter than 2 bytes

// Name -> uncompressed wire form, case preserved ("." is the root).
Bytes encode_name(const std::string& name);

struct Opt {
  uint16_t udp_size = 0;
  uint8_t ext_rcode = 0;
  uint8_t version = 0;
  bool do_bit = false;
  std::vector<std::pair<uint16_t, Bytes>> options;
  const Bytes* option(uint16_t code) const;
};

struct Record {
  std::string owner;  // as on the wire (case kept), absolute with trailing dot
  uint16_t type = 0, cls = 0;
  uint32_t ttl = 0;
  Bytes rdata;
  std::string text;  // rdata presentation form via ldns (fields joined by ' ')
};

struct Message {
  Bytes wire;
  uint16_t id = 0;
  bool qr = false, aa = false, tc = false, rd = false, ra = false, ad = false, cd = false;
  uint8_t opcode = 0, rcode4 = 0;
  uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  std::string qname;  // first question, case as on the wire
  uint16_t qtype = 0, qclass = 0;
  std::vector<Record> answer, authority, additional;  // additional: without OPT
  std::optional<Opt> opt;
  int opt_count = 0;

  int rcode() const { return (opt ? opt->ext_rcode << 4 : 0) | rcode4; }
  std::vector<std::string> texts(uint16_t type) const;  // answer-section rdata of `type`
  const Record* first(uint16_t type) const;              // in the answer section
  std::string summary() const;                           // one line, for failure messages
};

// Strict parse; throws std::runtime_error describing what is wrong.
Message parse_message(const Bytes& wire);

// The message's Extended DNS Error (RFC 8914), if it carries one.
struct Ede {
  bool present = false;
  int code = -1;
  std::string text;
};
Ede ede_of(const Message& m);

// ---------------------------------------------------------------- transports

// Sends `query` and waits for a datagram with the same ID (others ignored).
// `source`: the local address to send from (e.g. "127.0.0.2"); "" = any.
std::optional<Bytes> udp_exchange(const Endpoint& ep, const Bytes& query, ms timeout = 3000ms,
                                  const std::string& source = "");
// Sends arbitrary bytes; returns the first datagram that comes back within `wait`.
std::optional<Bytes> udp_send_raw(const Endpoint& ep, const Bytes& packet, ms wait);

Bytes frame(const Bytes& msg);  // 2-byte length prefix (RFC 1035 4.2.2)

class TcpClient {
 public:
  TcpClient(const Endpoint& ep, ms timeout = 3000ms);
  ~TcpClient();
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }
  bool send_all(const Bytes& data);
  bool send_framed(const Bytes& msg) { return send_all(frame(msg)); }
  // One length-prefixed message, or nullopt on timeout/EOF/error (see error()).
  std::optional<Bytes> read_framed(ms timeout);
  // Waits for the peer to close (EOF or reset).  Returns false on timeout or if
  // data arrived instead.
  bool wait_closed(ms timeout);
  bool eof() const { return eof_; }

 private:
  bool read_exact(uint8_t* dst, size_t n, Clock::time_point deadline);
  int fd_ = -1;
  bool eof_ = false;
  std::string error_;
};

// Query helpers: throw std::runtime_error (reported by Catch2 as a failure
// with the text) if nothing comes back in time or the answer does not parse.
Message udp_query(const Endpoint& ep, const std::string& name, uint16_t qtype, const QueryOpts& o = {},
                  ms timeout = 3000ms, const std::string& source = "");
Message tcp_query(const Endpoint& ep, const std::string& name, uint16_t qtype, const QueryOpts& o = {},
                  ms timeout = 3000ms);

// ---------------------------------------------------------------- dig / kdig

// dig @host -p port +time=2 +tries=1 <args...>
CommandResult dig(const Endpoint& ep, const std::vector<std::string>& args);
// kdig @host -p port +time=2 +retry=0 <args...>
CommandResult kdig(const Endpoint& ep, const std::vector<std::string>& args);
// Non-empty lines of s, trimmed.
std::vector<std::string> lines(const std::string& s);

}  // namespace hush_it

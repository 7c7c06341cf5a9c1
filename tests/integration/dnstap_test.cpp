// dnstap export with the real binary: Debian's fstrm_capture receives the
// stream on a Unix socket, dnstap-read (bind9-dnsutils) decodes it, and the
// frames' `extra` field carries hush's verdict. A collector that is not there
// costs no answer; the answers it missed are counted on /metrics. With
// dnstap.forwarder the exchanges with the upstream go too.
#include <signal.h>

#include <catch2/catch.hpp>

#include <algorithm>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

uint64_t varint(const std::string& s, size_t& at) {
  uint64_t v = 0;
  for (int shift = 0; at < s.size() && shift < 64; shift += 7) {
    uint8_t b = uint8_t(s[at++]);
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  return v;
}

// Field 3 (extra) of a Dnstap protobuf message; "" if none.
std::string extra_of(const std::string& frame) {
  for (size_t at = 0; at < frame.size();) {
    uint64_t tag = varint(frame, at);
    switch (tag & 7) {
      case 0: varint(frame, at); break;
      case 5: at += 4; break;
      case 1: at += 8; break;
      case 2: {
        size_t len = size_t(varint(frame, at));
        if ((tag >> 3) == 3) return frame.substr(at, len);
        at += len;
        break;
      }
      default: return "";
    }
  }
  return "";
}

// The data frames of a Frame Streams file (control frames skipped).
std::vector<std::string> data_frames(const std::string& file) {
  std::vector<std::string> out;
  auto be32 = [&](size_t at) {
    return uint32_t(uint8_t(file[at])) << 24 | uint32_t(uint8_t(file[at + 1])) << 16 |
           uint32_t(uint8_t(file[at + 2])) << 8 | uint32_t(uint8_t(file[at + 3]));
  };
  for (size_t at = 0; at + 4 <= file.size();) {
    uint32_t len = be32(at);
    at += 4;
    if (len == 0) {  // a control frame: its own length follows
      if (at + 4 > file.size()) break;
      at += 4 + be32(at);
      continue;
    }
    out.push_back(file.substr(at, len));
    at += len;
  }
  return out;
}

// Field 3 (socket_protocol) of the Message (field 14) of a Dnstap frame; 0 if none.
uint64_t socket_protocol_of(const std::string& frame) {
  for (size_t at = 0; at < frame.size();) {
    uint64_t tag = varint(frame, at);
    if ((tag & 7) == 0) {
      varint(frame, at);
      continue;
    }
    if ((tag & 7) != 2) return 0;
    size_t len = size_t(varint(frame, at));
    if ((tag >> 3) != 14) {
      at += len;
      continue;
    }
    const std::string m = frame.substr(at, len);
    for (size_t i = 0; i < m.size();) {
      uint64_t t = varint(m, i);
      if ((t & 7) == 0) {
        uint64_t v = varint(m, i);
        if ((t >> 3) == 3) return v;
      } else if ((t & 7) == 2) {
        i += size_t(varint(m, i));
      } else {
        return 0;
      }
    }
    return 0;
  }
  return 0;
}

// Debian's fstrm_capture writing <dir>/capture.fstrm, listening on a Unix
// socket (ready once the socket exists) or on a TCP port (hush tries again
// each second until it is there).
class Collector {
 public:
  Collector(const fs::path& dir, const fs::path& sock) : Collector(dir, {"-u", sock.string()}) {
    REQUIRE(wait_until([&] { return fs::exists(sock); }, 5s));
  }
  Collector(const fs::path& dir, uint16_t port) : Collector(dir, {"-a", "127.0.0.1", "-p", std::to_string(port)}) {}

  // Stops it, so that it writes out what it has, and decodes the capture:
  // dnstap-read's lines beside the raw frames, one for one.
  struct Decoded {
    std::string text;
    std::vector<std::string> lines, frames;
  };
  Decoded finish() {
    kill(process_.pid(), SIGINT);
    REQUIRE(process_.wait_exit(5s));
    auto read = run_command({"dnstap-read", capture_.string()}, 10s);
    INFO(read.out << read.err);
    REQUIRE(read.exit_code() == 0);
    Decoded d{read.out, {}, data_frames(read_file(capture_))};
    for (size_t at = 0, nl; (nl = read.out.find('\n', at)) != std::string::npos; at = nl + 1)
      d.lines.push_back(read.out.substr(at, nl - at));
    REQUIRE(d.frames.size() == d.lines.size());
    return d;
  }
  std::vector<std::string> frames() {
    kill(process_.pid(), SIGINT);
    REQUIRE(process_.wait_exit(5s));
    return data_frames(read_file(capture_));
  }

 private:
  Collector(const fs::path& dir, std::vector<std::string> where)
      : capture_(dir / "capture.fstrm"), process_(command(where, capture_), dir / "collector.out", dir / "collector.err") {}
  static std::vector<std::string> command(std::vector<std::string> where, const fs::path& capture) {
    std::vector<std::string> c = {"fstrm_capture", "-t", "protobuf:dnstap.Dnstap"};
    c.insert(c.end(), where.begin(), where.end());
    c.insert(c.end(), {"-w", capture.string()});
    return c;
  }
  fs::path capture_;
  Process process_;
};

// Stopping hush sends what is queued and closes the stream.
void stop(Env& env) {
  kill(env.hush.pid(), SIGTERM);
  CHECK(wait_until([&] { return !env.hush.running(); }, 10s));
}

long metric(uint16_t http_port, const std::string& name) {
  auto r = run_command({"curl", "-s", "http://127.0.0.1:" + std::to_string(http_port) + "/metrics"}, 5s);
  size_t at = r.out.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stol(r.out.substr(at + name.size() + 2));
}

}  // namespace

TEST_CASE("dnstap: one query and one response frame per answer, with client, name, type and verdict",
          "[integration][dnstap]") {
  TempDir dir("hush-it-dnstap-");
  const fs::path sock = dir.path() / "tap.sock";
  Collector collector(dir.path(), sock);
  HushOptions o;
  o.extra_config = "[dnstap]\nsocket = \"" + sock.string() +
                   "\"\n[blocking]\ndeny = [\"sub.ads.test\"]\n[querylog]\nignore_domains = [\"mail.test\"]\n";
  {
    Env env(o);
    REQUIRE(dig(env.ep(), {"-b", "127.0.0.2", "sub.ads.test", "A", "+short"}).out == "0.0.0.0\n");
    REQUIRE(dig(env.ep(), {"-b", "127.0.0.3", "www.test", "AAAA", "+short"}).out == std::string(zone::kWwwAAAA) + "\n");
    REQUIRE(dig(env.ep(), {"-b", "127.0.0.4", "mail.test", "A", "+short"}).exit_code() == 0);  // ignored: not sent
    stop(env);
  }
  const auto [text, lines, frames] = collector.finish();
  INFO(text);
  // The harness's readiness probe asks from 127.0.0.1; ours ask from .2 to .4.
  struct Seen {
    std::string line, extra;
  };
  std::vector<Seen> ours;
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find(" 127.0.0.1:") == std::string::npos) ours.push_back({lines[i], extra_of(frames[i])});
  REQUIRE(ours.size() == 4);  // mail.test (querylog.ignore_domains) is not sent
  const char* expected[][3] = {{"CQ 127.0.0.2:", "sub.ads.test/IN/A", "blocked "},
                               {"CR 127.0.0.2:", "sub.ads.test/IN/A", "blocked "},
                               {"CQ 127.0.0.3:", "www.test/IN/AAAA", "forwarded"},
                               {"CR 127.0.0.3:", "www.test/IN/AAAA", "forwarded"}};
  for (size_t i = 0; i < 4; ++i) {
    INFO(ours[i].line << " extra: " << ours[i].extra);
    CHECK(ours[i].line.find(expected[i][0]) != std::string::npos);
    CHECK(ours[i].line.find(expected[i][1]) != std::string::npos);
    CHECK(ours[i].extra.rfind(expected[i][2], 0) == 0);
  }
  CHECK(ours[0].extra == ours[1].extra);
  CHECK(text.find("mail.test") == std::string::npos);
}

TEST_CASE("dnstap: the query log's anonymous mode and ignored clients apply to the frames", "[integration][dnstap]") {
  TempDir dir("hush-it-dnstap-anon-");
  const fs::path sock = dir.path() / "tap.sock";
  Collector collector(dir.path(), sock);
  HushOptions o;
  // 127.0.0.1 is the harness's readiness probe: ignored too, so that the
  // frames left, which carry no address, are those of 127.0.0.2.
  o.extra_config = "[dnstap]\nsocket = \"" + sock.string() +
                   "\"\n[querylog]\nanonymous = true\nignore_clients = [\"127.0.0.1\", \"127.0.0.5\"]\n";
  {
    Env env(o);
    REQUIRE(dig(env.ep(), {"-b", "127.0.0.5", "mail.test", "A", "+short"}).exit_code() == 0);
    REQUIRE(dig(env.ep(), {"-b", "127.0.0.2", "www.test", "A", "+short"}).out == std::string(zone::kWwwA) + "\n");
    stop(env);
  }
  std::vector<std::string> frames = collector.frames();
  REQUIRE(frames.size() == 2);
  for (const std::string& f : frames) {
    const std::string extra = extra_of(f);
    CHECK((extra == "forwarded" || extra == "cached"));
    CHECK(f.find("www") == std::string::npos);
    CHECK(f.find("mail") == std::string::npos);
    CHECK(f.find(std::string("\x7f\x00\x00\x02", 4)) == std::string::npos);
  }
}

TEST_CASE("dnstap: to a collector's TCP address", "[integration][dnstap]") {
  TempDir dir("hush-it-dnstap-tcp-");
  const uint16_t port = pick_free_port();
  Collector collector(dir.path(), port);
  const uint16_t http_port = pick_free_port();
  HushOptions o;
  o.extra_config = "[dnstap]\naddress = \"127.0.0.1:" + std::to_string(port) + "\"\n";
  o.extra_args = {"--http", "127.0.0.1:" + std::to_string(http_port)};
  {
    Env env(o);
    // The collector listens once it has started; hush tries again each second.
    REQUIRE(wait_until([&] {
      REQUIRE(dig(env.ep(), {"-b", "127.0.0.2", "www.test", "A", "+short"}).out == std::string(zone::kWwwA) + "\n");
      return metric(http_port, "hush_dnstap_sent_total") > 0;
    }, 10s, 200ms));
    stop(env);
  }
  const auto [text, lines, frames] = collector.finish();
  INFO(text);
  CHECK(text.find("CQ 127.0.0.2:") != std::string::npos);
  CHECK(text.find("CR 127.0.0.2:") != std::string::npos);
  CHECK(text.find("www.test/IN/A") != std::string::npos);
}

TEST_CASE("dnstap: a collector that is gone costs no answers; the misses are counted; it is reached when it comes",
          "[integration][dnstap]") {
  TempDir dir("hush-it-dnstap-gone-");
  const uint16_t http_port = pick_free_port();
  HushOptions o;
  o.extra_config = "[dnstap]\nsocket = \"" + (dir.path() / "nobody.sock").string() + "\"\n";
  o.extra_args = {"--http", "127.0.0.1:" + std::to_string(http_port)};
  Env env(o);
  for (int i = 0; i < 20; ++i) {
    auto r = dig(env.ep(), {"www.test", "A", "+short"});
    REQUIRE(r.out == std::string(zone::kWwwA) + "\n");
  }
  // The writer thread counts them as it finds the collector away (within ms).
  long dropped = -1;
  CHECK(wait_until([&] { return (dropped = metric(http_port, "hush_dnstap_dropped_total")) >= 20; }, 5s));
  CHECK(dropped >= 20);
  CHECK(metric(http_port, "hush_dnstap_sent_total") == 0);
  // A collector that comes (back): hush connects by itself (a try a second).
  const fs::path sock = dir.path() / "nobody.sock";
  Collector collector(dir.path(), sock);
  CHECK(wait_until([&] {
    dig(env.ep(), {"www.test", "A", "+short"});
    return metric(http_port, "hush_dnstap_sent_total") > 0;
  }, 10s, 200ms));
}

TEST_CASE("dnstap: with dnstap.forwarder, one FORWARDER_QUERY and FORWARDER_RESPONSE per upstream exchange, "
          "naming the upstream",
          "[integration][dnstap]") {
  TempDir dir("hush-it-dnstap-fwd-");
  const fs::path sock = dir.path() / "tap.sock";
  Collector collector(dir.path(), sock);
  HushOptions o;
  o.extra_config = "[dnstap]\nsocket = \"" + sock.string() + "\"\nforwarder = true\n[blocking]\ndeny = [\"sub.ads.test\"]\n";
  std::string upstream;
  {
    Env env(o);
    upstream = env.unbound.endpoint().host + ":" + std::to_string(env.unbound.endpoint().port);
    // Asked twice: the second answer comes from the cache, without an exchange.
    for (int i = 0; i < 2; ++i)
      REQUIRE(dig(env.ep(), {"-b", "127.0.0.3", "www.test", "AAAA", "+short"}).out == std::string(zone::kWwwAAAA) + "\n");
    REQUIRE(dig(env.ep(), {"-b", "127.0.0.2", "sub.ads.test", "A", "+short"}).out == "0.0.0.0\n");  // no exchange
    stop(env);
  }
  const auto [text, lines, frames] = collector.finish();
  INFO(text);
  auto count = [&](const std::string& kind, const std::string& what) {
    return std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.find(" " + kind + " ") != std::string::npos && l.find(what) != std::string::npos;
    });
  };
  CHECK(count("FQ", "www.test/IN/AAAA") == 1);
  CHECK(count("FR", "www.test/IN/AAAA") == 1);
  CHECK(count("CR", "www.test/IN/AAAA") == 2);
  CHECK(count("FQ", "sub.ads.test") == 0);
  CHECK(count("CQ", "sub.ads.test") == 1);
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find(" FQ ") != std::string::npos || lines[i].find(" FR ") != std::string::npos) {
      INFO(lines[i]);
      CHECK(lines[i].find(upstream) != std::string::npos);
      CHECK(extra_of(frames[i]).find("upstream 127.0.0.1:") == 0);
    }
}

TEST_CASE("dnstap: DoT and DoH answers carry the schema's DOT and DOH socket protocols, not TCP",
          "[integration][dnstap]") {
  TempDir dir("hush-it-dnstap-tls-");
  const std::string server_name = "dns.example.test";
  make_certificate(dir.path(), "tap.example.test", server_name);
  const fs::path sock = dir.path() / "tap.sock";
  Collector collector(dir.path(), sock);
  const uint16_t dot_port = pick_free_port(), doh_port = pick_free_port();
  HushOptions o;
  o.extra_config = "[dnstap]\nsocket = \"" + sock.string() + "\"\n[dot]\nlisten = [\"127.0.0.1:" +
                   std::to_string(dot_port) + "\"]\n[doh]\nlisten = [\"127.0.0.1:" + std::to_string(doh_port) +
                   "\"]\n[tls]\ncert = \"" + (dir.path() / "cert.pem").string() + "\"\nkey = \"" +
                   (dir.path() / "key.pem").string() + "\"\nserver_name = \"" + server_name + "\"\n";
  {
    Env env(o);
    const std::string ca = "+tls-ca=" + (dir.path() / "cert.pem").string(), host = "+tls-hostname=" + server_name;
    const std::string a = std::string(zone::kWwwA) + "\n";
    REQUIRE(dig(env.ep(), {"-b", "127.0.0.2", "www.test", "A", "+short"}).out == a);
    REQUIRE(dig(env.ep(), {"-b", "127.0.0.3", "+tcp", "www.test", "A", "+short"}).out == a);
    REQUIRE(kdig({"127.0.0.1", dot_port}, {"-b", "127.0.0.4", ca, host, "www.test", "A", "+short"}).out == a);
    REQUIRE(kdig({"127.0.0.1", doh_port}, {"-b", "127.0.0.5", ca, host, "+https", "www.test", "A", "+short"}).out == a);
    stop(env);
  }
  const auto [text, lines, frames] = collector.finish();
  INFO(text);
  // dnstap.proto: UDP = 1, TCP = 2, DOT = 3, DOH = 4.
  const std::pair<const char*, uint64_t> expected[] = {
      {" 127.0.0.2:", 1}, {" 127.0.0.3:", 2}, {" 127.0.0.4:", 3}, {" 127.0.0.5:", 4}};
  for (const auto& [client, protocol] : expected) {
    int seen = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].find(client) == std::string::npos) continue;
      INFO(lines[i]);
      CHECK(socket_protocol_of(frames[i]) == protocol);
      ++seen;
    }
    INFO(client);
    CHECK(seen == 2);  // its query and its response
  }
}

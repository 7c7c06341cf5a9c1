// DNS over TLS to the upstream: unbound serves DoT on a port of its own with
// a certificate from a throwaway CA the test makes with openssl; hush is
// given only that port (tls://), so every answer it serves came over TLS.
// Also: a certificate for another name is refused (log line, SERVFAIL with
// an extended error, no plain fallback), many questions share one
// connection, and hush reconnects after unbound restarts. An expired
// certificate is refused over DoT and DoH alike, and dnsdist 1.7 (the other
// server people put in front) serves as a DoT and a DoH upstream too.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

// A CA and a certificate it signed for dot.test and 127.0.0.1.
struct TestPki {
  TempDir dir{"hush-it-pki-"};
  fs::path ca() const { return dir.path() / "ca.pem"; }
  fs::path key() const { return dir.path() / "server.key"; }
  fs::path cert() const { return dir.path() / "server.pem"; }

  TestPki() {
    const std::string d = dir.path().string();
    write_file(dir.path() / "ext.cnf", "subjectAltName=DNS:dot.test,IP:127.0.0.1\n");
    run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         d + "/ca.key", "-out", ca().string(), "-days", "2", "-subj", "/CN=hush test CA"});
    run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         key().string(), "-out", d + "/server.csr", "-subj", "/CN=dot.test"});
    run({"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", ca().string(), "-CAkey", d + "/ca.key",
         "-CAcreateserial", "-out", cert().string(), "-days", "2", "-extfile", d + "/ext.cnf"});
  }
  // Signs the server's certificate again, valid until a day ago.
  void expire() const {
    const std::string d = dir.path().string();
    run({"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", ca().string(), "-CAkey", d + "/ca.key",
         "-CAcreateserial", "-out", cert().string(), "-days", "-1", "-extfile", d + "/ext.cnf"});
  }
  static void run(const std::vector<std::string>& argv) {
    CommandResult r = run_command(argv, 30s);
    INFO(r.err);
    REQUIRE(r.exit_code() == 0);
  }
};

// unbound's server: lines for DoT on `port` with the PKI's certificate.
std::string dot_config(const TestPki& pki, uint16_t port) {
  return "  interface: 127.0.0.1@" + std::to_string(port) + "\n  tls-port: " + std::to_string(port) +
         "\n  tls-service-key: \"" + pki.key().string() + "\"\n  tls-service-pem: \"" + pki.cert().string() +
         "\"\n  incoming-num-tcp: 256\n";
}

HushOptions dot_options(const TestPki& pki, uint16_t port, const std::string& name, int threads = 1) {
  HushOptions o;
  o.threads = threads;
  o.unbound_config = dot_config(pki, port);
  o.upstream_servers = {"tls://127.0.0.1:" + std::to_string(port) + (name.empty() ? "" : "#" + name)};
  o.upstream_config = "tls_ca_file = \"" + pki.ca().string() + "\"\n";
  o.server_config = "log_level = \"debug\"";
  return o;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Sends the queries from one socket with up to `window` unanswered at once
// (more could overflow the socket buffer on the way in: 300 datagrams are
// over the default 208 KiB of kernel memory), and collects the answers by
// ID (index i has ID i) for at most `timeout`.
std::vector<std::optional<Message>> windowed(const Endpoint& ep, const std::vector<std::string>& names, size_t window,
                                             ms timeout) {
  std::vector<std::optional<Message>> answers(names.size());
  int fd = connected_udp(ep);
  const auto deadline = Clock::now() + timeout;
  size_t sent = 0, got = 0;
  Bytes in(65535);
  for (int i = 0; i < 100000 && got < names.size() && Clock::now() < deadline; ++i) {
    for (; sent < names.size() && sent - got < window; ++sent) {
      QueryOpts o;
      o.id = uint16_t(sent);
      Bytes q = make_query(names[sent], rr::A, o);
      REQUIRE(send(fd, q.data(), q.size(), 0) == ssize_t(q.size()));
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10) <= 0) continue;
    ssize_t n = recv(fd, in.data(), in.size(), 0);
    if (n < 12) continue;
    Message m = parse_message(Bytes(in.begin(), in.begin() + n));
    if (m.id < names.size() && !answers[m.id]) {
      answers[m.id] = std::move(m);
      ++got;
    }
  }
  close(fd);
  return answers;
}

}  // namespace

TEST_CASE("answers come over DNS over TLS, with the name checked and the queries padded", "[integration][dot]") {
  TestPki pki;
  uint16_t port = pick_free_port();
  Env env(dot_options(pki, port, "dot.test"));
  INFO(env.logs());
  Message m = udp_query(env.ep(), "www.test.", rr::A);
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK(m.texts(rr::A) == std::vector<std::string>{zone::kWwwA});
  // Over TCP the DoT port speaks only TLS: plain DNS there gets nothing
  // back, so the answers above came through a TLS session (which hush logs;
  // a tls:// upstream is never asked over UDP).
  TcpClient plain(Endpoint{"127.0.0.1", port}, 1000ms);
  REQUIRE(plain.send_framed(make_query("www.test.", rr::A)));
  CHECK_FALSE(plain.read_framed(1000ms).has_value());
  CHECK_THAT(env.hush.log(), Catch::Contains("TLS ready (TLSv1.3"));
  // A large answer (over the 1232 bytes a UDP upstream would truncate)
  // comes whole over the stream.
  CHECK(udp_query(env.ep(), "huge.test.", rr::TXT).rcode() == rcode::NOERROR);
  CHECK(tcp_query(env.ep(), "huge.test.", rr::TXT).texts(rr::TXT).size() == size_t(zone::kHugeCount));
}

TEST_CASE("an idle connection is closed, and the next one resumes the TLS session", "[integration][dot]") {
  TestPki pki;
  uint16_t port = pick_free_port();
  HushOptions o = dot_options(pki, port, "dot.test");
  o.upstream_config += "tls_idle_timeout_ms = 200\n";
  Env env(o);
  INFO(env.logs());
  CHECK(udp_query(env.ep(), "first.wild.test.", rr::A).texts(rr::A) == std::vector<std::string>{zone::kWildA});
  // (The sleep is the idle timeout running out, not a wait for a server.)
  std::this_thread::sleep_for(600ms);
  CHECK(udp_query(env.ep(), "second.wild.test.", rr::A).texts(rr::A) == std::vector<std::string>{zone::kWildA});
  std::string log = env.hush.log();
  CHECK(count(log, "TLS ready") >= 2);
  CHECK_THAT(log, Catch::Contains("session resumed"));
}

TEST_CASE("a server given by address must carry that address in its certificate", "[integration][dot]") {
  TestPki pki;
  uint16_t port = pick_free_port();
  Env env(dot_options(pki, port, ""));
  INFO(env.logs());
  CHECK(udp_query(env.ep(), "www.test.", rr::A).texts(rr::A) == std::vector<std::string>{zone::kWwwA});
}

TEST_CASE("a certificate for another name is refused: logged, SERVFAIL with the reason, no plain DNS",
          "[integration][dot]") {
  TestPki pki;
  uint16_t port = pick_free_port();
  Env env(dot_options(pki, port, "wrong.example"));
  INFO(env.logs());
  QueryOpts q;
  q.edns = true;
  Message m = udp_query(env.ep(), "cert-check.wild.test.", rr::A, q);
  CHECK(m.rcode() == rcode::SERVFAIL);
  Ede e = ede_of(m);
  CHECK(e.present);
  CHECK(e.code == 23);  // Network Error
  CHECK_THAT(e.text, Catch::Contains("certificate refused") && Catch::Contains("hostname mismatch"));
  std::string log = env.hush.log();
  CHECK_THAT(log, Catch::Contains("TLS certificate refused: hostname mismatch (it must carry the name wrong.example)"));
  CHECK(count(log, "TLS ready") == 0);
}

TEST_CASE("a certificate from a CA hush does not trust is refused", "[integration][dot]") {
  TestPki pki;
  TempDir other;
  TestPki::run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", (other.path() / "ca.key").string(), "-out", (other.path() / "ca.pem").string(), "-days",
                "2", "-subj", "/CN=another CA"});
  uint16_t port = pick_free_port();
  HushOptions o = dot_options(pki, port, "dot.test");
  o.upstream_config = "tls_ca_file = \"" + (other.path() / "ca.pem").string() + "\"\n";
  Env env(o);
  INFO(env.logs());
  QueryOpts q;
  q.edns = true;
  Message m = udp_query(env.ep(), "www.test.", rr::A, q);
  CHECK(m.rcode() == rcode::SERVFAIL);
  CHECK(ede_of(m).code == 23);
  CHECK_THAT(env.hush.log(), Catch::Contains("TLS certificate refused: unable to get local issuer certificate"));
}

TEST_CASE("a refused TLS upstream fails over to a plain one the user configured", "[integration][dot]") {
  TestPki pki;
  uint16_t port = pick_free_port();
  HushOptions o = dot_options(pki, port, "wrong.example");
  o.upstreams = {kUnboundUpstream};
  Env env(o);
  INFO(env.logs());
  for (int i = 0; i < 5; ++i)
    CHECK(udp_query(env.ep(), "n" + std::to_string(i) + ".wild.test.", rr::A).texts(rr::A) ==
          std::vector<std::string>{zone::kWildA});
}

TEST_CASE("many questions at once are pipelined on one or two connections", "[integration][dot]") {
  // 150 questions in flight at once, and 300 in all, through one worker.
  TestPki pki;
  uint16_t port = pick_free_port();
  Env env(dot_options(pki, port, "dot.test"));
  INFO(env.logs());
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) names.push_back("p" + std::to_string(i) + ".wild.test.");
  auto answers = windowed(env.ep(), names, 150, 10s);
  size_t good = 0;
  for (const auto& a : answers) good += a && a->texts(rr::A) == std::vector<std::string>{zone::kWildA};
  CHECK(good == names.size());
  // One worker, at most two connections (TlsUpstreams::kConnections); the
  // first came up for the readiness probe.
  size_t sessions = count(env.hush.log(), "TLS ready");
  CHECK(sessions >= 1);
  CHECK(sessions <= 2);
}

TEST_CASE("after unbound restarts, hush connects again", "[integration][dot]") {
  TestPki pki;
  uint16_t port = pick_free_port();
  Env env(dot_options(pki, port, "dot.test"));
  INFO(env.logs());
  REQUIRE(udp_query(env.ep(), "before.wild.test.", rr::A).texts(rr::A) == std::vector<std::string>{zone::kWildA});
  env.unbound.stop();
  env.unbound.start();
  // The old connection is gone; the next question opens a new one (a
  // question that met the dead connection may get SERVFAIL first, and the
  // server is then backed off for at most a second or two).
  int tries = 0;
  bool answered = wait_until(
      [&] {
        ++tries;
        auto r = udp_exchange(env.ep(), make_query("after" + std::to_string(tries) + ".wild.test.", rr::A), 1000ms);
        return r && parse_message(*r).texts(rr::A) == std::vector<std::string>{zone::kWildA};
      },
      8s, 100ms);
  CHECK(answered);
  CHECK(count(env.hush.log(), "TLS ready") >= 2);
}

TEST_CASE("a server given by name is looked up through the bootstrap server, and again once its TTL is over",
          "[integration][dot]") {
  TestPki pki;
  uint16_t port = pick_free_port();
  HushOptions o = dot_options(pki, port, "");
  // unbound's plain port knows dot.test, with a TTL of 1 s (hush keeps an
  // address at least Bootstrap::kMinTtl, 2 s).
  o.unbound_config += "  local-zone: \"dot.test.\" static\n  local-data: \"dot.test. 1 IN A 127.0.0.1\"\n";
  o.upstream_servers = {"tls://dot.test:" + std::to_string(port)};
  o.upstream_config += "bootstrap = [\"@unbound\"]\n";
  Env env(o);
  INFO(env.logs());
  CHECK(udp_query(env.ep(), "www.test.", rr::A).texts(rr::A) == std::vector<std::string>{zone::kWwwA});
  const std::string looked_up = "dot.test is 127.0.0.1:" + std::to_string(port) + " for 2 s (bootstrap)";
  CHECK(count(env.hush.log(), looked_up) == 1);
  // While the connection lasts the address is not needed again. Once the
  // TTL is over, the next connection (after unbound restarts) looks it up
  // again. (The sleep is the TTL running out, not a wait for a server.)
  std::this_thread::sleep_for(2100ms);
  env.unbound.stop();
  env.unbound.start();
  int tries = 0;
  CHECK(wait_until(
      [&] {
        auto r = udp_exchange(env.ep(), make_query("again" + std::to_string(++tries) + ".wild.test.", rr::A), 1000ms);
        return r && parse_message(*r).texts(rr::A) == std::vector<std::string>{zone::kWildA};
      },
      8s, 100ms));
  CHECK(count(env.hush.log(), looked_up) == 2);
}

TEST_CASE("hush check refuses an upstream given by name with no plain server to look it up", "[integration][dot]") {
  TempDir dir;
  write_file(dir.path() / "hush.toml", "[upstream]\nservers = [\"tls://dns.example\"]\nbootstrap = [\"tls://1.1.1.1\"]\n");
  CommandResult r = run_command({hush_binary(), "check", "--config", (dir.path() / "hush.toml").string()});
  CHECK(r.exit_code() == 2);
  CHECK_THAT(r.out + r.err, Catch::Contains("hush.toml:3: upstream.bootstrap") &&
                                Catch::Contains("a bootstrap server must be plain DNS"));
}

namespace {
// unbound's server: lines for DNS over HTTPS on `port` (/dns-query, HTTP/2).
std::string doh_config(const TestPki& pki, uint16_t port) {
  return "  interface: 127.0.0.1@" + std::to_string(port) + "\n  https-port: " + std::to_string(port) +
         "\n  http-endpoint: \"/dns-query\"\n  tls-service-key: \"" + pki.key().string() +
         "\"\n  tls-service-pem: \"" + pki.cert().string() + "\"\n  incoming-num-tcp: 256\n";
}

HushOptions doh_options(const TestPki& pki, uint16_t port, const std::string& host) {
  HushOptions o = dot_options(pki, port, "");
  o.unbound_config = doh_config(pki, port);
  o.upstream_servers = {"https://" + host + ":" + std::to_string(port) + "/dns-query"};
  return o;
}
}  // namespace

TEST_CASE("answers come over DNS over HTTPS, many questions on one or two connections", "[integration][doh]") {
  TestPki pki;
  uint16_t port = pick_free_port();
  Env env(doh_options(pki, port, "127.0.0.1"));
  INFO(env.logs());
  CHECK(udp_query(env.ep(), "www.test.", rr::A).texts(rr::A) == std::vector<std::string>{zone::kWwwA});
  CHECK(tcp_query(env.ep(), "huge.test.", rr::TXT).texts(rr::TXT).size() == size_t(zone::kHugeCount));
  std::vector<std::string> names;
  for (int i = 0; i < 200; ++i) names.push_back("h" + std::to_string(i) + ".wild.test.");
  auto answers = windowed(env.ep(), names, 100, 10s);
  size_t good = 0;
  for (const auto& a : answers) good += a && a->texts(rr::A) == std::vector<std::string>{zone::kWildA};
  CHECK(good == names.size());
  // hush's connections to the DoH port: at most HttpsUpstreams::kConnections.
  CommandResult ss = run_command({"ss", "-Htn", "state", "established", "dport", "= :" + std::to_string(port)});
  CHECK(ss.exit_code() == 0);
  CHECK(lines(ss.out).size() >= 1);
  CHECK(lines(ss.out).size() <= 2);
}

TEST_CASE("DNS over HTTPS to a server given by name, with a certificate for another name refused",
          "[integration][doh]") {
  TestPki pki;
  uint16_t port = pick_free_port();
  HushOptions o = doh_options(pki, port, "dot.test");
  o.unbound_config += "  local-zone: \"dot.test.\" static\n  local-data: \"dot.test. 60 IN A 127.0.0.1\"\n"
                      "  local-zone: \"other.test.\" static\n  local-data: \"other.test. 60 IN A 127.0.0.1\"\n";
  o.upstream_servers.push_back("https://other.test:" + std::to_string(port) + "/dns-query");
  o.upstream_config += "bootstrap = [\"@unbound\"]\n";
  Env env(o);
  INFO(env.logs());
  // dot.test carries the certificate's name and answers; other.test is
  // refused (with a warning) whenever it is tried, and never answers.
  for (int i = 0; i < 6; ++i)
    CHECK(udp_query(env.ep(), "n" + std::to_string(i) + ".wild.test.", rr::A).texts(rr::A) ==
          std::vector<std::string>{zone::kWildA});
  std::string log = env.hush.log();
  CHECK_THAT(log, Catch::Contains("dot.test is 127.0.0.1:" + std::to_string(port)));
  CHECK_THAT(log, Catch::Contains("upstream https://other.test:" + std::to_string(port) +
                                  "/dns-query: TLS certificate refused"));
}

TEST_CASE("an expired certificate is refused over DNS over TLS and over HTTPS: logged, SERVFAIL with EDE 23",
          "[integration][dot][doh]") {
  TestPki pki;
  pki.expire();
  const uint16_t dot = pick_free_port(), doh = pick_free_port();
  HushOptions o = dot_options(pki, dot, "dot.test");
  o.unbound_config += doh_config(pki, doh);
  o.upstream_servers.push_back("https://127.0.0.1:" + std::to_string(doh) + "/dns-query");
  Env env(o);
  INFO(env.logs());
  QueryOpts q;
  q.edns = true;
  // Each question tries one server and fails over to the other; both are
  // refused, and nothing goes out as plain DNS.
  for (int i = 0; i < 3; ++i) {
    Message m = udp_query(env.ep(), "x" + std::to_string(i) + ".wild.test.", rr::A, q);
    CHECK(m.rcode() == rcode::SERVFAIL);
    CHECK(ede_of(m).code == 23);
    CHECK_THAT(ede_of(m).text, Catch::Contains("certificate refused"));
  }
  CHECK(wait_until(
      [&] {
        const std::string log = env.hush.log();
        return log.find("tls://127.0.0.1:" + std::to_string(dot) + "#dot.test: TLS certificate refused: certificate has expired") !=
                   std::string::npos &&
               log.find("https://127.0.0.1:" + std::to_string(doh) + "/dns-query: TLS certificate refused") != std::string::npos;
      },
      5s, 50ms));
  CHECK_THAT(env.hush.log(), Catch::Contains("/dns-query: TLS certificate refused (SSL certificate problem: certificate has expired"));
  CHECK(count(env.hush.log(), "TLS ready") == 0);
}

namespace {
// dnsdist 1.7 serving DoT and DoH with the PKI's certificate, forwarding to
// `backend` over plain DNS.
class DnsDist {
 public:
  DnsDist(const TestPki& pki, const Endpoint& backend, uint16_t dot, uint16_t doh) : dot_(dot) {
    write_file(dir_.path() / "dnsdist.conf",
               "setLocal(\"127.0.0.1:" + std::to_string(pick_free_port()) + "\")\n"
               "setACL({\"127.0.0.0/8\"})\n"
               "setSecurityPollSuffix(\"\")\n"
               "newServer({address=\"" + backend.str() + "\", checkName=\"www.test.\"})\n"
               "addTLSLocal(\"127.0.0.1:" + std::to_string(dot) + "\", \"" + pki.cert().string() + "\", \"" +
               pki.key().string() + "\")\n"
               "addDOHLocal(\"127.0.0.1:" + std::to_string(doh) + "\", \"" + pki.cert().string() + "\", \"" +
               pki.key().string() + "\", \"/dns-query\")\n");
    start();
  }
  void start() {
    proc_ = Process({"dnsdist", "--supervised", "--disable-syslog", "-C", (dir_.path() / "dnsdist.conf").string()},
                    dir_.path() / "dnsdist.out", dir_.path() / "dnsdist.err");
    // Ready once it answers over TLS.
    const bool up = wait_until(
        [&] {
          CommandResult r = run_command({"kdig", "@127.0.0.1", "-p", std::to_string(dot_), "+tls", "+time=1",
                                         "+retry=0", "+short", "www.test.", "A"},
                                        3s);
          return r.out.find(zone::kWwwA) != std::string::npos;
        },
        10s, 100ms);
    INFO(read_file(dir_.path() / "dnsdist.out") << read_file(dir_.path() / "dnsdist.err"));
    REQUIRE(up);
  }
  void stop() { proc_.stop(); }

 private:
  TempDir dir_{"hush-it-dnsdist-"};
  uint16_t dot_;
  Process proc_;
};

// Asks `ep` fresh names until one is answered from the zone (the upstream may
// be backed off for a second or two after a failure).
bool answered(const Endpoint& ep, const std::string& prefix) {
  int tries = 0;
  return wait_until(
      [&] {
        auto r = udp_exchange(ep, make_query(prefix + std::to_string(++tries) + ".wild.test.", rr::A), 1000ms);
        return r && parse_message(*r).texts(rr::A) == std::vector<std::string>{zone::kWildA};
      },
      8s, 100ms);
}
}  // namespace

TEST_CASE("dnsdist as the DoT and the DoH upstream: answers, a wrong name refused, back after it restarts",
          "[integration][dot][doh]") {
  TestPki pki;
  const uint16_t dot = pick_free_port(), doh = pick_free_port();
  HushOptions o = dot_options(pki, dot, "dot.test");
  o.unbound_config = "";
  Env env(o);  // hush over DoT; its unbound is dnsdist's backend
  DnsDist dnsdist(pki, env.unbound.endpoint(), dot, doh);
  HushOptions h = doh_options(pki, doh, "127.0.0.1");
  h.unbound_config = "";
  TempDir other;
  Hush over_https(other.path() / "doh", h);
  HushOptions w = dot_options(pki, dot, "wrong.example");
  Hush wrong_name(other.path() / "wrong", w);
  INFO(env.logs() << over_https.log() << wrong_name.log());

  CHECK(answered(env.ep(), "dot"));
  CHECK(answered(over_https.v4(), "doh"));
  QueryOpts q;
  q.edns = true;
  Message m = udp_query(wrong_name.v4(), "www.test.", rr::A, q);
  CHECK(m.rcode() == rcode::SERVFAIL);
  CHECK(ede_of(m).code == 23);
  CHECK_THAT(wrong_name.log(), Catch::Contains("TLS certificate refused: hostname mismatch"));

  dnsdist.stop();
  dnsdist.start();
  CHECK(answered(env.ep(), "dot-again"));
  CHECK(answered(over_https.v4(), "doh-again"));
}

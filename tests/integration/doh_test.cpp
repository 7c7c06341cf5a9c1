// DNS over HTTPS for the devices (RFC 8484): kdig (HTTP/2, GET and POST) and
// curl (HTTP/1.1 with keep-alive, HTTP/2) get the answers UDP gets, through
// the same blocking and query log; the path's client ID names the device;
// bad requests get their HTTP error on a server that keeps serving; a
// renewed certificate is taken without a restart. A client that sends and
// never reads is bounded and closed while others are answered.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

constexpr const char* kServerName = "dns.example.test";

void make_certificate(const fs::path& dir, const std::string& cn) {
  hush_it::make_certificate(dir, cn, kServerName);
}

std::string base64url(const Bytes& b) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t byte : b) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

struct HttpReply {
  std::string head;  // status line and headers, lower-cased
  Bytes body;
  std::string written;  // curl's -w output
};

struct DohEnv {
  TempDir certs{"hush-doh-"};
  uint16_t port = 0;
  std::unique_ptr<Env> env;

  DohEnv() {
    make_certificate(certs.path(), "first.example.test");
    port = pick_free_port();
    HushOptions o;
    o.tcp_idle_timeout_ms = 700;
    o.extra_config = "[doh]\nlisten = [\"127.0.0.1:" + std::to_string(port) + "\"]\n[tls]\ncert = \"" +
                     (certs.path() / "cert.pem").string() + "\"\nkey = \"" + (certs.path() / "key.pem").string() +
                     "\"\nserver_name = \"" + kServerName + "\"\n[blocking]\ndeny = [\"ads.test\"]\n";
    env = std::make_unique<Env>(o);
  }
  std::string url(const std::string& path) const {
    return std::string("https://") + kServerName + ":" + std::to_string(port) + path;
  }
  CommandResult kdig_https(const std::vector<std::string>& args, const std::string& path = "/dns-query") {
    std::vector<std::string> a{"+tls-ca=" + (certs.path() / "cert.pem").string(),
                               std::string("+tls-hostname=") + kServerName, "+https=" + path};
    a.insert(a.end(), args.begin(), args.end());
    return kdig({"127.0.0.1", port}, a);
  }
  // curl against hush's DoH port; `args` choose the version, method and URLs.
  HttpReply curl(const std::vector<std::string>& args) {
    const fs::path head = certs.path() / "head.txt", body = certs.path() / "body.bin";
    fs::remove(head);
    fs::remove(body);
    std::vector<std::string> a{"curl", "-s", "--max-time", "5", "--cacert", (certs.path() / "cert.pem").string(),
                               "--resolve", std::string(kServerName) + ":" + std::to_string(port) + ":127.0.0.1",
                               "-D", head.string(), "-o", body.string()};
    a.insert(a.end(), args.begin(), args.end());
    auto r = run_command(a, 10s);
    HttpReply reply;
    reply.head = lower(read_file(head));
    std::string b = read_file(body);
    reply.body.assign(b.begin(), b.end());
    reply.written = r.out;
    return reply;
  }
  HttpReply post(const Bytes& query, const std::string& version, const std::string& type = "application/dns-message") {
    write_file(certs.path() / "query.bin", std::string(query.begin(), query.end()));
    return curl({version, "-H", "content-type: " + type, "--data-binary", "@" + (certs.path() / "query.bin").string(),
                 url("/dns-query")});
  }
  std::string presented_subject() {
    auto r = run_command({"sh", "-c",
                          "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -servername " +
                              kServerName + " -alpn h2 </dev/null 2>/dev/null | openssl x509 -noout -subject"},
                         10s);
    return r.out;
  }
  bool logged(const std::vector<std::string>& filter, const std::string& needle) {
    std::vector<std::string> a{hush_binary(), "log", "search", "--data-dir", env->hush.data_dir().string()};
    a.insert(a.end(), filter.begin(), filter.end());
    return run_command(a, 5s).out.find(needle) != std::string::npos;
  }
};

// An HTTP/2 client over TLS that writes requests and never reads a byte:
// the hostile end of the slow-read test. Frames are made by hand (HPACK
// literals, no Huffman), which is all a sender that never decodes needs.
class SilentH2 {
 public:
  explicit SilentH2(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    // A write that makes no progress for a second gives up (hush stopped reading).
    timeval t{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof t);
    ctx_ = SSL_CTX_new(TLS_client_method());
    static const unsigned char kAlpn[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(ctx_, kAlpn, sizeof kAlpn);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, kServerName);
    static const char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
    ok_ = SSL_connect(ssl_) == 1 && SSL_write(ssl_, kPreface, sizeof kPreface - 1) == int(sizeof kPreface - 1);
  }
  ~SilentH2() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  // `n` GETs of `path` on new streams in one write; false once hush takes no more.
  bool send_gets(const std::string& path, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      std::string block = "\x82\x87";  // :method GET, :scheme https (static table)
      block += '\x04';                  // :path, literal value
      block += char(path.size());
      block += path;
      block += '\x01';  // :authority, literal value
      block += char(std::strlen(kServerName));
      block += kServerName;
      const uint32_t id = next_stream_;
      next_stream_ += 2;
      const char head[9] = {char(block.size() >> 16), char(block.size() >> 8), char(block.size()), 1,
                            5,  // END_STREAM | END_HEADERS
                            char(id >> 24), char(id >> 16), char(id >> 8), char(id)};
      out.append(head, 9);
      out += block;
    }
    if (SSL_write(ssl_, out.data(), int(out.size())) != int(out.size())) return false;
    sent_ += size_t(n);
    return true;
  }
  size_t sent() const { return sent_; }
  // True once hush has closed its end (EOF or reset), within `timeout`;
  // looks without reading what hush wrote.
  bool closed_by_peer(ms timeout) {
    return wait_until([&] {
      pollfd p{fd_, POLLRDHUP, 0};
      return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP | POLLRDHUP));
    }, timeout, 20ms);
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  uint32_t next_stream_ = 1;
  size_t sent_ = 0;
};

}  // namespace

TEST_CASE("DNS over HTTPS: kdig and curl over HTTP/2 and HTTP/1.1, blocking, client IDs, errors, a live renewal",
          "[integration][doh]") {
  DohEnv d;
  auto& hush = d.env->hush;

  // kdig: HTTP/2 POST (its default) and GET, verified against the certificate.
  auto post = d.kdig_https({"www.test", "A"});
  INFO("stdout: " << post.out << "\nstderr: " << post.err << "\n" << d.env->logs());
  REQUIRE(post.exit_code() == 0);
  CHECK(post.out.find("HTTP session (HTTP/2-") != std::string::npos);
  CHECK(post.out.find("status: NOERROR") != std::string::npos);
  CHECK(post.out.find(zone::kWwwA) != std::string::npos);
  auto get = d.kdig_https({"+https-get", "www.test", "AAAA"});
  CHECK(get.out.find(zone::kWwwAAAA) != std::string::npos);

  // dnsperf -m doh: four connections, every question answered. (One
  // question in flight per connection: dnsperf 2.10 loses answers to
  // several, against any server; DNS-OARC/dnsperf issues 240 and 272.)
  write_file(d.certs.path() / "perf.txt", "www.test A\nads.test A\nwww.test AAAA\n");
  auto perf = run_command({"dnsperf", "-m", "doh", "-s", "127.0.0.1", "-p", std::to_string(d.port), "-d",
                           (d.certs.path() / "perf.txt").string(), "-n", "100", "-c", "4", "-q", "1", "-t", "5"},
                          60s);
  INFO(perf.out << perf.err);
  CHECK(perf.out.find("Queries completed:    300 (100.00%)") != std::string::npos);

  // Blocking holds as over UDP.
  auto ads = d.kdig_https({"ads.test", "A"});
  CHECK(ads.out.find("0.0.0.0") != std::string::npos);

  // The path's client ID names the device in the query log; transport doh.
  auto named = d.kdig_https({"ids.test", "A"}, "/dns-query/phone-anna");
  CHECK(named.out.find("HTTP session (HTTP/2-") != std::string::npos);
  CHECK(wait_until([&] { return d.logged({"--client", "phone-anna"}, "ids.test"); }, 10s, 200ms));
  CHECK(wait_until([&] { return d.logged({"--domain", "www.test"}, " doh "); }, 10s, 200ms));
  CHECK_FALSE(d.logged({"--client", "phone-anna", "--domain", "www.test"}, "www.test"));

  // curl, HTTP/1.1 POST: the answer, its type and a freshness from its TTLs.
  auto h1 = d.post(make_query("www.test.", rr::A, {.id = 0}), "--http1.1");
  INFO(h1.head);
  CHECK(h1.head.rfind("http/1.1 200", 0) == 0);
  CHECK(h1.head.find("content-type: application/dns-message") != std::string::npos);
  CHECK(h1.head.find("cache-control: max-age=") != std::string::npos);
  CHECK(parse_message(h1.body).texts(rr::A) == std::vector<std::string>{zone::kWwwA});

  // HTTP/1.1 keep-alive: the second request rides the first connection.
  const std::string q = "/dns-query?dns=" + base64url(make_query("www.test.", rr::A, {.id = 0}));
  auto both = d.curl({"--http1.1", "-w", "%{num_connects} ", d.url(q), "-o", "/dev/null", d.url(q)});
  CHECK(both.written == "1 0 ");

  // curl, HTTP/2 GET.
  auto h2 = d.curl({"--http2", "-w", "%{http_version}", d.url(q)});
  CHECK(h2.written == "2");
  CHECK(h2.head.rfind("http/2 200", 0) == 0);
  CHECK(parse_message(h2.body).texts(rr::A) == std::vector<std::string>{zone::kWwwA});

  // Bad requests get their HTTP error, over both versions.
  for (const char* version : {"--http1.1", "--http2"}) {
    INFO(version);
    CHECK(d.curl({version, d.url("/dns-query?dns=not*base64")}).head.find(" 400") != std::string::npos);
    CHECK(d.curl({version, d.url("/dns-query")}).head.find(" 400") != std::string::npos);
    CHECK(d.curl({version, d.url("/other?dns=" + base64url(make_query("www.test.", rr::A)))}).head.find(" 404") !=
          std::string::npos);
    CHECK(d.curl({version, "-X", "PUT", d.url(q)}).head.find(" 405") != std::string::npos);
    CHECK(d.post(make_query("www.test.", rr::A), version, "text/plain").head.find(" 415") != std::string::npos);
    CHECK(d.post(Bytes(70000, 0), version).head.find(" 413") != std::string::npos);
    CHECK(d.post(Bytes(5, 1), version).head.find(" 400") != std::string::npos);
  }
  // ... and the server goes on answering.
  CHECK(d.kdig_https({"www.test", "A"}).out.find(zone::kWwwA) != std::string::npos);

  // A renewal is served without a restart.
  CHECK(d.presented_subject().find("first.example.test") != std::string::npos);
  make_certificate(d.certs.path(), "second.example.test");
  CHECK(wait_until([&] { return d.presented_subject().find("second.example.test") != std::string::npos; }, 15s,
                   300ms));
  CHECK(d.kdig_https({"www.test", "A"}).out.find(zone::kWwwA) != std::string::npos);
  CHECK(hush.running());
}

TEST_CASE("DNS over HTTPS: a client that never finishes a handshake loses its slot", "[integration][doh]") {
  DohEnv d;
  // Connects and says nothing: closed at the idle timeout (700 ms here).
  TcpClient silent({"127.0.0.1", d.port});
  REQUIRE(silent.connected());
  auto t0 = Clock::now();
  CHECK(silent.wait_closed(5000ms));
  CHECK(elapsed_since(t0) < 4000ms);
  CHECK(d.kdig_https({"www.test", "A"}).out.find(zone::kWwwA) != std::string::npos);
  CHECK(d.env->hush.running());
}

TEST_CASE("DNS over HTTPS: a client that sends requests and never reads is bounded, then closed; others are answered",
          "[integration][doh][abuse]") {
  DohEnv d;
  const pid_t pid = d.env->hush.pid();
  REQUIRE(d.kdig_https({"www.test", "A"}).out.find(zone::kWwwA) != std::string::npos);  // cached from now on
  const long rss_before = rss_kib(pid);
  long rss_peak = rss_before;
  const std::string path = "/dns-query?dns=" + base64url(make_query("www.test.", rr::A, {.id = 0}));
  {
    SilentH2 hostile(d.port);
    REQUIRE(hostile.ok());
    // Up to 2,000,000 requests for the cached name (120 MB), for at most
    // 10 s, until hush takes no more: a bounded hush stops reading once
    // 256 KiB of its output waits (the answers' HEADERS, the DATA the
    // client's window lets out, the resets of streams over 64); an unbounded
    // one would queue tens of bytes for every request.
    const auto deadline = Clock::now() + 10s;
    while (hostile.sent() < 2000000 && Clock::now() < deadline && hostile.send_gets(path, 200))
      rss_peak = std::max(rss_peak, rss_kib(pid));
    INFO("requests sent: " << hostile.sent());
    // Others are answered meanwhile, over DoH and UDP.
    CHECK(d.kdig_https({"www.test", "A"}).out.find(zone::kWwwA) != std::string::npos);
    CHECK(udp_query(d.env->ep(), "www.test.", rr::A).texts(rr::A) == std::vector<std::string>{zone::kWwwA});
    // With nothing read from it, it sends no query more: closed at the idle timeout (700 ms).
    CHECK(hostile.closed_by_peer(5000ms));
    rss_peak = std::max(rss_peak, rss_kib(pid));
  }
  CHECK(wait_until([&] { return open_tcp_connections(d.port) == 0; }, 5000ms));
  const long rss_after = rss_kib(pid);
  INFO("RSS before " << rss_before << " KiB, peak " << rss_peak << " KiB, after " << rss_after << " KiB");
  // As for plain TCP: the output cap is 256 KiB per connection, 64 streams
  // hold at most one answer each; 32 MiB leaves room for the allocator, the
  // query log and the rest (more under AddressSanitizer's quarantine).
#if defined(__SANITIZE_ADDRESS__)
  constexpr long kGrowthKiB = 128 * 1024;
#else
  constexpr long kGrowthKiB = 32 * 1024;
#endif
  CHECK(rss_peak - rss_before < kGrowthKiB);
  CHECK(rss_after - rss_before < kGrowthKiB);
  CHECK(d.kdig_https({"www.test", "A"}).out.find(zone::kWwwA) != std::string::npos);
  CHECK(d.env->hush.running());
}

TEST_CASE("The dashboard over HTTPS: the same certificate, HSTS and a Secure session cookie",
          "[integration][doh][web]") {
  TempDir certs("hush-https-");
  make_certificate(certs.path(), "dashboard.example.test");
  const uint16_t port = pick_free_port();
  HushOptions o;
  o.extra_config = "[http]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\ntls = true\n[tls]\ncert = \"" +
                   (certs.path() / "cert.pem").string() + "\"\nkey = \"" + (certs.path() / "key.pem").string() +
                   "\"\n";
  Env env(o);
  const std::string host = "127.0.0.1:" + std::to_string(port);
  auto curl = [&](const std::vector<std::string>& args) {
    std::vector<std::string> a{"curl", "-s", "--max-time", "5", "--cacert", (certs.path() / "cert.pem").string(),
                               "--resolve", std::string(kServerName) + ":" + std::to_string(port) + ":127.0.0.1",
                               "-H", "Host: " + host, "-D", "-", "-o", "/dev/null"};
    a.insert(a.end(), args.begin(), args.end());
    return lower(run_command(a, 10s).out);
  };
  const std::string base = std::string("https://") + kServerName + ":" + std::to_string(port);
  std::string page;
  REQUIRE(wait_until([&] { return (page = curl({base + "/"})).rfind("http/1.1 200", 0) == 0; }, 10s, 100ms));
  CHECK(page.find("strict-transport-security: max-age=31536000") != std::string::npos);

  // The password printed at the first start logs in; its cookie is Secure.
  const std::string log = env.hush.log();
  const std::string marker = "dashboard password (shown once; change it with `hush passwd`): ";
  const size_t at = log.find(marker);
  REQUIRE(at != std::string::npos);
  const std::string password = log.substr(at + marker.size(), log.find('\n', at) - at - marker.size());
  auto login = curl({"-H", "content-type: application/json", "--data", "{\"password\":\"" + password + "\"}",
                     base + "/api/login"});
  INFO(login);
  CHECK(login.rfind("http/1.1 200", 0) == 0);
  CHECK(login.find("set-cookie: ") != std::string::npos);
  CHECK(login.find("; secure") != std::string::npos);

  // Plain HTTP on the port gets no dashboard.
  auto plain = run_command({"curl", "-s", "--max-time", "3", "-o", "/dev/null", "-w", "%{http_code}",
                            "http://" + host + "/"},
                           10s);
  CHECK(plain.out != "200");
  CHECK(env.hush.running());

  // The command line reads the running server's /metrics over that HTTPS
  // listener too: found by trying, or asked for by the scheme.
  for (const std::string& at : {host, "https://" + host}) {
    auto memory = run_command({hush_binary(), "stats", "--memory", "--http", at}, 20s);
    INFO(at << ": " << memory.out << memory.err);
    CHECK(memory.exit_code() == 0);
    CHECK(memory.out.find("resident  ") != std::string::npos);
  }
}

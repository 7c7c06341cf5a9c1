// Alerts end to end: `hush serve` with four sinks, a webhook and an ntfy
// topic on a small HTTP receiver the test runs on loopback, a minimal SMTP
// responder for e-mail, and a webhook on a closed port. A device's first
// question to a company must reach each live sink exactly once (a repeat,
// and another name of the same company, never), the dead sink must not slow
// answers and must show its failure in /api/alerts and /metrics, and
// `hush alerts test` must say per sink what happened. E-mail to a server
// that offers STARTTLS goes over TLS, verified against the sink's ca_file.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <catch2/catch.hpp>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include <openssl/ssl.h>

#include "harness.hpp"

using namespace hush_it;
using json = nlohmann::json;

namespace {

constexpr const char* kTv = "127.0.0.3";

// One request or mail as the receiver got it.
struct Received {
  std::string path, headers, body;
  Clock::time_point at;
};

// A TCP server on 127.0.0.1 with one thread; `serve` talks to one client.
class Receiver {
 public:
  using Serve = std::function<void(int fd, Received& got)>;
  explicit Receiver(Serve serve) : serve_(std::move(serve)), port_(pick_free_port()) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    thread_ = std::thread([this] { run(); });
  }
  ~Receiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  std::vector<Received> got() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }
  size_t count(const std::string& path_part) {
    size_t n = 0;
    for (const Received& r : got()) n += r.path.find(path_part) != std::string::npos;
    return n;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      Received r;
      serve_(c, r);
      r.at = Clock::now();
      ::close(c);
      std::lock_guard<std::mutex> lock(mu_);
      got_.push_back(std::move(r));
    }
  }
  Serve serve_;
  uint16_t port_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Received> got_;
  std::thread thread_;
};

// Reads until `done(buffer)` or the peer stops sending.
std::string read_until(int fd, std::string& buf, const std::function<bool(const std::string&)>& done) {
  char chunk[4096];
  while (!done(buf)) {
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buf.append(chunk, size_t(n));
  }
  return buf;
}

void send_all(int fd, const std::string& s) { (void)!::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

void serve_http(int fd, Received& r) {
  std::string buf;
  read_until(fd, buf, [](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return;
  r.headers = buf.substr(0, end);
  r.path = r.headers.substr(0, r.headers.find("\r\n"));
  std::smatch m;
  size_t length = 0;
  if (std::regex_search(r.headers, m, std::regex("Content-Length: *([0-9]+)", std::regex::icase)))
    length = std::stoul(m[1]);
  std::string body = buf.substr(end + 4);
  read_until(fd, body, [length](const std::string& b) { return b.size() >= length; });
  r.body = body;
  send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

// One SMTP client's connection: plain, or over TLS once it asked for STARTTLS.
struct SmtpConn {
  int fd;
  SSL* ssl = nullptr;
  ~SmtpConn() {
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
  }
  void send(const std::string& s) {
    if (ssl) (void)SSL_write(ssl, s.data(), int(s.size()));
    else send_all(fd, s);
  }
  void read_until(std::string& buf, const std::function<bool(const std::string&)>& done) {
    char chunk[4096];
    while (!done(buf)) {
      int n = ssl ? SSL_read(ssl, chunk, sizeof chunk) : int(::recv(fd, chunk, sizeof chunk, 0));
      if (n <= 0) break;
      buf.append(chunk, size_t(n));
    }
  }
};

// Just enough SMTP for libcurl: greeting, EHLO, MAIL, RCPT, DATA, QUIT, and
// with `tls` STARTTLS (offered, then required). An upgraded session has
// "STARTTLS" in `r.headers`.
void smtp_session(int fd, Received& r, SSL_CTX* tls) {
  SmtpConn conn{fd};
  conn.send("220 test ESMTP\r\n");
  std::string buf;
  for (int i = 0; i < 20; ++i) {
    conn.read_until(buf, [](const std::string& b) { return b.find("\r\n") != std::string::npos; });
    size_t eol = buf.find("\r\n");
    if (eol == std::string::npos) return;
    std::string line = buf.substr(0, eol);
    buf.erase(0, eol + 2);
    std::string verb = line.substr(0, 8);
    for (char& c : verb) c = char(toupper(c));
    if (verb.rfind("STARTTLS", 0) == 0 && tls && !conn.ssl) {
      conn.send("220 go ahead\r\n");
      conn.ssl = SSL_new(tls);
      SSL_set_fd(conn.ssl, fd);
      if (SSL_accept(conn.ssl) != 1) return;  // the client refused the certificate
      r.headers += "STARTTLS\n";
      buf.clear();
      continue;
    }
    verb.resize(std::min<size_t>(verb.size(), 4));
    if (verb == "EHLO" || verb == "HELO") {
      conn.send(tls && !conn.ssl ? "250-test\r\n250 STARTTLS\r\n" : "250 test\r\n");
    } else if (tls && !conn.ssl && verb != "QUIT") {
      conn.send("530 STARTTLS first\r\n");
    } else if (verb == "MAIL" || verb == "RCPT") {
      r.path += line + "\n";
      conn.send("250 ok\r\n");
    } else if (verb == "DATA") {
      conn.send("354 go on\r\n");
      conn.read_until(buf, [](const std::string& b) { return b.find("\r\n.\r\n") != std::string::npos; });
      size_t dot = buf.find("\r\n.\r\n");
      r.body = buf.substr(0, dot);
      buf.erase(0, dot == std::string::npos ? buf.size() : dot + 5);
      conn.send("250 queued\r\n");
    } else if (verb == "QUIT") {
      conn.send("221 bye\r\n");
      return;
    } else {
      conn.send("250 ok\r\n");
    }
  }
}

void serve_smtp(int fd, Received& r) { smtp_session(fd, r, nullptr); }

std::string dig_from(const Env& env, const std::string& name, int* query_ms = nullptr) {
  CommandResult r = run_command({"dig", "@127.0.0.1", "-p", std::to_string(env.ep().port), "-b", kTv, "+tries=1",
                                 "+time=2", name, "A"},
                                10s);
  std::smatch m;
  if (query_ms && std::regex_search(r.out, m, std::regex("Query time: ([0-9]+) msec"))) *query_ms = std::stoi(m[1]);
  return r.out;
}

std::string http_get(uint16_t port, const std::string& path, const std::string& token) {
  return run_command({"curl", "-s", "-H", "Authorization: Bearer " + token,
                      "http://127.0.0.1:" + std::to_string(port) + path},
                     5s)
      .out;
}

}  // namespace

TEST_CASE("alerts: a first contact reaches webhook, ntfy and e-mail once; a dead sink slows nothing") {
  Receiver http(serve_http);
  Receiver smtp(serve_smtp);
  const uint16_t closed = pick_free_port();  // nothing listens there
  const uint16_t http_port = pick_free_port();
  const std::string base = "http://127.0.0.1:" + std::to_string(http.port());
  HushOptions o;
  o.unbound_config =
      "  local-zone: \"miui.com.\" redirect\n  local-data: \"miui.com. 300 IN A 192.0.2.10\"\n"
      "  local-zone: \"samsung.com.\" redirect\n  local-data: \"samsung.com. 300 IN A 192.0.2.11\"\n"
      "  local-zone: \"dns.google.\" redirect\n  local-data: \"dns.google. 300 IN A 192.0.2.12\"\n";
  o.extra_config = "[http]\nlisten = \"127.0.0.1:" + std::to_string(http_port) +
                   "\"\n"
                   "[[alerts.sink]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"" + base +
                   "/hook\"\nheader = \"X-Hush-Secret: s3cret\"\nevents = [\"first_contact\"]\n"
                   "[[alerts.sink]]\nname = \"topic\"\nkind = \"ntfy\"\nurl = \"" + base +
                   "/topic\"\nevents = [\"first_contact\"]\n"
                   "[[alerts.sink]]\nname = \"mail\"\nkind = \"email\"\nurl = \"smtp://127.0.0.1:" +
                   std::to_string(smtp.port()) +
                   "\"\nplain = true\nfrom = \"hush@example.net\"\nto = [\"me@example.net\"]\n"
                   "events = [\"first_contact\"]\n"
                   "[[alerts.sink]]\nname = \"down\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:" +
                   std::to_string(closed) + "/\"\nevents = [\"first_contact\"]\n"
                   "[[alerts.sink]]\nname = \"others\"\nkind = \"webhook\"\nurl = \"" + base +
                   "/others\"\nevents = [\"new_device\", \"encrypted_dns\"]\n";
  Env env(o);
  INFO(env.logs());
  CommandResult token = run_command(
      {hush_binary(), "token", "create", "alerts-test", "--data-dir", env.hush.data_dir().string()}, 10s);
  REQUIRE(token.exit_code() == 0);
  std::smatch tm;
  std::string token_out = token.out;
  REQUIRE(std::regex_search(token_out, tm, std::regex("hush_[A-Za-z0-9_]+")));
  const std::string bearer = tm[0];

  auto sent_at = Clock::now();
  REQUIRE(dig_from(env, "events.miui.com").find("192.0.2.10") != std::string::npos);
  REQUIRE(wait_until([&] { return http.count("/hook") >= 1 && smtp.got().size() >= 1 && http.count("/topic") >= 1; },
                     20s));
  const auto hook = http.got();
  Received first;
  for (const Received& r : hook)
    if (r.path.find("/hook") != std::string::npos) first = r;
  const auto latency = std::chrono::duration_cast<ms>(first.at - sent_at).count();
  std::cout << "alerts: query to webhook " << latency << " ms\n";
  json body = json::parse(first.body);
  CHECK(body["event"] == "first_contact");
  CHECK(body["fields"]["company"].get<std::string>().find("Xiaomi") != std::string::npos);
  CHECK(body["fields"]["name"] == "events.miui.com");
  CHECK(first.headers.find("X-Hush-Secret: s3cret") != std::string::npos);
  CHECK(first.headers.find("Content-Type: application/json") != std::string::npos);

  for (const Received& r : http.got())
    if (r.path.find("/topic") != std::string::npos) {
      CHECK(r.headers.find("Title: ") != std::string::npos);
      CHECK(r.headers.find("Xiaomi") != std::string::npos);
      CHECK(r.body.find("First name asked: events.miui.com") != std::string::npos);
    }
  Received mail = smtp.got().at(0);
  CHECK(mail.path.find("<hush@example.net>") != std::string::npos);
  CHECK(mail.path.find("<me@example.net>") != std::string::npos);
  CHECK(mail.body.find("Subject: ") != std::string::npos);
  CHECK(mail.body.find("Xiaomi") != std::string::npos);

  // A repeat, and another name of the same company: nothing new. Then a new
  // company: once its webhook is in, everything before it was looked at.
  int worst_ms = 0;
  for (const char* name : {"events.miui.com", "tracking.intl.miui.com", "events.miui.com"}) {
    int t = -1;
    dig_from(env, name, &t);
    REQUIRE(t >= 0);
    worst_ms = std::max(worst_ms, t);
  }
  REQUIRE(dig_from(env, "api.runestone.samsung.com").find("192.0.2.11") != std::string::npos);
  REQUIRE(wait_until([&] { return http.count("/hook") >= 2; }, 20s));
  CHECK(http.count("/hook") == 2);
  std::string second;
  for (const Received& r : http.got())
    if (r.path.find("/hook") != std::string::npos) second = r.body;
  CHECK(second.find("Samsung") != std::string::npos);
  CHECK(wait_until([&] { return smtp.got().size() == 2 && http.count("/topic") == 2; }, 10s));

  // The dead sink has failed by now; answers stayed fast throughout.
  for (int i = 0; i < 5; ++i) {
    int t = -1;
    dig_from(env, "www.test", &t);
    REQUIRE(t >= 0);
    worst_ms = std::max(worst_ms, t);
  }
  CHECK(worst_ms < 100);
  json status = json::parse(http_get(http_port, "/api/alerts", bearer));
  REQUIRE(status["sinks"].size() == 5);
  CHECK(status["sinks"][0]["name"] == "hook");
  CHECK(status["sinks"][0]["state"] == "ok");
  CHECK(status["sinks"][0]["sent"] == 2);
  CHECK(status["sinks"][2]["state"] == "ok");
  CHECK(status["sinks"][3]["name"] == "down");
  CHECK(status["sinks"][3]["state"] == "retrying");
  CHECK(!status["sinks"][3]["last_error"].get<std::string>().empty());
  CHECK(status["sinks"][3]["sent"] == 0);
  std::string metrics = run_command({"curl", "-s", "http://127.0.0.1:" + std::to_string(http_port) + "/metrics"}, 5s).out;
  CHECK(metrics.find("hush_alerts_sent_total ") != std::string::npos);
  CHECK(metrics.find("hush_alerts_dropped_total 0") != std::string::npos);

  // The tv was new, and asking for Google's resolver is a sign of going around hush.
  REQUIRE(dig_from(env, "dns.google").find("192.0.2.12") != std::string::npos);
  auto others = [&](const std::string& event, const std::string& what) {
    for (const Received& r : http.got())
      if (r.path.find("/others") != std::string::npos && r.body.find("\"event\":\"" + event + "\"") != std::string::npos &&
          r.body.find(what) != std::string::npos)
        return true;
    return false;
  };
  CHECK(wait_until([&] { return others("new_device", kTv) && others("encrypted_dns", "Google Public DNS"); }, 20s));

  // hush alerts test: each sink's outcome, on its own line.
  const size_t before = http.count("/hook");
  CommandResult t = run_command({hush_binary(), "alerts", "test", "-c", env.hush.config_path().string()}, 20s);
  CHECK(t.exit_code() == 1);
  CHECK(t.out.find("hook (webhook): delivered") != std::string::npos);
  CHECK(t.out.find("topic (ntfy): delivered") != std::string::npos);
  CHECK(t.out.find("mail (email): delivered") != std::string::npos);
  CHECK(t.out.find("down (webhook): FAILED: ") != std::string::npos);
  CHECK(http.count("/hook") == before + 1);
  CHECK(http.got().back().body.find("test alert") != std::string::npos);
}

TEST_CASE("alerts: a sink's new URL is in force after SIGHUP, without a restart") {
  Receiver before(serve_http);
  Receiver after(serve_http);
  const auto url = [](const Receiver& r) { return "http://127.0.0.1:" + std::to_string(r.port()) + "/hook"; };
  const auto sink = [](const std::string& u) {
    return "[[alerts.sink]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"" + u + "\"\nevents = [\"first_contact\"]\n";
  };
  HushOptions o;
  o.unbound_config =
      "  local-zone: \"miui.com.\" redirect\n  local-data: \"miui.com. 300 IN A 192.0.2.10\"\n"
      "  local-zone: \"samsung.com.\" redirect\n  local-data: \"samsung.com. 300 IN A 192.0.2.11\"\n";
  o.extra_config = sink(url(before));
  Env env(o);
  INFO(env.logs());
  const pid_t pid = env.hush.pid();

  REQUIRE(dig_from(env, "events.miui.com").find("192.0.2.10") != std::string::npos);
  REQUIRE(wait_until([&] { return before.count("/hook") == 1; }, 20s));

  const std::string config = read_file(env.hush.config_path());
  const size_t at = config.find(url(before));
  REQUIRE(at != std::string::npos);
  write_file(env.hush.config_path(), config.substr(0, at) + url(after) + config.substr(at + url(before).size()));
  REQUIRE(kill(pid, SIGHUP) == 0);
  REQUIRE(wait_until([&] { return env.hush.log().find("alerts: 1 sink(s) now") != std::string::npos; }, 10s));

  REQUIRE(dig_from(env, "api.runestone.samsung.com").find("192.0.2.11") != std::string::npos);
  REQUIRE(wait_until([&] { return after.count("/hook") == 1; }, 20s));
  CHECK(after.got().at(0).body.find("Samsung") != std::string::npos);
  CHECK(before.count("/hook") == 1);
  CHECK(env.hush.pid() == pid);
  CHECK(env.hush.log().find("alerts.sink changed; that needs a restart") == std::string::npos);
}

TEST_CASE("alerts: hush check names a bad sink") {
  TempDir dir;
  write_file(dir.path() / "bad.toml",
             "[upstream]\nservers = [\"127.0.0.1:53\"]\n[[alerts.sink]]\nkind = \"email\"\nurl = \"smtp://mail.example.net\"\n"
             "plain = true\nto = [\"me@example.net\"]\n");
  CommandResult r = run_command({hush_binary(), "check", "-c", (dir.path() / "bad.toml").string()}, 10s);
  CHECK(r.exit_code() == 2);
  CHECK(r.err.find("alerts.sink[0] (email 1): from: the sender address is missing") != std::string::npos);
  CHECK(r.err.find("plain = true sends without TLS") != std::string::npos);
}

TEST_CASE("alerts: e-mail goes over STARTTLS, verified against the sink's CA file") {
  TempDir dir;
  make_certificate(dir.path(), "localhost", "localhost");
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  REQUIRE(SSL_CTX_use_certificate_chain_file(ctx.get(), (dir.path() / "cert.pem").c_str()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey_file(ctx.get(), (dir.path() / "key.pem").c_str(), SSL_FILETYPE_PEM) == 1);
  Receiver mail([tls = ctx.get()](int fd, Received& r) { smtp_session(fd, r, tls); });
  const std::string url = "smtp://localhost:" + std::to_string(mail.port());
  const auto sink = [&](const std::string& name, const std::string& extra) {
    return "[[alerts.sink]]\nname = \"" + name + "\"\nkind = \"email\"\nurl = \"" + url +
           "\"\nfrom = \"hush@example.net\"\nto = [\"me@example.net\"]\n" + extra;
  };
  write_file(dir.path() / "hush.toml", "[upstream]\nservers = [\"127.0.0.1:53\"]\n" +
                                           sink("mail", "ca_file = \"" + (dir.path() / "cert.pem").string() + "\"\n") +
                                           sink("unknown-ca", ""));
  CommandResult t = run_command({hush_binary(), "alerts", "test", "-c", (dir.path() / "hush.toml").string()}, 30s);
  INFO(t.out << t.err);
  CHECK(t.exit_code() == 1);
  CHECK(t.out.find("mail (email): delivered") != std::string::npos);
  CHECK(t.out.find("unknown-ca (email): FAILED: ") != std::string::npos);
  std::vector<Received> got = mail.got();
  size_t delivered = 0;
  for (const Received& r : got) {
    if (r.body.empty()) continue;
    ++delivered;
    CHECK(r.headers.find("STARTTLS") != std::string::npos);
    CHECK(r.body.find("test alert") != std::string::npos);
    CHECK(r.path.find("<me@example.net>") != std::string::npos);
  }
  CHECK(delivered == 1);
}

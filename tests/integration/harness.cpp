#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
// Listener API (LogDumper below) needs the external interfaces.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "dns_client.hpp"

namespace hush_it {

namespace {

std::mt19937& rng() {
  static std::mt19937 g{std::random_device{}()};
  return g;
}

std::string tail(const std::string& s, size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

// Live servers, so a failed assertion can show their logs.
std::mutex g_live_mu;
std::vector<const Unbound*> g_live_unbound;
std::vector<const Hush*> g_live_hush;

template <class T>
void unregister(std::vector<const T*>& v, const T* p) {
  std::lock_guard lk(g_live_mu);
  v.erase(std::remove(v.begin(), v.end(), p), v.end());
}

// On the first failed assertion of a test case, print the logs of the servers
// that are running at that moment (to stderr; the reporter owns stdout).
struct LogDumper : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  bool dumped = false;
  void testCaseStarting(Catch::TestCaseInfo const& info) override {
    dumped = false;
    TestEventListenerBase::testCaseStarting(info);
  }
  bool assertionEnded(Catch::AssertionStats const& stats) override {
    if (!stats.assertionResult.isOk() && !dumped) {
      dumped = true;
      std::lock_guard lk(g_live_mu);
      for (auto* h : g_live_hush)
        std::cerr << "---- hush (" << h->command_line() << ") stderr:\n" << tail(h->log(), 4000) << "\n";
      for (auto* u : g_live_unbound)
        std::cerr << "---- unbound " << u->endpoint().str() << " log:\n" << tail(u->log(), 1500) << "\n";
    }
    return true;
  }
};

}  // namespace
}  // namespace hush_it

using HushItLogDumper = hush_it::LogDumper;
CATCH_REGISTER_LISTENER(HushItLogDumper)

namespace hush_it {

// ---------------------------------------------------------------- files

TempDir::TempDir(std::string_view prefix) {
  std::string tmpl = (fs::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed: " + std::string(strerror(errno)));
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (std::getenv("HUSH_IT_KEEP")) {
    std::cerr << "HUSH_IT_KEEP: kept " << path_ << "\n";
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, std::string_view content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

// ---------------------------------------------------------------- addresses

std::string Endpoint::str() const {
  return (is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace {
bool can_bind(int family, int type, uint16_t port) {
  int fd = socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  } else {
    int on = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_loopback;
    ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  close(fd);
  return ok;
}
}  // namespace

uint16_t pick_free_port(bool ipv6) {
  static std::mutex mu;
  static std::set<uint16_t> handed_out;
  std::lock_guard lk(mu);
  std::uniform_int_distribution<int> dist(20000, 31999);
  for (int attempt = 0; attempt < 500; ++attempt) {
    auto port = static_cast<uint16_t>(dist(rng()));
    if (handed_out.count(port)) continue;
    if (!can_bind(AF_INET, SOCK_STREAM, port) || !can_bind(AF_INET, SOCK_DGRAM, port)) continue;
    if (ipv6 && (!can_bind(AF_INET6, SOCK_STREAM, port) || !can_bind(AF_INET6, SOCK_DGRAM, port))) continue;
    handed_out.insert(port);
    return port;
  }
  throw std::runtime_error("no free loopback port found in 500 attempts");
}

// ---------------------------------------------------------------- processes

std::string ExitStatus::describe() const {
  if (exited) return "exit code " + std::to_string(code);
  if (signal) return std::string("killed by signal ") + strsignal(signal);
  return "still running";
}

Process::Process(std::vector<std::string> argv, const fs::path& stdout_file, const fs::path& stderr_file)
    : argv_(std::move(argv)) {
  if (argv_.empty()) throw std::runtime_error("Process: empty argv");
  int out = open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err = open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || err < 0 || in < 0) throw std::runtime_error("Process: cannot open output files");
  std::vector<char*> cargv;
  for (auto& a : argv_) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed: " + std::string(strerror(errno)));
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvp(cargv[0], cargv.data());
    _exit(127);
  }
  close(out);
  close(err);
  close(in);
  pid_ = pid;
}

Process::Process(Process&& o) noexcept { *this = std::move(o); }

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0) stop();
    pid_ = std::exchange(o.pid_, -1);
    status_ = std::move(o.status_);
    argv_ = std::move(o.argv_);
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0) stop();
}

void Process::reap(int wstatus) {
  ExitStatus s;
  if (WIFEXITED(wstatus)) {
    s.exited = true;
    s.code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    s.signal = WTERMSIG(wstatus);
  }
  status_ = s;
}

bool Process::running() {
  if (pid_ <= 0 || status_) return false;
  int ws = 0;
  pid_t r = waitpid(pid_, &ws, WNOHANG);
  if (r == pid_) {
    reap(ws);
    return false;
  }
  return r == 0;
}

std::optional<ExitStatus> Process::wait_exit(ms timeout) {
  if (pid_ <= 0) return status_;
  wait_until([&] { return !running(); }, timeout, 10ms);
  return status_;
}

ExitStatus Process::stop(ms grace) {
  if (pid_ <= 0) return status_.value_or(ExitStatus{});
  if (running()) {
    kill(pid_, SIGTERM);
    if (!wait_exit(grace)) {
      kill(pid_, SIGKILL);
      int ws = 0;
      if (waitpid(pid_, &ws, 0) == pid_) reap(ws);
    }
  }
  return status_.value_or(ExitStatus{});
}

std::string Process::command_line() const {
  std::string s;
  for (auto& a : argv_) s += (s.empty() ? "" : " ") + a;
  return s;
}

CommandResult run_command(const std::vector<std::string>& argv, ms timeout) {
  static TempDir dir("hush-it-cmd-");
  static std::atomic<int> counter{0};
  int n = counter++;
  fs::path out = dir.path() / ("out" + std::to_string(n)), err = dir.path() / ("err" + std::to_string(n));
  CommandResult r;
  {
    Process p(argv, out, err);
    auto st = p.wait_exit(timeout);
    if (!st) {
      r.timed_out = true;
      r.status = p.stop(500ms);
    } else {
      r.status = *st;
    }
  }
  r.out = read_file(out);
  r.err = read_file(err);
  std::error_code ec;
  fs::remove(out, ec);
  fs::remove(err, ec);
  return r;
}

// ---------------------------------------------------------------- the zone

namespace zone {

std::string big_txt(int i) {
  char p[8];
  snprintf(p, sizeof p, "b%02d-", i);
  return p + std::string(190, 'x');
}

std::string huge_txt(int i) {
  char p[8];
  snprintf(p, sizeof p, "h%02d-", i);
  return p + std::string(200, 'y');
}

std::string zone_file() {
  std::ostringstream z;
  z << "$ORIGIN test.\n$TTL " << kTtl << "\n"
    << "@ " << kTtl << " IN SOA ns.test. hostmaster.test. 1 3600 600 86400 " << kSoaMinimum << "\n"
    << "@ IN NS ns.test.\n"
    << "ns IN A 127.0.0.1\n"
    << "www IN A " << kWwwA << "\n"
    << "www IN AAAA " << kWwwAAAA << "\n"
    << "a IN CNAME b\n"
    << "b IN CNAME c\n"
    << "c IN A " << kChainA << "\n"
    << "@ IN MX 10 mail.test.\n"
    << "mail IN A " << kMailA << "\n"
    << "*.wild IN A " << kWildA << "\n"
    << "cached IN A " << kCachedA << "\n"
    << "cdn IN CNAME t1.cname-target\n"
    << "t1.cname-target IN A " << kCnameTargetA << "\n"
    << "sub.ads IN A " << kSubAdsA << "\n"
    << "good.tracker IN A " << kGoodTrackerA << "\n"
    << "kids-only IN A " << kKidsA << "\n"
    << "newly IN A " << kNewlyA << "\n";
  for (int i = 0; i < kBigCount; ++i) z << "big IN TXT \"" << big_txt(i) << "\"\n";
  for (int i = 0; i < kHugeCount; ++i) z << "huge IN TXT \"" << huge_txt(i) << "\"\n";
  return z.str();
}

}  // namespace zone

// ---------------------------------------------------------------- unbound

Unbound::Unbound(const fs::path& dir, std::string extra) : dir_(dir), extra_(std::move(extra)) {
  fs::create_directories(dir_);
  write_file(dir_ / "test.zone", zone::zone_file());
  std::string why;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = pick_free_port();
    write_config();
    if (try_start(why)) {
      std::lock_guard lk(g_live_mu);
      g_live_unbound.push_back(this);
      return;
    }
  }
  throw std::runtime_error("unbound did not start: " + why);
}

Unbound::~Unbound() {
  unregister(g_live_unbound, this);
  proc_.stop();
}

void Unbound::write_config() {
  const std::string d = dir_.string(), p = std::to_string(port_);
  std::ostringstream c;
  c << "server:\n"
    << "  username: \"\"\n"
    << "  chroot: \"\"\n"
    << "  directory: \"" << d << "\"\n"
    << "  pidfile: \"\"\n"
    << "  use-syslog: no\n"
    << "  logfile: \"\"\n"
    << "  log-time-ascii: yes\n"
    << "  do-daemonize: no\n"
    << "  verbosity: 1\n"
    << "  num-threads: 1\n"
    << "  interface: 127.0.0.1@" << p << "\n"
    << "  port: " << p << "\n"
    << "  so-reuseport: no\n"  // fail instead of sharing a port someone else holds
    << "  do-ip4: yes\n"
    << "  do-ip6: no\n"
    << "  do-udp: yes\n"
    << "  do-tcp: yes\n"
    << "  incoming-num-tcp: 64\n"
    << "  access-control: 127.0.0.0/8 allow\n"
    << "  module-config: \"iterator\"\n"
    // Answers above 1232 bytes are truncated over UDP (forces TCP retries).
    << "  edns-buffer-size: 1232\n"
    << "  max-udp-size: 1232\n"
    << "  local-zone: \"test.\" nodefault\n"
    << extra_
    << "auth-zone:\n"
    << "  name: \"test.\"\n"
    << "  zonefile: \"" << (dir_ / "test.zone").string() << "\"\n"
    << "  for-downstream: yes\n"
    << "  for-upstream: no\n"
    << "  fallback-enabled: no\n"
    << "remote-control:\n"
    << "  control-enable: no\n";
  write_file(dir_ / "unbound.conf", c.str());
}

bool Unbound::try_start(std::string& why) {
  proc_ = Process({"unbound", "-d", "-c", (dir_ / "unbound.conf").string()}, dir_ / "unbound.log",
                  dir_ / "unbound.log");
  const auto deadline = Clock::now() + 8s;
  for (int i = 0; i < 200 && Clock::now() < deadline; ++i) {
    if (!proc_.running()) {
      why = "unbound exited (" + proc_.wait_exit(0ms).value_or(ExitStatus{}).describe() + "): " + log();
      return false;
    }
    auto q = make_query("www.test.", rr::A);
    if (auto r = udp_exchange(endpoint(), q, 100ms)) {
      try {
        auto m = parse_message(*r);
        if (m.rcode() == rcode::NOERROR && !m.texts(rr::A).empty()) return true;
      } catch (const std::exception&) {
      }
    }
    std::this_thread::sleep_for(50ms);
  }
  why = "unbound on " + endpoint().str() + " did not answer within 8 s: " + log();
  proc_.stop();
  return false;
}

void Unbound::stop() { proc_.stop(); }

void Unbound::start() {
  std::string why;
  if (!try_start(why)) throw std::runtime_error("unbound restart failed: " + why);
}

// ---------------------------------------------------------------- hush

std::string hush_binary() {
  // The environment may name another build, to compare it on the same tests.
  const char* other = std::getenv("HUSH_BINARY");
  std::string b = other && *other ? other : HUSH_BINARY;
  if (!fs::exists(b)) throw std::runtime_error("hush binary not found at " + b);
  return b;
}

Hush::Hush(const fs::path& dir, HushOptions opts) : dir_(dir), opts_(std::move(opts)) {
  if (opts_.upstream_timeout_ms || opts_.tcp_idle_timeout_ms || !opts_.extra_config.empty() ||
      !opts_.server_config.empty() || !opts_.upstream_config.empty())
    opts_.use_config_file = true;
  fs::create_directories(dir_ / "hush-data");
  std::string why;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port4_ = pick_free_port();
    port6_ = opts_.listen_ipv6 ? pick_free_port(true) : 0;
    if (try_start(why)) {
      std::lock_guard lk(g_live_mu);
      g_live_hush.push_back(this);
      return;
    }
    // Retry only if another process took the port between pick and bind.
    std::string l = lower(log());
    if (l.find("in use") == std::string::npos && l.find("eaddrinuse") == std::string::npos) break;
  }
  throw std::runtime_error("hush did not start: " + why);
}

Hush::~Hush() {
  unregister(g_live_hush, this);
  proc_.stop();
}

bool Hush::try_start(std::string& why) {
  std::vector<Endpoint> listens{v4()};
  if (opts_.listen_ipv6) listens.push_back(v6());
  std::vector<std::string> argv{hush_binary(), "serve"};
  if (opts_.use_config_file) {
    std::ostringstream t;
    auto list = [&](const auto& eps, const std::vector<std::string>& more = {}) {
      std::string s = "[";
      for (size_t i = 0; i < eps.size(); ++i) s += (i ? ", \"" : "\"") + eps[i].str() + "\"";
      for (size_t i = 0; i < more.size(); ++i) s += (i || !eps.empty() ? ", \"" : "\"") + more[i] + "\"";
      return s + "]";
    };
    t << "[server]\n"
      << "listen = " << list(listens) << "\n"
      << "threads = " << opts_.threads << "\n"
      << "data_dir = \"" << (dir_ / "hush-data").string() << "\"\n"
      << opts_.server_config << "\n"
      << "\n[upstream]\n"
      << "servers = " << list(opts_.upstreams, opts_.upstream_servers) << "\n"
      << opts_.upstream_config << "\n";
    if (opts_.upstream_timeout_ms) t << "timeout_ms = " << *opts_.upstream_timeout_ms << "\n";
    if (opts_.tcp_idle_timeout_ms) t << "\n[tcp]\nidle_timeout_ms = " << *opts_.tcp_idle_timeout_ms << "\n";
    if (!opts_.extra_config.empty()) t << "\n" << opts_.extra_config << "\n";
    write_file(config_path(), t.str());
    argv.insert(argv.end(), {"--config", config_path().string()});
  } else {
    for (auto& l : listens) argv.insert(argv.end(), {"--listen", l.str()});
    for (auto& u : opts_.upstreams) argv.insert(argv.end(), {"--upstream", u.str()});
    for (auto& u : opts_.upstream_servers) argv.insert(argv.end(), {"--upstream", u});
    argv.insert(argv.end(), {"--data-dir", (dir_ / "hush-data").string(), "--threads",
                             std::to_string(opts_.threads)});
  }
  // No test here talks to the dashboard: leave it off rather than take
  // 127.0.0.1:8080, which another hush (or anything else) may hold.
  bool http_given = std::find(opts_.extra_args.begin(), opts_.extra_args.end(), "--http") != opts_.extra_args.end() ||
                    opts_.extra_config.find("[http]") != std::string::npos;
  if (!http_given) argv.insert(argv.end(), {"--http", ""});
  argv.insert(argv.end(), opts_.extra_args.begin(), opts_.extra_args.end());
  // Truncate the previous attempt's log.
  write_file(dir_ / "hush.stderr", "");
  proc_ = Process(argv, dir_ / "hush.stdout", dir_ / "hush.stderr");

  const auto deadline = Clock::now() + 10s;
  auto died = [&] {
    if (proc_.running()) return false;
    why = "hush exited early (" + proc_.wait_exit(0ms).value_or(ExitStatus{}).describe() +
          "), command: " + proc_.command_line() + "\nstderr:\n" + log();
    return true;
  };
  // 1. TCP accepts on every listener.
  for (auto& l : listens) {
    bool ok = false;
    for (int i = 0; i < 500 && Clock::now() < deadline; ++i) {
      if (died()) return false;
      TcpClient c(l, 200ms);
      if (c.connected()) {
        ok = true;
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    if (!ok) {
      why = "hush did not accept TCP on " + l.str() + " within 10 s\nstderr:\n" + log();
      proc_.stop();
      return false;
    }
  }
  // 2. UDP answers (a forwarded query; any rcode counts as "answering").
  if (opts_.probe_with_query) {
    for (auto& l : listens) {
      bool ok = false;
      for (int i = 0; i < 100 && Clock::now() < deadline; ++i) {
        if (died()) return false;
        if (udp_exchange(l, make_query("www.test.", rr::A), 300ms)) {
          ok = true;
          break;
        }
      }
      if (!ok) {
        why = "hush did not answer UDP on " + l.str() + " within 10 s\nstderr:\n" + log();
        proc_.stop();
        return false;
      }
    }
  }
  return true;
}

// ---------------------------------------------------------------- env

Env::Env(HushOptions opts)
    : dir(), unbound(dir.path() / "unbound", opts.unbound_config), hush(dir.path() / "hush", [&] {
        if (opts.upstreams.empty() && opts.upstream_servers.empty()) opts.upstreams.push_back(unbound.endpoint());
        for (auto& u : opts.upstreams)
          if (u.host == kUnboundUpstream.host) u = unbound.endpoint();
        auto place = [&](std::string& text) {
          for (size_t at; (at = text.find(kUnboundUpstream.host)) != std::string::npos;)
            text.replace(at, kUnboundUpstream.host.size(), unbound.endpoint().str());
        };
        for (auto& u : opts.upstream_servers) place(u);
        place(opts.upstream_config);
        return opts;
      }()) {}

std::string Env::logs() const {
  return "---- hush stderr:\n" + tail(hush.log(), 3000) + "\n---- unbound log:\n" + tail(unbound.log(), 1000);
}

FakeEnv::FakeEnv(std::vector<Endpoint> upstreams, std::optional<int> upstream_timeout_ms)
    : dir(), hush(dir.path() / "hush", [&] {
        HushOptions o;
        o.upstreams = std::move(upstreams);
        o.upstream_timeout_ms = upstream_timeout_ms;
        o.probe_with_query = false;
        return o;
      }()) {}

Env& shared_env() {
  static Env env;
  return env;
}

size_t open_descriptors(pid_t pid) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

void make_certificate(const fs::path& dir, const std::string& cn, const std::string& server_name) {
  auto r = run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", (dir / "key.pem.new").string(), "-out", (dir / "cert.pem.new").string(), "-days",
                        "2", "-subj", "/CN=" + cn, "-addext",
                        "subjectAltName=DNS:" + server_name + ",DNS:*." + server_name},
                       20s);
  INFO(r.err);
  REQUIRE(r.exit_code() == 0);
  fs::rename(dir / "key.pem.new", dir / "key.pem");
  fs::rename(dir / "cert.pem.new", dir / "cert.pem");
}

std::string dig_from(const Hush& hush, const char* source, const std::string& name) {
  CommandResult r = run_command({"dig", "@127.0.0.1", "-p", std::to_string(hush.v4().port), "-b", source, "+short",
                                 "+tries=3", "+time=3", name, "A"},
                                30s);
  return r.out.substr(0, r.out.find('\n'));
}

CommandResult hush_cli(const Hush& hush, std::vector<std::string> args) {
  args.insert(args.begin(), hush_binary());
  args.insert(args.end(), {"--data-dir", hush.data_dir().string()});
  return run_command(args, 20s);
}

size_t open_tcp_connections(uint16_t port) {
  size_t n = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      const auto colon = local.rfind(':');
      if (colon == std::string::npos || std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
      constexpr const char* kListen = "0A";
      if (state != kListen && inode != "0") ++n;
    }
  }
  return n;
}

ms elapsed_since(Clock::time_point t0) { return std::chrono::duration_cast<ms>(Clock::now() - t0); }

long rss_kib(pid_t pid) {
  std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("VmRSS:");
  return at == std::string::npos ? 0 : std::stol(status.substr(at + 6));
}

}  // namespace hush_it

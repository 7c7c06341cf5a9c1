// Integration-test support: temporary directories, loopback ports, child
// processes, and the two servers under test (unbound as the upstream,
// authoritative for the zone `test.`, and the built `hush` binary).
//
// Every wait in here is bounded in time and every loop in iterations.  All
// sockets are on 127.0.0.0/8 or ::1.  Child processes are killed when their
// owning object goes away, and (PR_SET_PDEATHSIG) when the test process dies.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hush_it {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;
namespace fs = std::filesystem;

// ---------------------------------------------------------------- files

class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "hush-it-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& p);  // "" if missing
void write_file(const fs::path& p, std::string_view content);

// ---------------------------------------------------------------- addresses

struct Endpoint {
  std::string host;  // "127.0.0.1" or "::1"
  uint16_t port = 0;
  bool is_v6() const { return host.find(':') != std::string::npos; }
  std::string str() const;  // "127.0.0.1:53" or "[::1]:53"
};

// A port in 20000..31999 (outside the kernel's ephemeral range, so outgoing
// sockets of other processes don't take it) on which TCP and UDP can be bound
// right now on 127.0.0.1 (and ::1 if `ipv6`).  Never hands out the same port
// twice in one test run.
uint16_t pick_free_port(bool ipv6 = false);

// ---------------------------------------------------------------- processes

struct ExitStatus {
  bool exited = false;  // normal exit (code valid) vs killed by signal
  int code = -1;
  int signal = 0;
  std::string describe() const;
};

class Process {
 public:
  Process() = default;
  // Spawns argv[0] (PATH lookup) with stdin=/dev/null, stdout/stderr appended
  // to the given files.
  Process(std::vector<std::string> argv, const fs::path& stdout_file, const fs::path& stderr_file);
  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  bool running();
  std::optional<ExitStatus> wait_exit(ms timeout);
  // SIGTERM, wait up to `grace`, then SIGKILL.  No-op if not running.
  ExitStatus stop(ms grace = 3000ms);
  std::string command_line() const;

 private:
  void reap(int wstatus);
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
  std::vector<std::string> argv_;
};

struct CommandResult {
  ExitStatus status;
  bool timed_out = false;
  std::string out;
  std::string err;
  int exit_code() const { return status.exited ? status.code : -1; }
};

// Runs a command to completion (killed after `timeout`).
CommandResult run_command(const std::vector<std::string>& argv, ms timeout = 10s);

// ---------------------------------------------------------------- the zone

// What unbound serves (authoritatively) for `test.`; tests check against it.
namespace zone {
inline constexpr uint32_t kTtl = 300;
inline constexpr uint32_t kSoaMinimum = 60;
inline constexpr const char* kWwwA = "192.0.2.1";
inline constexpr const char* kWwwAAAA = "2001:db8::1";
inline constexpr const char* kChainA = "192.0.2.3";       // a.test -> b.test -> c.test A
inline constexpr const char* kMailA = "192.0.2.25";       // test. MX 10 mail.test.
inline constexpr const char* kWildA = "192.0.2.99";       // *.wild.test. A
inline constexpr const char* kCachedA = "192.0.2.50";     // cached.test. A
inline constexpr const char* kNegCachedName = "cached-nx.test.";
inline constexpr int kBigCount = 4;    // big.test TXT: ~865 bytes, > 512, < 1232
inline constexpr int kHugeCount = 14;  // huge.test TXT: ~3 KB, > upstream UDP limit
// Blocking tests: a CNAME chain that ends at a name the tests block
// (cdn.test -> t1.cname-target.test A), and names that exist so that "not
// blocked" shows as a real answer.
inline constexpr const char* kCnameTargetA = "192.0.2.77";  // t1.cname-target.test. A
inline constexpr const char* kSubAdsA = "192.0.2.81";       // sub.ads.test. A
inline constexpr const char* kGoodTrackerA = "192.0.2.82";  // good.tracker.test. A
inline constexpr const char* kKidsA = "192.0.2.83";         // kids-only.test. A
inline constexpr const char* kNewlyA = "192.0.2.84";        // newly.test. A (blocked by a reload)
std::string big_txt(int i);            // i-th string of big.test (unquoted)
std::string huge_txt(int i);
std::string zone_file();
}  // namespace zone

// ---------------------------------------------------------------- unbound

class Unbound {
 public:
  // Writes config + zone under `dir`, starts unbound on a free 127.0.0.1 port
  // and waits (bounded) until it answers. `extra` is added to its server:
  // section (local-zone/local-data lines for names outside test.).
  explicit Unbound(const fs::path& dir, std::string extra = "");
  ~Unbound();
  Unbound(const Unbound&) = delete;
  Unbound& operator=(const Unbound&) = delete;

  Endpoint endpoint() const { return {"127.0.0.1", port_}; }
  void stop();
  void start();  // (re)start on the same port, wait until it answers
  bool running() { return proc_.running(); }
  std::string log() const { return read_file(dir_ / "unbound.log"); }

 private:
  bool try_start(std::string& why);
  void write_config();
  fs::path dir_;
  std::string extra_;
  uint16_t port_ = 0;
  Process proc_;
};

// ---------------------------------------------------------------- hush

// In HushOptions::upstreams, stands for the Env's unbound (so a test can put
// it after a dead upstream); its host, "@unbound", is replaced by unbound's
// address and port in upstream_servers and upstream_config too.  An Env
// with no upstreams uses just unbound.
inline const Endpoint kUnboundUpstream{"@unbound", 0};

struct HushOptions {
  std::vector<Endpoint> upstreams;
  // More upstreams, written as given (e.g. "tls://127.0.0.1:853#dot.test"),
  // after `upstreams`.
  std::vector<std::string> upstream_servers;
  // TOML lines added to the generated [upstream] table (forces use_config_file).
  std::string upstream_config;
  // false: everything on the command line (--listen/--upstream/--data-dir/
  // --threads); true: everything in a TOML file passed with --config.
  bool use_config_file = false;
  bool listen_ipv6 = false;  // also listen on [::1]:port6
  int threads = 2;
  std::optional<int> upstream_timeout_ms;  // forces use_config_file
  std::optional<int> tcp_idle_timeout_ms;  // forces use_config_file
  // Probe readiness with a UDP query for www.test. A (needs a real upstream
  // that knows it); otherwise readiness = TCP connect on every listener.
  bool probe_with_query = true;
  // More arguments after the generated ones (e.g. {"--blocklist", FILE}).
  std::vector<std::string> extra_args;
  // TOML text appended to the generated config file (forces use_config_file);
  // must not repeat the generated [server] and [upstream] keys.
  std::string extra_config;
  // TOML lines added to the generated [server] table (forces use_config_file).
  std::string server_config;
  // Lines for the Env's unbound server: section (see Unbound).
  std::string unbound_config;
};

class Hush {
 public:
  Hush(const fs::path& dir, HushOptions opts);
  ~Hush();
  Hush(const Hush&) = delete;
  Hush& operator=(const Hush&) = delete;

  Endpoint v4() const { return {"127.0.0.1", port4_}; }
  Endpoint v6() const { return {"::1", port6_}; }
  std::string log() const { return read_file(dir_ / "hush.stderr"); }
  bool running() { return proc_.running(); }
  std::string command_line() const { return proc_.command_line(); }
  fs::path config_path() const { return dir_ / "hush.toml"; }
  fs::path data_dir() const { return dir_ / "hush-data"; }
  pid_t pid() const { return proc_.pid(); }

 private:
  bool try_start(std::string& why);
  fs::path dir_;
  HushOptions opts_;
  uint16_t port4_ = 0, port6_ = 0;
  Process proc_;
};

// unbound + hush forwarding to it (unless the options name other upstreams).
struct Env {
  explicit Env(HushOptions opts = {});
  TempDir dir;
  Unbound unbound;
  Hush hush;
  Endpoint ep() const { return hush.v4(); }
  std::string logs() const;  // both logs, for failure messages
};

// hush forwarding only to `upstreams` (fake ones: no unbound), ready once
// its listeners take TCP connections.
struct FakeEnv {
  explicit FakeEnv(std::vector<Endpoint> upstreams, std::optional<int> upstream_timeout_ms = std::nullopt);
  TempDir dir;
  Hush hush;
};

// One environment shared by the read-only tests (created on first use).
Env& shared_env();

// How many descriptors process `pid` has open now.
size_t open_descriptors(pid_t pid);

// How many TCP sockets on local port `port` some process still holds open
// (listeners excluded): the server's side of its connections. Unlike a
// descriptor count it is blind to files and upstream sockets opened lazily.
size_t open_tcp_connections(uint16_t port);

// Resident memory of `pid` in KiB, from /proc/PID/status (0 if unreadable).
long rss_kib(pid_t pid);

// The first A record dig gets from `hush` over UDP when asking from the
// loopback address `source` (127.0.0.2 ... stand for other devices).
std::string dig_from(const Hush& hush, const char* source, const std::string& name);

// A self-signed P-256 certificate for `cn` covering `server_name` and every
// name below it (client IDs), written to dir/cert.pem and dir/key.pem and
// renamed into place as certbot and lego do, so hush never reads half a file.
void make_certificate(const fs::path& dir, const std::string& cn, const std::string& server_name);

// `hush ARGS --data-dir <hush's>` run to completion.
CommandResult hush_cli(const Hush& hush, std::vector<std::string> args);

ms elapsed_since(Clock::time_point t0);

// Path of the hush binary (HUSH_BINARY), checked to exist.
std::string hush_binary();

// Sleep in small steps until pred() or timeout; returns pred()'s last value.
template <class Pred>
bool wait_until(Pred pred, ms timeout, ms step = 20ms);

}  // namespace hush_it

#include <thread>

template <class Pred>
bool hush_it::wait_until(Pred pred, ms timeout, ms step) {
  const auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 100000; ++i) {
    if (pred()) return true;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(step);
  }
  return pred();
}

// Command line: `hush version`, `hush check` on good and bad configs,
// `hush serve` on an address that is already in use.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <regex>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (size_t p = 0, n = 0; n < 1000 && (p = s.find(from, p)) != std::string::npos; ++n) {
    s.replace(p, from.size(), to);
    p += to.size();
  }
  return s;
}

// A socket bound (and for TCP listening) on 127.0.0.1:port, closed on scope exit.
struct Occupied {
  int fd = -1;
  Occupied(int type, uint16_t port) {
    fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    if (type == SOCK_STREAM) REQUIRE(listen(fd, 4) == 0);
  }
  ~Occupied() { close(fd); }
};

std::string good_config(const fs::path& dir) {
  return "[server]\n"
         "listen = [\"127.0.0.1:" + std::to_string(pick_free_port()) + "\"]\n"
         "threads = 2\n"
         "data_dir = \"" + (dir / "data").string() + "\"\n"
         "[upstream]\n"
         "servers = [\"127.0.0.1:5300\"]\n"
         "timeout_ms = 1000\n"
         "[cache]\n"
         "max_entries = 100000\n"
         "min_ttl = 0\n"
         "max_ttl = 86400\n"
         "negative_max_ttl = 3600\n"
         "[tcp]\n"
         "max_connections = 256\n"
         "idle_timeout_ms = 10000\n";
}

}  // namespace

TEST_CASE("hush version prints a version and exits 0", "[integration][cli]") {
  auto r = run_command({hush_binary(), "version"}, 5s);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code() == 0);
  CHECK(std::regex_search(r.out + r.err, std::regex(R"(\d+\.\d+)")));
}

TEST_CASE("hush check accepts the documented example config", "[integration][cli]") {
  TempDir dir;
  write_file(dir.path() / "hush.toml", good_config(dir.path()));
  auto r = run_command({hush_binary(), "check", "--config", (dir.path() / "hush.toml").string()}, 5s);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code() == 0);
}

TEST_CASE("hush check rejects bad configs with exit 2 and a one-line error naming key and line",
          "[integration][cli]") {
  struct Bad {
    const char* what;
    std::string toml;
    std::string key;  // must appear in the message ("" = none required)
    int line;         // must appear in the message
  };
  const std::vector<Bad> bads{
      {"unknown key", "[server]\nlisten = [\"127.0.0.1:5353\"]\nthreads = 2\n\nbogus_key = 1\n", "bogus_key", 5},
      {"wrong type", "[server]\nlisten = [\"127.0.0.1:5353\"]\n\n\n\nthreads = \"two\"\n", "threads", 6},
      {"unknown key in [cache]", "[upstream]\nservers = [\"127.0.0.1:5300\"]\n[cache]\nmax_entriez = 10\n",
       "max_entriez", 4},
      {"bad listen address", "[server]\n\n\nlisten = [\"127.0.0.1:99999\"]\n", "listen", 4},
      {"TOML syntax error", "[server]\nthreads = 2\n\n\n\n\nlisten = = [\n", "", 7},
  };
  for (auto& b : bads) {
    TempDir dir;
    const fs::path cfg = dir.path() / "hush.toml";
    write_file(cfg, b.toml);
    auto r = run_command({hush_binary(), "check", "--config", cfg.string()}, 5s);
    INFO(b.what << "\nconfig:\n" << b.toml << "stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code() == 2);
    // The path of the file may contain digits; look at the message without it.
    const std::string msg = replace_all(r.out + r.err, cfg.string(), "<cfg>");
    if (!b.key.empty()) CHECK(msg.find(b.key) != std::string::npos);
    CHECK(std::regex_search(msg, std::regex("(^|[^0-9])" + std::to_string(b.line) + "([^0-9]|$)")));
    CHECK(lines(r.out + r.err).size() == 1);  // one line
  }
}

TEST_CASE("hush serve with a bad config exits non-zero naming the key", "[integration][cli]") {
  TempDir dir;
  const fs::path cfg = dir.path() / "hush.toml";
  write_file(cfg, "[server]\nlisten = [\"127.0.0.1:" + std::to_string(pick_free_port()) +
                      "\"]\nthreadz = 2\n[upstream]\nservers = [\"127.0.0.1:5300\"]\n");
  auto r = run_command({hush_binary(), "serve", "--config", cfg.string()}, 8s);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code() != 0);
  CHECK((r.out + r.err).find("threadz") != std::string::npos);
}

TEST_CASE("hush serve on an address already in use exits non-zero naming the address", "[integration][cli]") {
  TempDir dir;
  struct Variant {
    const char* what;
    bool udp, tcp;
  };
  for (auto v : {Variant{"UDP and TCP taken", true, true}, Variant{"only UDP taken", true, false},
                 Variant{"only TCP taken", false, true}}) {
    const uint16_t busy = pick_free_port(), free_port = pick_free_port();
    std::optional<Occupied> u, t;
    if (v.udp) u.emplace(SOCK_DGRAM, busy);
    if (v.tcp) t.emplace(SOCK_STREAM, busy);
    const std::string busy_addr = "127.0.0.1:" + std::to_string(busy);
    // The busy address comes second, after one that is free.
    auto r = run_command({hush_binary(), "serve", "--listen", "127.0.0.1:" + std::to_string(free_port), "--listen",
                          busy_addr, "--upstream", "127.0.0.1:" + std::to_string(pick_free_port()),
                          "--data-dir", (dir.path() / "data").string(), "--threads", "1"},
                         8s);
    INFO(v.what << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code() != 0);
    CHECK(r.exit_code() != -1);  // a clean exit, not a crash
    CHECK((r.out + r.err).find(busy_addr) != std::string::npos);
  }
}

TEST_CASE("hush serve on a port another hush already serves exits non-zero naming the address",
          "[integration][cli]") {
  TempDir dir;
  HushOptions o;
  o.upstreams = {Endpoint{"127.0.0.1", pick_free_port()}};
  o.probe_with_query = false;
  Hush first(dir.path() / "first", o);
  const std::string addr = first.v4().str();
  auto r = run_command({hush_binary(), "serve", "--listen", addr, "--upstream",
                        "127.0.0.1:" + std::to_string(pick_free_port()), "--data-dir",
                        (dir.path() / "second-data").string(), "--threads", "1"},
                       5s);
  INFO("second hush on " << addr << (r.timed_out ? " was still running after 5 s (killed)" : "")
                         << "\nstdout: " << r.out << "\nstderr: " << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code() != 0);
  CHECK((r.out + r.err).find(addr) != std::string::npos);
  CHECK(first.running());
}

// Operations helpers: who holds a port (from a fake /proc), the /metrics
// text, and the configuration keys for running as a service.
#include <catch2/catch.hpp>
#include <arpa/inet.h>
#include <unistd.h>

#include <filesystem>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "base/address.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "net/port_owner.hpp"

namespace fs = std::filesystem;

namespace {

struct FakeProc {
  fs::path root;
  FakeProc() {
    char tmpl[] = "/tmp/hush-fakeproc-XXXXXX";
    root = ::mkdtemp(tmpl);
    fs::create_directories(root / "net");
    for (const char* t : {"udp", "udp6", "tcp", "tcp6"})
      std::ofstream(root / "net" / t)
          << "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
  }
  ~FakeProc() { fs::remove_all(root); }
  void socket_line(const char* table, const std::string& local, const char* state, unsigned uid,
                   unsigned long inode) {
    std::ofstream(root / "net" / table, std::ios::app)
        << "   0: " << local << " 00000000:0000 " << state << " 00000000:00000000 00:00000000 00000000 "
        << uid << " 0 " << inode << " 2 0000000000000000 0\n";
  }
  void process(int pid, const std::string& comm, unsigned long inode) {
    fs::create_directories(root / std::to_string(pid) / "fd");
    std::ofstream(root / std::to_string(pid) / "comm") << comm << "\n";
    fs::create_symlink("socket:[" + std::to_string(inode) + "]", root / std::to_string(pid) / "fd" / "7");
  }
};

sockaddr_storage addr(const char* text) {
  sockaddr_storage ss{};
  std::string error;
  REQUIRE(hush::parse_address(text, 53, ss, error));
  return ss;
}

}  // namespace

TEST_CASE("the holder of a busy port is found through /proc and named with a fix") {
  FakeProc proc;
  // 127.0.0.53:53 as the kernel prints it on little-endian machines: 3500007F:0035.
  uint32_t word;
  inet_pton(AF_INET, "127.0.0.53", &word);
  char local[32];
  std::snprintf(local, sizeof local, "%08X:0035", word);
  proc.socket_line("udp", local, "07", 101, 4242);
  proc.socket_line("udp", "00000000:1F90", "07", 0, 1111);  // another port
  proc.process(412, "systemd-resolve", 4242);

  auto holders = hush::net::find_port_holders(addr("0.0.0.0:53"), SOCK_DGRAM, proc.root.string());
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].pid == 412);
  CHECK(holders[0].comm == "systemd-resolve");
  CHECK(holders[0].local == "127.0.0.53:53");
  std::string text = hush::net::describe_port_holders(holders, addr("0.0.0.0:53"), SOCK_DGRAM);
  CHECK_THAT(text, Catch::Contains("systemd-resolve (pid 412) on 127.0.0.53:53"));
  CHECK_THAT(text, Catch::Contains("DNSStubListener=no"));

  // A different specific address on the same port does not conflict.
  CHECK(hush::net::find_port_holders(addr("127.0.0.1:53"), SOCK_DGRAM, proc.root.string()).empty());
}

TEST_CASE("TCP holders count only when listening; unreadable processes still give the user") {
  FakeProc proc;
  proc.socket_line("tcp", "00000000:0035", "01", 0, 5000);   // an established connection: not a holder
  proc.socket_line("tcp6", "00000000000000000000000000000000:0035", "0A", 0, 5001);  // [::]:53 listening
  auto holders = hush::net::find_port_holders(addr("192.168.1.2:53"), SOCK_STREAM, proc.root.string());
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].inode == 5001);
  CHECK(holders[0].pid == 0);
  std::string text = hush::net::describe_port_holders(holders, addr("192.168.1.2:53"), SOCK_STREAM);
  CHECK_THAT(text, Catch::Contains("a program of user root on [::]:53"));
  CHECK_THAT(text, Catch::Contains("ss -ltpn"));

  proc.process(77, "dnsmasq", 5001);
  holders = hush::net::find_port_holders(addr("192.168.1.2:53"), SOCK_STREAM, proc.root.string());
  REQUIRE(holders.size() == 1);
  CHECK_THAT(hush::net::describe_port_holders(holders, addr("192.168.1.2:53"), SOCK_STREAM),
             Catch::Contains("dnsmasq (pid 77)") && Catch::Contains("systemctl disable --now dnsmasq"));
}

TEST_CASE("metrics: cumulative histogram buckets, escaped labels, one sample per series") {
  auto c = std::make_unique<hush::Counters>();
  c->add(c->queries_udp, 5);
  c->add(c->qtypes[hush::qtype_slot(28)], 3);
  c->add(c->qtypes[hush::qtype_slot(999)], 1);
  c->upstream_answer(0, 1);     // le 0.001
  c->upstream_answer(0, 30);    // le 0.05
  c->upstream_answer(0, 9000);  // +Inf only
  hush::metrics::Snapshot s;
  s.totals = c.get();
  s.upstreams = {"9.9.9.9:53"};
  s.lists = {{"my \"list\"", 10, 1000, true}};
  s.now_unix = 4600;
  s.version = "1.2.3";
  std::string out;
  hush::metrics::render(s, out);
  CHECK_THAT(out, Catch::Contains("hush_queries_total{transport=\"udp\"} 5\n"));
  CHECK_THAT(out, Catch::Contains("hush_queries_by_type_total{type=\"AAAA\"} 3\n"));
  CHECK_THAT(out, Catch::Contains("hush_queries_by_type_total{type=\"other\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("hush_upstream_latency_seconds_bucket{upstream=\"9.9.9.9:53\",le=\"0.001\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("hush_upstream_latency_seconds_bucket{upstream=\"9.9.9.9:53\",le=\"0.05\"} 2\n"));
  CHECK_THAT(out, Catch::Contains("hush_upstream_latency_seconds_bucket{upstream=\"9.9.9.9:53\",le=\"5\"} 2\n"));
  CHECK_THAT(out, Catch::Contains("hush_upstream_latency_seconds_bucket{upstream=\"9.9.9.9:53\",le=\"+Inf\"} 3\n"));
  CHECK_THAT(out, Catch::Contains("hush_upstream_latency_seconds_count{upstream=\"9.9.9.9:53\"} 3\n"));
  CHECK_THAT(out, Catch::Contains("hush_list_entries{list=\"my \\\"list\\\"\"} 10\n"));
  CHECK_THAT(out, Catch::Contains("hush_list_age_seconds{list=\"my \\\"list\\\"\"} 3600\n"));
  CHECK_THAT(out, Catch::Contains("hush_build_info{version=\"1.2.3\"} 1\n"));
  CHECK(out.find("hush_querylog_dropped_total") == std::string::npos);  // not known: not shown
  // Every sample line belongs to a family declared with # TYPE.
  std::istringstream lines(out);
  std::string line, family;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) family = line.substr(7, line.find(' ', 7) - 7);
    if (line.empty() || line[0] == '#') continue;
    CHECK(line.rfind(family, 0) == 0);
  }
}

TEST_CASE("metrics: a list file dated in the future has a negative age") {
  auto c = std::make_unique<hush::Counters>();
  hush::metrics::Snapshot s;
  s.totals = c.get();
  s.lists = {{"future", 1, 5000, true}};
  s.now_unix = 4600;
  std::string out;
  hush::metrics::render(s, out);
  CHECK_THAT(out, Catch::Contains("hush_list_age_seconds{list=\"future\"} -400\n"));
}

TEST_CASE("server.user and http.listen are read; an upstream that is hush itself is caught") {
  auto path = fs::temp_directory_path() / "hush-operations-test.toml";
  std::ofstream(path) << "[server]\nlisten = [\"0.0.0.0:53\"]\nuser = \"\"\n[upstream]\nservers = "
                         "[\"127.0.0.1\"]\n[http]\nlisten = \"\"\n";
  hush::Config cfg;
  std::vector<std::string> errors;
  REQUIRE(hush::load_config_file(path.string(), cfg, errors));
  REQUIRE(hush::resolve(cfg, errors));
  CHECK(cfg.server.user == std::optional<std::string>(""));
  CHECK_FALSE(cfg.http_addr);
  CHECK_FALSE(hush::check_upstream_loops(cfg, errors));
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("127.0.0.1:53 is hush itself"));

  hush::Config defaults;
  defaults.upstream.servers = {"127.0.0.1"};  // port 53; hush listens on 5353 by default
  errors.clear();
  REQUIRE(hush::resolve(defaults, errors));
  CHECK_FALSE(defaults.server.user);
  REQUIRE(defaults.http_addr);
  CHECK(hush::format_address(*defaults.http_addr) == "127.0.0.1:8080");
  CHECK(hush::check_upstream_loops(defaults, errors));
  fs::remove(path);
}

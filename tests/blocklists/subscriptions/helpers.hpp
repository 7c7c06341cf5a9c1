// Support for the subscription tests: temporary directories, the misbehaving
// list host (list_server.py) on a free 127.0.0.1 port, running the hush
// binary, and a minimal DNS client over UDP. Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace subs_test {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& p);
void write_file(const fs::path& p, const std::string& text);
std::string data_dir();  // tests/data/subscriptions

// python3 list_server.py DATA DYN, killed on destruction.
class ListServer {
 public:
  ListServer();
  ~ListServer();
  std::string url(const std::string& path) const;  // "http://127.0.0.1:P" + path
  const fs::path& dyn() const { return dyn_.path(); }
  std::string log() const;  // GET /log
  uint16_t port() const { return port_; }

 private:
  TempDir dyn_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

struct RunResult {
  int code = -1;
  std::string out;  // stdout and stderr
};
// Runs argv (argv[0] a path), waits at most `timeout`, kills it after that.
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A child process (hush serve) with output to a file; killed on destruction.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const fs::path& output);
  ~Child();
  pid_t pid() const { return pid_; }
  bool alive();
  int stop();  // SIGTERM, wait (bounded), exit code or -1

 private:
  pid_t pid_ = -1;
};

uint16_t free_udp_tcp_port();

struct DnsAnswer {
  bool ok = false;  // an answer came back
  int rcode = -1;
  std::vector<std::string> a;  // A records, dotted
};
DnsAnswer query_a(uint16_t port, const std::string& name, std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

// VmHWM / VmRSS of a process in KiB, 0 if unknown.
long proc_status_kib(pid_t pid, const char* key);

}  // namespace subs_test

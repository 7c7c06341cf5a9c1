#include "helpers.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <curl/curl.h>

namespace subs_test {

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "hush-subs-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void write_file(const fs::path& p, const std::string& text) {
  std::string tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  fs::rename(tmp, p);  // atomic: the server never serves half a file
}

std::string data_dir() { return std::string(HUSH_SOURCE_DIR) + "/tests/data/subscriptions"; }

namespace {
pid_t spawn(const std::vector<std::string>& argv, int out_fd) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int wait_bounded(pid_t pid, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

size_t to_string(char* p, size_t s, size_t n, void* u) {
  static_cast<std::string*>(u)->append(p, s * n);
  return s * n;
}
}  // namespace

ListServer::ListServer() {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe");
  std::string script = std::string(HUSH_SOURCE_DIR) + "/tests/blocklists/subscriptions/list_server.py";
  pid_ = spawn({"python3", script, data_dir(), dyn_.str()}, fds[1]);
  close(fds[1]);
  // The first line is the port; wait for it at most 60 s (a loaded machine
  // took over 15 s just to start Python).
  std::string line;
  pollfd p{fds[0], POLLIN, 0};
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < end) {
    if (poll(&p, 1, 200) > 0) {
      char buf[64];
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, size_t(n));
    }
  }
  close(fds[0]);
  port_ = uint16_t(std::atoi(line.c_str()));
  if (port_ == 0) throw std::runtime_error("list_server.py did not start: " + line);
}
ListServer::~ListServer() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}
std::string ListServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}
std::string ListServer::log() const {
  std::string body;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url("/log").c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_string);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
  curl_easy_perform(c);
  curl_easy_cleanup(c);
  return body;
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  TempDir d;
  fs::path out = d.path() / "out";
  int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = spawn(argv, fd);
  close(fd);
  RunResult r;
  r.code = wait_bounded(pid, timeout);
  r.out = read_file(out);
  return r;
}

Child::Child(const std::vector<std::string>& argv, const fs::path& output) {
  int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  pid_ = spawn(argv, fd);
  close(fd);
}
Child::~Child() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}
bool Child::alive() { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
int Child::stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int code = wait_bounded(pid_, std::chrono::seconds(10));
  pid_ = -1;
  return code;
}

uint16_t free_udp_tcp_port() {
  static std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    uint16_t port = uint16_t(20000 + rng() % 12000);
    bool ok = true;
    for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
      int s = socket(AF_INET, type, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ok = false;
      close(s);
    }
    if (ok) return port;
  }
  throw std::runtime_error("no free port");
}

DnsAnswer query_a(uint16_t port, const std::string& name, std::chrono::milliseconds timeout) {
  DnsAnswer ans;
  std::vector<uint8_t> q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(uint8_t(dot - start));
    for (size_t i = start; i < dot; ++i) q.push_back(uint8_t(name[i]));
    start = dot + 1;
  }
  q.push_back(0);
  q.insert(q.end(), {0, 1, 0, 1});
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sendto(s, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  pollfd p{s, POLLIN, 0};
  uint8_t buf[1500];
  ssize_t n = -1;
  if (poll(&p, 1, int(timeout.count())) > 0) n = recv(s, buf, sizeof buf, 0);
  close(s);
  if (n < 12 || buf[0] != 0x12 || buf[1] != 0x34) return ans;
  ans.ok = true;
  ans.rcode = buf[3] & 0x0f;
  size_t off = 12;
  auto skip_name = [&] {
    while (off < size_t(n)) {
      uint8_t l = buf[off];
      if ((l & 0xc0) == 0xc0) { off += 2; return; }
      off += 1 + l;
      if (l == 0) return;
    }
  };
  skip_name();
  off += 4;
  int ancount = (buf[6] << 8) | buf[7];
  for (int i = 0; i < ancount && off + 10 <= size_t(n); ++i) {
    skip_name();
    uint16_t type = uint16_t((buf[off] << 8) | buf[off + 1]);
    uint16_t rdlen = uint16_t((buf[off + 8] << 8) | buf[off + 9]);
    off += 10;
    if (type == 1 && rdlen == 4 && off + 4 <= size_t(n)) {
      char t[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, buf + off, t, sizeof t);
      ans.a.push_back(t);
    }
    off += rdlen;
  }
  return ans;
}

long proc_status_kib(pid_t pid, const char* key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key) + 1);
  return 0;
}

}  // namespace subs_test

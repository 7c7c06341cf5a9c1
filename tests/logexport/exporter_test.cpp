// The JSON-lines export without a server: lines as /api/log shows queries,
// the file rotated at its size with a bounded number kept, and the query
// log's privacy settings (ignored domains and clients, anonymous mode).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "logexport/exporter.hpp"

using namespace hush;
namespace fs = std::filesystem;

namespace {

struct Dir {
  fs::path path;
  Dir() {
    char t[] = "/tmp/hush-export-XXXXXX";
    path = mkdtemp(t);
  }
  ~Dir() { fs::remove_all(path); }
};

sockaddr_in client(const char* ip) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(5353);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

querylog::Event event(const sockaddr_in& from, std::string_view name, querylog::Status status) {
  querylog::Event e;
  e.time_us = 1700000000123456;
  e.client = reinterpret_cast<const sockaddr*>(&from);
  e.name = name;
  e.qtype = 1;
  e.status = status;
  e.reason = status == querylog::Status::Blocked ? "ads: ||ads.example^" : "";
  e.latency_us = 1500;
  return e;
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool wait_sent(const logexport::Exporter& x, uint64_t n) {
  for (int i = 0; i < 500 && x.stats().sent < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return x.stats().sent >= n;
}

// What arrives on `fd` (a datagram, or a stream's bytes) within `ms`.
std::string receive(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) != 1) return "";
  char buf[65536];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, size_t(n)) : "";
}

}  // namespace

TEST_CASE("export: a line holds the fields of /api/log", "[logexport]") {
  auto from = client("192.0.2.7");
  querylog::Record r;
  querylog::fill(r, event(from, "ads.example", querylog::Status::Blocked));
  auto j = nlohmann::json::parse(logexport::json_line(r, false));
  CHECK(j["client"] == "192.0.2.7");
  CHECK(j["domain"] == "ads.example");
  CHECK(j["type"] == "A");
  CHECK(j["status"] == "blocked");
  CHECK(j["reason"] == "ads: ||ads.example^");
  CHECK(j["time_ms"] == 1700000000123);
  CHECK(j["latency_ms"] == 1.5);
  auto anon = nlohmann::json::parse(logexport::json_line(r, true));
  CHECK_FALSE(anon.contains("client"));
  CHECK_FALSE(anon.contains("domain"));
  CHECK_FALSE(anon.contains("reason"));
  CHECK(anon["status"] == "blocked");
  // Names in presentation format keep their escapes; quotes and control
  // bytes are escaped for JSON, and bytes past ASCII still make valid JSON.
  for (std::string_view odd : {std::string_view("a\\\"b\\046.example"), std::string_view("t\tab.example"),
                               std::string_view("caf\xc3\xa9.example"), std::string_view("bad\xff.example")}) {
    querylog::Record o;
    querylog::fill(o, event(from, odd, querylog::Status::Forwarded));
    auto parsed = nlohmann::json::parse(logexport::json_line(o, false), nullptr, false);
    INFO(logexport::json_line(o, false));
    REQUIRE(parsed.is_object());
    if (odd.find('\xff') == std::string_view::npos) CHECK(parsed["domain"] == std::string(odd));
  }
  std::string m = logexport::syslog_message("{}", 1700000000123456, "box");
  CHECK(m == "<134>1 2023-11-14T22:13:20.123456Z box hush - query - {}");
}

TEST_CASE("export: the file rotates at its size and keeps files_kept old ones; privacy applies", "[logexport]") {
  Dir dir;
  logexport::Settings s;
  s.file = (dir.path / "queries.jsonl").string();
  s.max_file_bytes = 4000;
  s.files_kept = 2;
  s.ignore_domains = {"*.hidden.example"};
  s.ignore_clients = {"192.0.2.99"};
  uint64_t shown = 0;
  {
    logexport::Exporter x(s, 1);
    auto seen = client("192.0.2.7"), ignored = client("192.0.2.99");
    for (int i = 0; i < 300; ++i) {
      std::string name = "n" + std::to_string(i) + (i % 10 == 0 ? ".hidden.example" : ".example");
      x.queue().producer(0).log(event(i % 7 == 0 ? ignored : seen, name, querylog::Status::Forwarded));
      shown += i % 10 != 0 && i % 7 != 0;
      // A pause now and then, so the writer sees several batches, not one.
      if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(wait_sent(x, shown));
    CHECK(x.stats().dropped == 0);
  }
  CHECK(fs::exists(dir.path / "queries.jsonl.1"));
  CHECK(fs::exists(dir.path / "queries.jsonl.2"));
  CHECK_FALSE(fs::exists(dir.path / "queries.jsonl.3"));
  for (const char* f : {"queries.jsonl", "queries.jsonl.1", "queries.jsonl.2"}) {
    INFO(f);
    CHECK(fs::file_size(dir.path / f) <= 4000);
    for (const std::string& line : lines_of(dir.path / f)) {
      auto j = nlohmann::json::parse(line);
      CHECK(j["client"] == "192.0.2.7");
      CHECK(j["domain"].get<std::string>().find("hidden") == std::string::npos);
    }
  }
}

TEST_CASE("export: a full queue drops and counts, never waits", "[logexport]") {
  logexport::Settings s;
  s.syslog = "udp://127.0.0.1:9";  // discard: nobody reads
  s.queue_per_worker = 64;
  logexport::Exporter x(s, 1);
  auto from = client("192.0.2.7");
  uint64_t refused = 0;
  for (int i = 0; i < 100000; ++i)
    refused += !x.queue().producer(0).log(event(from, "flood.example", querylog::Status::Cached));
  CHECK(refused > 0);
  CHECK(x.stats().dropped >= refused);
}

TEST_CASE("export: syslog to a TCP receiver (RFC 6587 octet counting) and to the local socket", "[logexport]") {
  auto from = client("192.0.2.9");
  SECTION("tcp") {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&a), len) == 0);
    REQUIRE(listen(listener, 1) == 0);
    REQUIRE(getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    logexport::Settings s;
    s.syslog = "tcp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    logexport::Exporter x(s, 1);
    REQUIRE(x.queue().producer(0).log(event(from, "tcp.example", querylog::Status::Forwarded)));
    pollfd p{listener, POLLIN, 0};
    REQUIRE(poll(&p, 1, 5000) == 1);
    int conn = accept(listener, nullptr, nullptr);
    std::string got;
    for (int i = 0; i < 50 && got.find('}') == std::string::npos; ++i) got += receive(conn, 100);
    close(conn);
    close(listener);
    // "LENGTH SP <134>1 TIME HOST hush - - - {json}": the length counts the message.
    size_t sp = got.find(' ');
    REQUIRE(sp != std::string::npos);
    CHECK(std::stoul(got.substr(0, sp)) == got.size() - sp - 1);
    CHECK(got.substr(sp + 1, 7) == "<134>1 ");
    auto j = nlohmann::json::parse(got.substr(got.find('{')));
    CHECK(j["domain"] == "tcp.example");
    CHECK(j["client"] == "192.0.2.9");
  }
  SECTION("local") {
    Dir d;
    const std::string path = (d.path / "log.sock").string();
    int rx = socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path.c_str());
    REQUIRE(bind(rx, reinterpret_cast<sockaddr*>(&un), sizeof un) == 0);
    logexport::Settings s;
    s.syslog = "local";
    s.local_socket = path;
    logexport::Exporter x(s, 1);
    REQUIRE(x.queue().producer(0).log(event(from, "local.example", querylog::Status::Blocked)));
    std::string got = receive(rx, 5000);
    close(rx);
    CHECK(got.rfind("<134>1 ", 0) == 0);
    REQUIRE(got.find('{') != std::string::npos);
    auto j = nlohmann::json::parse(got.substr(got.find('{')));
    CHECK(j["domain"] == "local.example");
    CHECK(j["status"] == "blocked");
  }
}

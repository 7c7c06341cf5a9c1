// Query export with the real binary: a UDP syslog receiver (a socket of the
// test's own) gets one RFC 5424 message per query carrying the /api/log
// fields as a JSON line, and the query log's privacy settings apply.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

// A UDP socket on 127.0.0.1, bound to a free port.
struct Receiver {
  int fd = -1;
  uint16_t port = 0;
  Receiver() {
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    port = pick_free_port();
    a.sin_port = htons(port);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~Receiver() { close(fd); }
  // The next message, or "" after `timeout`.
  std::string next(ms timeout) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(timeout.count())) != 1) return "";
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, size_t(n)) : "";
  }
};

}  // namespace

TEST_CASE("export: each query reaches a UDP syslog receiver as an RFC 5424 message with a JSON line",
          "[integration][export]") {
  Receiver rx;
  HushOptions o;
  o.extra_config = "[export]\nsyslog = \"udp://127.0.0.1:" + std::to_string(rx.port) +
                   "\"\n[blocking]\ndeny = [\"sub.ads.test\"]\n[querylog]\nignore_domains = [\"mail.test\"]\n";
  Env env(o);
  REQUIRE(dig(env.ep(), {"-b", "127.0.0.4", "mail.test", "A", "+short"}).exit_code() == 0);  // ignored: not sent
  REQUIRE(dig(env.ep(), {"-b", "127.0.0.2", "sub.ads.test", "A", "+short"}).out == "0.0.0.0\n");
  REQUIRE(dig(env.ep(), {"-b", "127.0.0.3", "cached.test", "A", "+short"}).out == std::string(zone::kCachedA) + "\n");

  // By name: each worker has its own queue, so two queries may arrive in either order.
  std::map<std::string, nlohmann::json> ours;
  for (std::string m; ours.size() < 2 && !(m = rx.next(5000ms)).empty();) {
    INFO(m);
    // <134>1 TIMESTAMP HOST hush - query - {...}
    REQUIRE(m.rfind("<134>1 ", 0) == 0);
    REQUIRE(m.find(" hush - query - {") != std::string::npos);
    auto j = nlohmann::json::parse(m.substr(m.find('{')), nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j["domain"] != "mail.test");
    if (j["client"] != "127.0.0.1") ours[j["domain"].get<std::string>()] = j;  // not the harness's readiness probe
  }
  REQUIRE(ours.size() == 2);
  const nlohmann::json& blocked = ours["sub.ads.test"];
  CHECK(blocked["client"] == "127.0.0.2");
  CHECK(blocked["status"] == "blocked");
  CHECK(blocked["type"] == "A");
  const nlohmann::json& forwarded = ours["cached.test"];
  CHECK(forwarded["client"] == "127.0.0.3");
  CHECK(forwarded["status"] == "forwarded");
  CHECK(forwarded["answer"].get<std::string>().find(zone::kCachedA) != std::string::npos);
}

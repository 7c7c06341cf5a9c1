// Reverse lookups against a small PTR responder on 127.0.0.1.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "base/address.hpp"
#include "clients/ptr.hpp"
#include "clients/ptr_lookup.hpp"
#include "dns/wire.hpp"
#include "ptr_reply.hpp"

using namespace hush;
using namespace hush::clients;
using Clock = std::chrono::steady_clock;

namespace {
sockaddr_storage addr(const std::string& text) {
  sockaddr_storage ss;
  std::string why;
  REQUIRE(parse_address(text, 53, ss, why));
  return ss;
}

// Answers PTR queries for the addresses in `names` (reverse name -> target),
// stays silent for the others, and counts what it was asked. Bounded: it
// stops with its owner and never waits more than 50 ms per poll.
class Responder {
 public:
  explicit Responder(std::map<std::string, std::string> names) : names_(std::move(names)) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Responder() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string where() const { return "127.0.0.1:" + std::to_string(port_); }
  int asked() const { return asked_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      uint8_t q[512];
      sockaddr_storage from;
      socklen_t flen = sizeof from;
      ssize_t n = ::recvfrom(fd_, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n < int(dns::kHeaderSize)) continue;
      ++asked_;
      std::string qname;
      if (!dns::read_name(q, size_t(n), dns::kHeaderSize, qname)) continue;
      auto it = names_.find(qname);
      if (it == names_.end()) continue;
      std::vector<uint8_t> r = test::ptr_reply(std::vector<uint8_t>(q, q + n), it->second);
      ::sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), flen);
    }
  }
  std::map<std::string, std::string> names_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> asked_{0};
  std::thread thread_;
};
}  // namespace

TEST_CASE("the server asked: the router, else the longest matching reverse forward zone") {
  std::vector<upstream::ForwardZone> zones(3);
  zones[0] = {"lan", {"192.168.1.1"}, {addr("192.168.1.1")}};
  zones[1] = {"168.192.in-addr.arpa", {"192.168.1.1"}, {addr("192.168.1.1")}};
  zones[2] = {"5.168.192.in-addr.arpa", {"192.168.5.1:5353"}, {addr("192.168.5.1:5353")}};
  auto none = std::optional<sockaddr_storage>();
  auto s = ptr_server_for("192.168.1.20", none, zones);
  REQUIRE(s);
  CHECK(format_address(*s) == "192.168.1.1:53");
  s = ptr_server_for("192.168.5.9", none, zones);
  REQUIRE(s);
  CHECK(format_address(*s) == "192.168.5.1:5353");
  CHECK_FALSE(ptr_server_for("10.0.0.3", none, zones));
  CHECK_FALSE(ptr_server_for("2001:db8::1", none, zones));
  CHECK_FALSE(ptr_server_for("not an address", none, zones));
  s = ptr_server_for("10.0.0.3", addr("10.0.0.1"), zones);
  REQUIRE(s);
  CHECK(format_address(*s) == "10.0.0.1:53");
}

TEST_CASE("a lookup returns the router's name, or nothing within the timeout") {
  Responder router(std::map<std::string, std::string>{{"2.0.0.127.in-addr.arpa", "Laptop.lan"}});
  sockaddr_storage at = addr(router.where());
  CHECK(lookup_ptr("127.0.0.2", at, 2000) == "laptop.lan");
  auto t0 = Clock::now();
  CHECK(lookup_ptr("127.0.0.3", at, 200).empty());  // the router stays silent
  CHECK(Clock::now() - t0 < std::chrono::seconds(2));
  CHECK(router.asked() == 2);
}

TEST_CASE("the lookup thread asks what is due and hands back what it finds") {
  Responder router({{"2.0.0.127.in-addr.arpa", "laptop.lan"}, {"4.0.0.127.in-addr.arpa", "tv.lan"}});
  sockaddr_storage at = addr(router.where());
  std::mutex mu;
  std::map<std::string, std::string> found;
  std::atomic<int> rounds{0};
  PtrLookupHooks hooks;
  hooks.due = [&](int64_t) {
    ++rounds;
    // Everything at once in the first round: more than one round's share.
    return rounds == 1 ? std::vector<std::string>{"127.0.0.2", "127.0.0.3", "127.0.0.4", "192.0.2.1"}
                       : std::vector<std::string>{};
  };
  hooks.answered = [&](const std::string& ip, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu);
    found[ip] = name;
  };
  hooks.server_for = [&](const std::string& ip) -> std::optional<sockaddr_storage> {
    if (ip.rfind("127.", 0) == 0) return at;
    return std::nullopt;  // no server for it: not asked at all
  };
  PtrLookups lookups(hooks, 20, 100, 2);
  lookups.start();
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (found.size() == 2 && rounds >= 3) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  lookups.stop();
  std::lock_guard<std::mutex> lock(mu);
  CHECK(found == std::map<std::string, std::string>{{"127.0.0.2", "laptop.lan"}, {"127.0.0.4", "tv.lan"}});
  CHECK(router.asked() == 3);  // 192.0.2.1 had no server
}

#include "clients/ptr_lookup.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>

#include "base/address.hpp"
#include "clients/ptr.hpp"
#include "upstream/random.hpp"

namespace hush::clients {

namespace {
// Addresses waiting beyond this are dropped; they are due again within the
// hour, so a burst of new IPv6 addresses never grows memory without end.
constexpr size_t kMaxBacklog = 1024;

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

std::optional<sockaddr_storage> ptr_server_for(const std::string& ip, const std::optional<sockaddr_storage>& router,
                                               const std::vector<upstream::ForwardZone>& forwards) {
  if (router) return router;
  std::string rev = ptr::reverse_name(ip);
  if (rev.empty()) return std::nullopt;
  const upstream::ForwardZone* best = nullptr;
  for (const upstream::ForwardZone& f : forwards) {
    if (f.addrs.empty() || f.domain.empty()) continue;
    bool inside = rev == f.domain || (rev.size() > f.domain.size() && rev.ends_with("." + f.domain));
    if (inside && (!best || f.domain.size() > best->domain.size())) best = &f;
  }
  if (!best) return std::nullopt;
  return best->addrs.front();
}

std::string lookup_ptr(const std::string& ip, const sockaddr_storage& server, int timeout_ms) {
  Fd s{::socket(server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (s.fd < 0) return "";
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&server), address_length(server)) != 0) return "";
  upstream::Random random;
  uint16_t id = random.next16();
  uint8_t query[512];
  size_t n = ptr::write_query(id, ip, query, sizeof query);
  if (n == 0 || ::send(s.fd, query, n, 0) != ssize_t(n)) return "";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  // Replies that do not match (late ones, forged ones) are read and ignored
  // until the deadline.
  for (int i = 0; i < 64; ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{s.fd, POLLIN, 0};
    if (::poll(&p, 1, int(left.count())) <= 0) break;
    uint8_t reply[4096];
    ssize_t got = ::recv(s.fd, reply, sizeof reply, 0);
    if (got <= 0) {
      if (got < 0 && errno == EAGAIN) continue;
      break;  // refused: nothing listens there
    }
    std::string name;
    if (ptr::read_answer(reply, size_t(got), id, ip, name)) return name;
  }
  return "";
}

PtrLookups::PtrLookups(PtrLookupHooks hooks, int round_ms, int timeout_ms, size_t per_round)
    : hooks_(std::move(hooks)), round_ms_(round_ms), timeout_ms_(timeout_ms), per_round_(per_round) {}

PtrLookups::~PtrLookups() { stop(); }

void PtrLookups::start() {
  thread_ = std::thread([this] {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (wake_.wait_for(lock, std::chrono::milliseconds(round_ms_), [this] { return stopping_; })) return;
      }
      round();
    }
  });
}

void PtrLookups::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PtrLookups::round() {
  for (std::string& ip : hooks_.due(int64_t(std::time(nullptr)))) {
    if (backlog_.size() >= kMaxBacklog) break;
    backlog_.push_back(std::move(ip));
  }
  size_t done = 0;
  while (done < per_round_ && done < backlog_.size()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    const std::string& ip = backlog_[done++];
    std::optional<sockaddr_storage> server = hooks_.server_for(ip);
    if (!server) continue;
    std::string name = lookup_ptr(ip, *server, timeout_ms_);
    if (!name.empty()) hooks_.answered(ip, name);
  }
  backlog_.erase(backlog_.begin(), backlog_.begin() + long(done));
}

}  // namespace hush::clients

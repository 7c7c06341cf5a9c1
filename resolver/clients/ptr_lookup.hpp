// Reverse lookups of client addresses, sent on a thread of their own so a
// slow or silent router never holds up a DNS worker or the log writer. Each
// round it asks the log writer which addresses are due (ptr::PtrCache: each
// at most once an hour, answered or not), sends up to a few PTR queries, one
// at a time with a short timeout, and hands the names back. The queries go
// straight to the router, not through hush, so they never appear in the
// query log.
#pragma once

#include <sys/socket.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "upstream/selector.hpp"

namespace hush::clients {

// Which server to ask about `ip`: `router` when set, else the first server
// of the longest [[forward]] zone that holds the address's reverse name
// (e.g. "1.168.192.in-addr.arpa"), else none.
std::optional<sockaddr_storage> ptr_server_for(const std::string& ip, const std::optional<sockaddr_storage>& router,
                                               const std::vector<upstream::ForwardZone>& forwards);

// Sends one PTR query for `ip` to `server` over UDP and waits up to
// `timeout_ms` for the matching reply. Returns the name, or "" when none came.
std::string lookup_ptr(const std::string& ip, const sockaddr_storage& server, int timeout_ms);

struct PtrLookupHooks {
  std::function<std::vector<std::string>(int64_t now_s)> due;  // addresses to ask about now
  std::function<void(const std::string& ip, const std::string& name)> answered;
  std::function<std::optional<sockaddr_storage>(const std::string& ip)> server_for;
};

class PtrLookups {
 public:
  // Per round (every `round_ms`): at most `per_round` queries, each waiting at
  // most `timeout_ms`.
  PtrLookups(PtrLookupHooks hooks, int round_ms = 2000, int timeout_ms = 500, size_t per_round = 16);
  ~PtrLookups();  // stop()
  PtrLookups(const PtrLookups&) = delete;
  PtrLookups& operator=(const PtrLookups&) = delete;

  void start();
  void stop();

 private:
  void round();
  PtrLookupHooks hooks_;
  int round_ms_, timeout_ms_;
  size_t per_round_;
  std::vector<std::string> backlog_;  // due but beyond the last round's limit
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hush::clients

// Looks up the address of an upstream given by name (tls://dns.quad9.net)
// through the plain bootstrap servers (upstream.bootstrap), straight over
// UDP: never through hush's own cache and pipeline, which would need that
// very upstream to answer. A and AAAA are asked at once; an IPv4 address
// is preferred. Each server gets the upstream timeout, then the next is
// asked. The caller keeps the address for its TTL and asks again after.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "upstream/random.hpp"

namespace hush::net {

class Bootstrap {
 public:
  // `addr` is set (port included) and `error` empty on success.
  struct Result {
    sockaddr_storage addr{};
    uint32_t ttl_s = 0;
    std::string error;
  };
  using Done = std::function<void(const Result&)>;

  Bootstrap(uv_loop_t* loop, std::vector<sockaddr_storage> servers, uint32_t timeout_ms, upstream::Random& random);
  ~Bootstrap();
  Bootstrap(const Bootstrap&) = delete;
  Bootstrap& operator=(const Bootstrap&) = delete;

  // Looks up `name` (a valid host name) and calls `done` once, on the
  // loop, with its address and `port`. Not called after close().
  void lookup(const std::string& name, uint16_t port, Done done);
  // Ends every lookup without calling back.
  void close();

  // The shortest and longest time an address is kept, whatever its TTL.
  static constexpr uint32_t kMinTtl = 2, kMaxTtl = 86400;

 private:
  struct Lookup;
  void start(const std::string& name, uint16_t port, Done done, size_t server);
  void on_reply(Lookup& l, const uint8_t* data, size_t len);
  void finish(Lookup& l, const char* error);
  void end(Lookup& l);

  uv_loop_t* loop_;
  std::vector<sockaddr_storage> servers_;
  uint32_t timeout_ms_;
  upstream::Random& random_;
  std::vector<Lookup*> lookups_;
};

}  // namespace hush::net

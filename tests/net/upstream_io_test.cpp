// UpstreamIo on a real loop, for what needs no server: TLS or HTTPS to a
// server configured for another transport fails the attempt at once and
// says why.
#include <catch2/catch.hpp>

#include <string>

#include "base/address.hpp"
#include "net/upstream_io.hpp"

using namespace hush;

namespace {
struct NoEvents final : net::UpstreamIo::Events {
  int calls = 0;
  void on_upstream_reply(upstream::Pending&, const uint8_t*, size_t) override { ++calls; }
  void on_upstream_failure(upstream::Pending&, bool, const char*) override { ++calls; }
  void on_upstream_stray(uint8_t, uint8_t, const uint8_t*, size_t) override { ++calls; }
};
}  // namespace

TEST_CASE("a transport the server is not configured for fails the attempt, saying why") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  upstream::Server server;
  std::string error;
  REQUIRE(parse_address("127.0.0.1:53", 53, server.addr, error));
  NoEvents events;
  {
    net::UpstreamIo io(&loop, events, {{server}}, 1000);
    upstream::Pending p;
    p.order = {0};
    CHECK_THAT(std::string(io.send(p, upstream::Transport::Tls)), Catch::Contains("not a tls://"));
    CHECK(p.io == nullptr);  // no attempt is running
    CHECK_THAT(std::string(io.send(p, upstream::Transport::Https)), Catch::Contains("not an https://"));
    CHECK(p.io == nullptr);
    io.close();
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);  // nothing left open
  }
  CHECK(events.calls == 0);  // the caller hears it from send(), once
  CHECK(uv_loop_close(&loop) == 0);
}

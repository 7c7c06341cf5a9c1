// Clients outside access.allow: refused (or ignored) and counted, but never
// logged, so whoever reaches the port cannot fill the query log or create
// devices.
#include <catch2/catch.hpp>

#include <string>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

// The value of `hush_query_outcomes_total{outcome="refused"}` on /metrics.
long refused_counter(uint16_t http_port) {
  auto r = run_command({"curl", "-s", "http://127.0.0.1:" + std::to_string(http_port) + "/metrics"}, 5s);
  const std::string key = "hush_query_outcomes_total{outcome=\"refused\"} ";
  size_t at = r.out.find(key);
  return at == std::string::npos ? -1 : std::stol(r.out.substr(at + key.size()));
}

void check_strangers_not_logged(bool drop_refused) {
  const uint16_t http_port = pick_free_port();
  HushOptions o;
  o.extra_config = std::string("[access]\nallow = [\"127.0.0.1/32\"]\ndrop_refused = ") +
                   (drop_refused ? "true" : "false") + "\n";
  o.extra_args = {"--http", "127.0.0.1:" + std::to_string(http_port)};
  Env env(o);
  const std::string data_dir = env.hush.data_dir().string();
  REQUIRE(wait_until([&] { return refused_counter(http_port) == 0; }, 5000ms));

  // 127.0.0.50 .. 127.0.0.80: 31 strangers (fewer when dropped: each waits out a timeout).
  const int last = drop_refused ? 59 : 80;
  for (int a = 50; a <= last; ++a) {
    const std::string source = "127.0.0." + std::to_string(a);
    auto r = udp_exchange(env.ep(), make_query("stranger.test.", rr::A), drop_refused ? 200ms : 3000ms, source);
    if (drop_refused) {
      CHECK_FALSE(r);
    } else {
      REQUIRE(r);
      CHECK(parse_message(*r).rcode() == rcode::REFUSED);
    }
  }
  const long strangers = last - 50 + 1;
  CHECK(refused_counter(http_port) == strangers);

  // The allowed client's queries are logged; once they are in, anything the
  // strangers had queued before them would be too.
  std::string www;
  REQUIRE(wait_until(
      [&] {
        for (int i = 0; i < 8; ++i) udp_query(env.ep(), "www.test.", rr::A);
        www = run_command({hush_binary(), "log", "search", "--domain", "www.test", "--data-dir", data_dir}, 5s).out;
        return www.find("www.test") != std::string::npos;
      },
      20s, 300ms));
  auto rows = run_command({hush_binary(), "log", "search", "--domain", "stranger.test", "--data-dir", data_dir}, 5s);
  CHECK(rows.exit_code() == 0);
  CHECK(rows.out.find("stranger.test") == std::string::npos);
  auto clients = run_command({hush_binary(), "clients", "--data-dir", data_dir}, 5s);
  INFO(clients.out);
  CHECK(clients.out.find("127.0.0.1") != std::string::npos);
  for (int a = 50; a <= last; ++a) CHECK(clients.out.find("127.0.0." + std::to_string(a)) == std::string::npos);
}

}  // namespace

TEST_CASE("refused strangers are counted but create no log rows and no devices", "[integration][access]") {
  check_strangers_not_logged(false);
}

TEST_CASE("dropped strangers (drop_refused) are counted but create no log rows and no devices",
          "[integration][access]") {
  check_strangers_not_logged(true);
}

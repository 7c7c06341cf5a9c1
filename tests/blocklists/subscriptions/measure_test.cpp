// Not part of the suite ([.] hides it): how long a 1M-entry subscription
// takes from `hush lists add` (download + checks) to blocking in a running
// hush, and the server's peak memory around it. Run by hand:
//   build/tests/blocklists/subscriptions/subscriptions_tests "[.measure]" -s
#include <catch2/catch.hpp>

#include <chrono>
#include <iostream>
#include <thread>

#include "helpers.hpp"

using namespace subs_test;
using namespace std::chrono_literals;

TEST_CASE("measure: a 1M-entry list from download to swap-in", "[.measure]") {
  const int n = 1000000;
  ListServer srv;
  TempDir data, work;
  auto conf = work.path() / "hush.toml";
  write_file(conf, "[upstream]\nservers = [\"127.0.0.1:" + std::to_string(free_udp_tcp_port()) +
                       "\"]\ntimeout_ms = 200\n[access]\nrate_limit = 0\n");
  uint16_t port = free_udp_tcp_port();
  auto log = work.path() / "hush.log";
  Child hush({HUSH_BINARY, "serve", "--config", conf.string(), "--listen", "127.0.0.1:" + std::to_string(port),
              "--data-dir", data.str(), "--threads", "1", "--http", "", "--user", ""},
             log);
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = query_a(port, "hush.lan", 200ms).ok;
    if (!up) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(up);
  const std::string last = "host" + std::to_string(n - 1) + ".tracker" + std::to_string((n - 1) % 997) + ".example";
  long rss0 = proc_status_kib(hush.pid(), "VmRSS:"), hwm0 = proc_status_kib(hush.pid(), "VmHWM:");

  auto t0 = std::chrono::steady_clock::now();
  auto add = run({HUSH_BINARY, "lists", "add", srv.url("/gen/" + std::to_string(n)), "--name", "gen",
                  "--data-dir", data.str()},
                 300s);
  auto t1 = std::chrono::steady_clock::now();
  INFO(add.out);
  REQUIRE(add.code == 0);
  bool blocked = false;
  long hwm_peak = 0;
  while (!blocked && std::chrono::steady_clock::now() - t1 < 120s) {
    auto a = query_a(port, last, 500ms);
    blocked = a.ok && a.a.size() == 1 && a.a[0] == "0.0.0.0";
    hwm_peak = std::max(hwm_peak, proc_status_kib(hush.pid(), "VmHWM:"));
    if (!blocked) std::this_thread::sleep_for(20ms);
  }
  auto t2 = std::chrono::steady_clock::now();
  REQUIRE(blocked);
  long rss1 = proc_status_kib(hush.pid(), "VmRSS:"), hwm1 = proc_status_kib(hush.pid(), "VmHWM:");
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::cout << "entries " << n << "\n"
            << "hush lists add (download + validate + write): " << ms(t1 - t0) << " ms\n"
            << "then until the running server blocks the last name: " << ms(t2 - t1) << " ms\n"
            << "total add -> blocking: " << ms(t2 - t0) << " ms\n"
            << "server VmRSS before " << rss0 << " KiB, after " << rss1 << " KiB\n"
            << "server VmHWM before " << hwm0 << " KiB, after " << hwm1 << " KiB\n"
            << add.out << read_file(log);

  // The server's own update of the same list (scheduled path): a new version
  // with one more name, noticed and swapped by the running server.
  auto before_hwm = proc_status_kib(hush.pid(), "VmHWM:");
  auto t3 = std::chrono::steady_clock::now();
  auto upd = run({HUSH_BINARY, "lists", "update", "gen", "--data-dir", data.str()}, 300s);
  std::cout << "hush lists update (unchanged, ETag): " << ms(std::chrono::steady_clock::now() - t3) << " ms: "
            << upd.out;
  std::cout << "VmHWM after " << before_hwm << " KiB\n";
  hush.stop();
}

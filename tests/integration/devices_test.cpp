// Device names from reverse lookups: a second unbound plays the router and
// knows a PTR name for 127.0.0.2; hush is pointed at it with devices.router.
#include <catch2/catch.hpp>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

TEST_CASE("a client's name comes from a reverse lookup at the router") {
  TempDir router_dir("hush-it-router-");
  Unbound router(router_dir.path(), "  local-data-ptr: \"127.0.0.2 laptop.lan\"\n");
  HushOptions o;
  o.extra_config = "[devices]\nrouter = \"" + router.endpoint().str() +
                   "\"\nhosts_file = \"\"\ndnsmasq_leases = \"\"\nisc_leases = \"\"\n";
  Env env(o);
  const std::string data_dir = env.hush.data_dir().string();

  // The name reaches the device with its next query logged after the lookup:
  // ask from 127.0.0.2 until `hush clients` shows it (bounded).
  std::string clients;
  bool named = wait_until(
      [&] {
        udp_query(env.ep(), "www.test.", rr::A, {}, 3000ms, "127.0.0.2");
        udp_query(env.ep(), "www.test.", rr::A, {}, 3000ms, "127.0.0.3");
        clients = run_command({hush_binary(), "clients", "--data-dir", data_dir}, 5s).out;
        return clients.find("laptop.lan") != std::string::npos;
      },
      30s, 300ms);
  INFO(clients << env.logs() << router.log());
  REQUIRE(named);
  // The name is on 127.0.0.2's line; 127.0.0.3, which the router has no name
  // for, is still shown by its address.
  std::string line = clients.substr(clients.find("laptop.lan"));
  line = line.substr(0, line.find('\n'));
  CHECK(line.find("127.0.0.2") != std::string::npos);
  CHECK(clients.find("127.0.0.3 ") != std::string::npos);

  // The lookups went to the router directly: hush logged none of them.
  auto log = run_command({hush_binary(), "log", "search", "--domain", "in-addr.arpa", "--data-dir", data_dir}, 5s);
  CHECK(log.exit_code() == 0);
  CHECK(log.out.find("in-addr.arpa") == std::string::npos);
  auto www = run_command({hush_binary(), "log", "search", "--domain", "www.test", "--data-dir", data_dir}, 5s);
  CHECK(www.out.find("www.test") != std::string::npos);
}

// Listening on IPv6 loopback ([::1]:port) as well as 127.0.0.1.
#include <catch2/catch.hpp>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

TEST_CASE("IPv6 loopback listener answers over UDP and TCP", "[integration][ipv6]") {
  // This machine must have ::1; if not, fail loudly (no silent skip).
  auto ip = run_command({"ip", "-6", "addr", "show", "dev", "lo"}, 5s);
  INFO("ip -6 addr show dev lo:\n" << ip.out << ip.err);
  REQUIRE(ip.exit_code() == 0);
  REQUIRE(ip.out.find("inet6 ::1/128") != std::string::npos);

  HushOptions o;
  o.listen_ipv6 = true;
  Env env(o);
  const Endpoint v6 = env.hush.v6();
  REQUIRE(v6.host == "::1");

  auto u = udp_query(v6, "www.test.", rr::AAAA);
  INFO("UDP over ::1: " << u.summary());
  CHECK(u.rcode() == rcode::NOERROR);
  CHECK(u.texts(rr::AAAA) == std::vector<std::string>{zone::kWwwAAAA});

  auto t = tcp_query(v6, "a.test.", rr::A);
  INFO("TCP over ::1: " << t.summary());
  CHECK(t.texts(rr::A) == std::vector<std::string>{zone::kChainA});

  auto d = dig(v6, {"-6", "test.", "MX", "+short"});
  INFO("dig -6: " << d.out << d.err);
  CHECK(lines(d.out) == std::vector<std::string>{"10 mail.test."});

  // Big answers and EDNS behave the same on the IPv6 listener.
  auto b = udp_query(v6, "big.test.", rr::TXT);
  CHECK(b.tc);
  auto v4 = udp_query(env.hush.v4(), "www.test.", rr::A);
  CHECK(v4.texts(rr::A) == std::vector<std::string>{zone::kWwwA});
}

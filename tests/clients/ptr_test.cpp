#include <catch2/catch.hpp>

#include <vector>

#include "clients/ptr.hpp"
#include "dns/wire.hpp"
#include "ptr_reply.hpp"

using namespace hush;
using namespace hush::clients::ptr;

namespace {
std::vector<uint8_t> query_for(uint16_t id, const std::string& ip) {
  std::vector<uint8_t> q(512);
  size_t n = write_query(id, ip, q.data(), q.size());
  REQUIRE(n > 0);
  q.resize(n);
  return q;
}
}  // namespace

TEST_CASE("reverse names") {
  CHECK(reverse_name("192.0.2.7") == "7.2.0.192.in-addr.arpa");
  CHECK(reverse_name("2001:db8::1") ==
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  CHECK(reverse_name("not an ip").empty());
}

TEST_CASE("a PTR query asks for the reverse name, type PTR, with RD") {
  auto q = query_for(0x1234, "192.168.1.20");
  dns::Header h = dns::read_header(q.data());
  CHECK(h.id == 0x1234);
  CHECK(h.flags == dns::flag::RD);
  CHECK(h.qdcount == 1);
  std::string name;
  REQUIRE(dns::read_name(q.data(), q.size(), dns::kHeaderSize, name));
  CHECK(name == "20.1.168.192.in-addr.arpa");
  size_t end = dns::question_end(q.data(), q.size());
  REQUIRE(end == q.size());
  CHECK(dns::get16(q.data() + end - 4) == dns::type::PTR);
  uint8_t tiny[20];
  CHECK(write_query(1, "192.168.1.20", tiny, sizeof tiny) == 0);
}

TEST_CASE("reading the router's PTR answer") {
  auto q = query_for(77, "192.168.1.20");
  std::string name;
  auto good = test::ptr_reply(q, "Annas-Phone.lan");
  CHECK(read_answer(good.data(), good.size(), 77, "192.168.1.20", name));
  CHECK(name == "annas-phone.lan");

  name.clear();
  CHECK_FALSE(read_answer(good.data(), good.size(), 78, "192.168.1.20", name));  // wrong id
  CHECK_FALSE(read_answer(good.data(), good.size(), 77, "192.168.1.21", name));  // other question
  auto nx = test::ptr_reply(q, "", dns::rcode::NxDomain);
  CHECK_FALSE(read_answer(nx.data(), nx.size(), 77, "192.168.1.20", name));
  auto cut = good;
  cut.resize(cut.size() - 3);
  CHECK_FALSE(read_answer(cut.data(), cut.size(), 77, "192.168.1.20", name));
  CHECK(name.empty());
}

TEST_CASE("each address is asked once per retry period") {
  PtrCache cache(3600);
  std::vector<std::string> ips = {"192.168.1.5", "192.168.1.6"};
  CHECK(cache.due(ips, 1000) == ips);
  CHECK(cache.due(ips, 1000 + 3599).empty());
  CHECK(cache.due({"192.168.1.7"}, 2000) == std::vector<std::string>{"192.168.1.7"});
  CHECK(cache.due(ips, 1000 + 3600) == ips);
  cache.answered("192.168.1.5", "printer.lan");
  CHECK(cache.names().at("192.168.1.5") == "printer.lan");
}

#include <catch2/catch.hpp>

#include <vector>

#include "clients/ptr.hpp"
#include "dns/wire.hpp"

using namespace hush;
using namespace hush::clients::ptr;

namespace {
// The query with the answer appended: a PTR record whose owner is a
// compression pointer to the question name.
std::vector<uint8_t> reply_to(const std::vector<uint8_t>& query, const std::string& target, uint8_t rcode = 0) {
  std::vector<uint8_t> r = query;
  dns::put16(r.data() + 2, dns::flag::QR | dns::flag::RD | dns::flag::RA | rcode);
  if (rcode != 0) return r;
  dns::put16(r.data() + 6, 1);
  const uint8_t rr[] = {0xc0, 12, 0, 12, 0, 1, 0, 0, 0x0e, 0x10};
  r.insert(r.end(), rr, rr + sizeof rr);
  std::vector<uint8_t> name;
  size_t start = 0;
  while (start < target.size()) {
    size_t dot = target.find('.', start);
    if (dot == std::string::npos) dot = target.size();
    name.push_back(uint8_t(dot - start));
    name.insert(name.end(), target.begin() + long(start), target.begin() + long(dot));
    start = dot + 1;
  }
  name.push_back(0);
  r.push_back(uint8_t(name.size() >> 8));
  r.push_back(uint8_t(name.size()));
  r.insert(r.end(), name.begin(), name.end());
  return r;
}

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
  auto good = reply_to(q, "Annas-Phone.lan");
  CHECK(read_answer(good.data(), good.size(), 77, "192.168.1.20", name));
  CHECK(name == "annas-phone.lan");

  name.clear();
  CHECK_FALSE(read_answer(good.data(), good.size(), 78, "192.168.1.20", name));  // wrong id
  CHECK_FALSE(read_answer(good.data(), good.size(), 77, "192.168.1.21", name));  // other question
  auto nx = reply_to(q, "", dns::rcode::NxDomain);
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

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "local/load.hpp"
#include "local/zone.hpp"

using namespace hush::local;

namespace {
const std::string kData = std::string(HUSH_SOURCE_DIR) + "/tests/data/local/";
std::vector<std::string> types(const Zone::Lookup& l) {
  std::vector<std::string> out;
  for (const auto& h : l.answer) out.push_back(std::to_string(h.record->type));
  return out;
}
}  // namespace

TEST_CASE("records in zone-file syntax, with single labels under the local domain") {
  Zone z("lan", 300);
  CHECK(z.add("nas.lan A 192.168.1.10") == "");
  CHECK(z.add("printer 60 IN A 192.168.1.20") == "");
  CHECK(z.add("www.lan CNAME nas.lan.") == "");
  CHECK(z.add("*.lab.lan A 192.168.1.50") == "");
  CHECK(z.add("txt.lan TXT \"hello world\"") == "");
  CHECK(z.add("_http._tcp.lan SRV 0 0 80 nas.lan.") == "");
  CHECK(z.add("nas.lan A not-an-address") != "");
  CHECK(z.add("justonetoken") != "");

  auto a = z.find("printer.lan", 1);
  REQUIRE(a.kind == Zone::Kind::Answer);
  CHECK(a.answer.at(0).record->ttl == 60);

  auto chain = z.find("www.lan", 1);
  REQUIRE(chain.kind == Zone::Kind::Answer);
  CHECK(types(chain) == std::vector<std::string>{"5", "1"});
  CHECK(chain.answer[1].owner == "nas.lan");

  CHECK(z.find("deep.x.lab.lan", 1).kind == Zone::Kind::Answer);
  CHECK(z.find("nas.lan", 16).kind == Zone::Kind::NoData);
  CHECK(z.find("missing.lan", 1).kind == Zone::Kind::NxDomain);
  CHECK(z.find("missing.lan", 1).apex == "lan");
  CHECK(z.find("nas", 1).kind == Zone::Kind::Answer);  // unqualified
  CHECK(z.find("example.com", 1).kind == Zone::Kind::NotLocal);
  CHECK(z.find("_http._tcp.lan", 33).kind == Zone::Kind::Answer);
}

TEST_CASE("covers() is false for internet names and true for everything local") {
  Zone z("lan", 300);
  REQUIRE(z.add("nas.home.example A 192.168.1.10") == "");
  REQUIRE(z.add("*.dev.example A 192.168.1.11") == "");
  CHECK_FALSE(z.covers("www.example.com"));
  CHECK_FALSE(z.covers(""));
  CHECK(z.covers("anything.lan"));
  CHECK(z.covers("nas"));
  CHECK(z.covers("nas.home.example"));
  CHECK(z.covers("a.dev.example"));
  CHECK(z.covers("10.1.168.192.in-addr.arpa"));
}

TEST_CASE("PTR records are made for A and AAAA records") {
  Zone z("lan", 300);
  REQUIRE(z.add("nas.lan A 192.168.1.10") == "");
  REQUIRE(z.add("nas.lan AAAA fd00::10") == "");
  REQUIRE(z.add("10.1.168.192.in-addr.arpa. PTR custom.lan.") == "");
  z.add_reverse_records();
  auto v4 = z.find("10.1.168.192.in-addr.arpa", 12);
  REQUIRE(v4.kind == Zone::Kind::Answer);
  CHECK(v4.answer.size() == 1);  // the explicit PTR is kept, not doubled
  auto v6 = z.find("0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", 12);
  CHECK(v6.kind == Zone::Kind::Answer);
}

TEST_CASE("private reverse zones are local even without records (RFC 6303)") {
  Zone z("lan", 300);
  struct Case {
    const char* name;
    bool local;
  };
  for (const Case& c : {Case{"1.1.168.192.in-addr.arpa", true}, Case{"5.0.16.172.in-addr.arpa", true},
                        Case{"5.0.31.172.in-addr.arpa", true}, Case{"5.0.32.172.in-addr.arpa", false},
                        Case{"8.8.8.8.in-addr.arpa", false}, Case{"1.2.3.10.in-addr.arpa", true},
                        Case{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa", true},
                        Case{"a.b.d.f.ip6.arpa", true}, Case{"a.b.8.e.f.ip6.arpa", true},
                        Case{"a.b.0.2.ip6.arpa", false}}) {
    INFO(c.name);
    CHECK((z.find(c.name, 12).kind == Zone::Kind::NxDomain) == c.local);
  }
}

TEST_CASE("a zone file with an error names the line and loads the rest") {
  Zone z("lan", 300);
  std::vector<LoadError> errors;
  size_t added = z.import_zone_file(kData + "home.zone", errors);
  CHECK(added == 6);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].line == 9);
  CHECK(errors[0].describe().find("home.zone:9:") != std::string::npos);
  CHECK(z.find("nas.home.arpa", 28).kind == Zone::Kind::Answer);
  CHECK(z.find("www.home.arpa", 1).answer.size() == 2);
  CHECK(z.find("missing.home.arpa", 1).kind == Zone::Kind::NxDomain);
  CHECK(z.find("missing.home.arpa", 1).apex == "home.arpa");
  CHECK(z.find("nas.home.arpa", 1).answer.at(0).record->ttl == 600);
}

TEST_CASE("hosts files import names and report bad lines") {
  Zone z("lan", 300);
  std::vector<LoadError> errors;
  std::ifstream in(kData + "hosts");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  CHECK(z.import_hosts(text, "hosts", errors) == 2);
  CHECK(errors.size() == 2);
  CHECK(errors[0].line == 5);
  CHECK(errors[1].line == 6);
  CHECK(z.find("tv", 1).kind == Zone::Kind::Answer);
  CHECK(z.find("tv-alias.lan", 1).kind == Zone::Kind::Answer);
  CHECK(z.find("localhost", 1).kind == Zone::Kind::NxDomain);
}

TEST_CASE("the records file is edited safely") {
  auto dir = std::filesystem::temp_directory_path() / "hush-local-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  Settings s;
  s.records_file = (dir / "local.records").string();
  CHECK(add_record(s, "nas.lan A 192.168.1.10") == "");
  CHECK(add_record(s, "nas.lan A 192.168.1.10") == "already there");
  CHECK(add_record(s, "nas.lan AAAA fd00::10") == "");
  CHECK(add_record(s, "bad.lan A 1.2.3") != "");
  CHECK(read_records_file(s.records_file).size() == 2);
  size_t removed = 0;
  CHECK(remove_records(s, "nas.lan", "AAAA", &removed) == "");
  CHECK(removed == 1);
  CHECK(remove_records(s, "nas", "", &removed) == "");
  CHECK(removed == 1);
  CHECK(remove_records(s, "nas", "", &removed) != "");
  std::vector<LoadError> errors;
  CHECK(load(s, errors)->zone.size() == 0);
}

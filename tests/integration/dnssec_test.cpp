// DNSSEC validation (dnssec.validate) against zones this test signs with
// ldns-keygen and ldns-signzone and unbound serves on loopback, with a trust
// anchor file of their DS records instead of the root's:
//   signed.   a good zone, with one changed signature (tampered.signed.), an
//             unsigned delegation (plain.signed., served by unbound's
//             local-data) and an unsigned name unbound adds (unsigned.signed.)
//   expired.  signed for January 2020 only
//   nokey.    signed with a key other than the one its trust anchor names
//   hashed.   signed with NSEC3, with an unsigned delegation (plain.hashed.)
#include <catch2/catch.hpp>

#include <signal.h>

#include <sstream>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

std::string sh(const std::string& command) {
  CommandResult r = run_command({"sh", "-c", command}, 30s);
  if (r.exit_code() != 0) throw std::runtime_error(command + ": " + r.err);
  return r.out;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct SignedZones {
  TempDir dir{"hush-dnssec-"};
  fs::path anchors;
  std::string unbound_lines;

  std::string in_dir(const std::string& command) { return sh("cd '" + dir.path().string() + "' && " + command); }
  std::string keygen(const std::string& zone) {
    return trimmed(in_dir("ldns-keygen -a ECDSAP256SHA256 -k " + zone));
  }
  void zone(const std::string& name, const std::string& body, const std::string& key, const std::string& options = "") {
    write_file(dir.path() / (name + "zone"), "$ORIGIN " + name + "\n$TTL 300\n"
               "@ IN SOA ns." + name + " admin." + name + " 1 3600 600 86400 60\n"
               "@ IN NS ns." + name + "\nns IN A 127.0.0.1\n" + body);
    in_dir("ldns-signzone " + options + " " + name + "zone " + key);
    unbound_lines += "auth-zone:\n  name: \"" + name + "\"\n  zonefile: \"" +
                     (dir.path() / (name + "zone.signed")).string() +
                     "\"\n  for-downstream: yes\n  for-upstream: no\n  fallback-enabled: no\n";
  }

  SignedZones() {
    std::string good = keygen("signed."), old = keygen("expired."), used = keygen("nokey."),
                named = keygen("nokey."), hashed = keygen("hashed.");
    zone("signed.", "www IN A 192.0.2.10\ntampered IN A 192.0.2.11\nplain IN NS ns.plain\nns.plain IN A 127.0.0.1\n",
         good);
    tamper(dir.path() / "signed.zone.signed", "tampered.signed.");
    zone("expired.", "www IN A 192.0.2.20\n", old, "-i 20200101 -e 20200201");
    zone("nokey.", "www IN A 192.0.2.30\n", used);
    zone("hashed.", "www IN A 192.0.2.50\nplain IN NS ns.plain\nns.plain IN A 127.0.0.1\n", hashed,
         "-n -t 1 -s abcd");
    std::string text;
    for (const std::string& k : {good, old, named, hashed}) text += read_file(dir.path() / (k + ".ds"));
    anchors = dir.path() / "anchors.key";
    write_file(anchors, text);
    // Served before the auth-zones: the insecure child's data, and a name
    // the signed zone does not have, both without signatures.
    unbound_lines = "  local-data: \"www.plain.signed. 300 IN A 192.0.2.40\"\n"
                    "  local-data: \"www.plain.hashed. 300 IN A 192.0.2.51\"\n"
                    "  local-data: \"unsigned.signed. 300 IN A 192.0.2.41\"\n" + unbound_lines +
                    "server:\n";
  }

  // Changes one character of the signature over `owner`'s A record.
  static void tamper(const fs::path& file, const std::string& owner) {
    std::string text = read_file(file);
    size_t line = 0;
    for (;;) {
      line = text.find(owner, line);
      if (line == std::string::npos) throw std::runtime_error("no RRSIG of " + owner + " in " + file.string());
      size_t end = text.find('\n', line);
      std::string l = text.substr(line, end - line);
      if (l.find("RRSIG\tA ") != std::string::npos || l.find("RRSIG A ") != std::string::npos) {
        size_t at = end - 10;
        text[at] = text[at] == 'A' ? 'B' : 'A';
        break;
      }
      line = end;
    }
    write_file(file, text);
  }
};

HushOptions validating(const SignedZones& z) {
  HushOptions o;
  o.unbound_config = z.unbound_lines;
  o.extra_config = "[dnssec]\nvalidate = true\ntrust_anchor = \"" + z.anchors.string() + "\"\n";
  return o;
}

constexpr uint16_t kAd = 0x0020, kCd = 0x0010;

Message ask(const Endpoint& ep, const std::string& name, uint16_t type, bool do_bit, uint16_t flags = 0) {
  QueryOpts o;
  o.edns = true;
  o.do_bit = do_bit;
  Bytes q = make_query(name, type, o);
  q[2] = uint8_t(q[2] | flags >> 8);
  q[3] = uint8_t(q[3] | (flags & 0xFF));
  std::optional<Bytes> r = udp_exchange(ep, q, 8000ms);
  if (!r) throw std::runtime_error("no answer for " + name);
  return parse_message(*r);
}


size_t count(const std::vector<Record>& rrs, uint16_t type) {
  size_t n = 0;
  for (const Record& r : rrs) n += r.type == type;
  return n;
}

constexpr uint16_t kRrsig = 46, kNsec = 47;

}  // namespace

TEST_CASE("dnssec: a signed answer gets AD, from upstream and from the cache", "[integration][dnssec]") {
  SignedZones z;
  Env env(validating(z));
  for (int round = 0; round < 2; ++round) {
    Message m = ask(env.ep(), "www.signed.", rr::A, true);
    INFO("round " << round << ": " << m.summary() << "\n" << env.logs());
    CHECK(m.rcode() == rcode::NOERROR);
    CHECK(m.texts(rr::A) == std::vector<std::string>{"192.0.2.10"});
    CHECK(m.ad);
    CHECK(count(m.answer, kRrsig) == 1);
  }
  // RFC 6840 5.8: no AD for a client that asked with neither DO nor AD, and
  // no signatures for a client without DO.
  Message plain = ask(env.ep(), "www.signed.", rr::A, false);
  INFO(plain.summary());
  CHECK(plain.texts(rr::A) == std::vector<std::string>{"192.0.2.10"});
  CHECK_FALSE(plain.ad);
  CHECK(count(plain.answer, kRrsig) == 0);
  CHECK(ask(env.ep(), "www.signed.", rr::A, false, kAd).ad);
}

TEST_CASE("dnssec: bogus answers are SERVFAIL with the reason as an extended error", "[integration][dnssec]") {
  SignedZones z;
  Env env(validating(z));
  struct Case {
    const char* name;
    int ede;
    const char* text;
  };
  for (const Case& c : {Case{"tampered.signed.", 6, "tampered.signed."}, Case{"www.expired.", 7, "expired"},
                        Case{"www.nokey.", 9, "DNSKEY missing"}, Case{"unsigned.signed.", 10, "RRSIGs missing"}}) {
    for (bool do_bit : {true, false}) {
      Message m = ask(env.ep(), c.name, rr::A, do_bit);
      const Ede e = ede_of(m);
      const int code = e.code;
      const std::string& text = e.text;
      INFO(c.name << " DO=" << do_bit << ": " << m.summary() << " EDE " << code << " " << text << "\n" << env.logs());
      CHECK(m.rcode() == rcode::SERVFAIL);
      CHECK(m.answer.empty());
      CHECK(code == c.ede);
      CHECK(text.find(c.text) != std::string::npos);
    }
  }
  // CD: the client validates for itself and gets the data, without AD.
  Message cd = ask(env.ep(), "tampered.signed.", rr::A, true, kCd);
  INFO(cd.summary());
  CHECK(cd.rcode() == rcode::NOERROR);
  CHECK(cd.texts(rr::A) == std::vector<std::string>{"192.0.2.11"});
  CHECK_FALSE(cd.ad);
  // ...which is not handed to clients that did not set CD.
  CHECK(ask(env.ep(), "tampered.signed.", rr::A, true).rcode() == rcode::SERVFAIL);
}

TEST_CASE("dnssec: an unsigned delegation passes without AD; a proven NXDOMAIN gets AD", "[integration][dnssec]") {
  SignedZones z;
  Env env(validating(z));
  Message insecure = ask(env.ep(), "www.plain.signed.", rr::A, true);
  INFO(insecure.summary() << "\n" << env.logs());
  CHECK(insecure.rcode() == rcode::NOERROR);
  CHECK(insecure.texts(rr::A) == std::vector<std::string>{"192.0.2.40"});
  CHECK_FALSE(insecure.ad);

  Message nx = ask(env.ep(), "nope.signed.", rr::A, true);
  INFO(nx.summary());
  CHECK(nx.rcode() == rcode::NXDOMAIN);
  CHECK(nx.ad);
  CHECK(count(nx.authority, kNsec) >= 1);

  // Names no trust anchor covers are answered as before, without AD.
  Message outside = ask(env.ep(), "www.test.", rr::A, true);
  CHECK(outside.texts(rr::A) == std::vector<std::string>{zone::kWwwA});
  CHECK_FALSE(outside.ad);
}

TEST_CASE("dnssec: a blocked name is answered before validation", "[integration][dnssec]") {
  SignedZones z;
  HushOptions o = validating(z);
  o.extra_args = {"--deny", "tampered.signed"};
  Env env(o);
  Message m = ask(env.ep(), "tampered.signed.", rr::A, true);
  INFO(m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK(m.texts(rr::A) == std::vector<std::string>{"0.0.0.0"});
  CHECK(ede_of(m).code == 15);
}

TEST_CASE("dnssec: NSEC3 proofs, for NXDOMAIN and for an unsigned delegation", "[integration][dnssec]") {
  SignedZones z;
  Env env(validating(z));
  Message www = ask(env.ep(), "www.hashed.", rr::A, true);
  INFO(www.summary() << "\n" << env.logs());
  CHECK(www.texts(rr::A) == std::vector<std::string>{"192.0.2.50"});
  CHECK(www.ad);

  Message nx = ask(env.ep(), "nope.hashed.", rr::A, true);
  INFO(nx.summary());
  CHECK(nx.rcode() == rcode::NXDOMAIN);
  CHECK(nx.ad);
  CHECK(count(nx.authority, 50) >= 1);  // NSEC3

  Message nodata = ask(env.ep(), "www.hashed.", rr::TXT, true);
  INFO(nodata.summary());
  CHECK(nodata.rcode() == rcode::NOERROR);
  CHECK(nodata.answer.empty());
  CHECK(nodata.ad);

  Message insecure = ask(env.ep(), "www.plain.hashed.", rr::A, true);
  INFO(insecure.summary());
  CHECK(insecure.texts(rr::A) == std::vector<std::string>{"192.0.2.51"});
  CHECK_FALSE(insecure.ad);
}

TEST_CASE("dnssec: the trust anchor file is read again on SIGHUP", "[integration][dnssec]") {
  SignedZones z;
  const std::string all = read_file(z.anchors);
  std::istringstream in(all);
  std::string line, without_signed;
  while (std::getline(in, line))
    if (line.rfind("signed.", 0) != 0) without_signed += line + "\n";
  REQUIRE(without_signed.size() < all.size());
  write_file(z.anchors, without_signed);
  Env env(validating(z));

  // No anchor covers signed.: its answers pass unchecked, without AD.
  Message before = ask(env.ep(), "www.signed.", rr::A, true);
  INFO(before.summary());
  CHECK(before.rcode() == rcode::NOERROR);
  CHECK_FALSE(before.ad);

  write_file(z.anchors, all);
  REQUIRE(kill(env.hush.pid(), SIGHUP) == 0);
  REQUIRE(wait_until([&] { return env.hush.log().find("read again") != std::string::npos; }, 5000ms));
  Message bogus = ask(env.ep(), "tampered.signed.", rr::A, true);
  INFO(bogus.summary() << "\n" << env.logs());
  CHECK(bogus.rcode() == rcode::SERVFAIL);
  CHECK(ede_of(bogus).code == 6);
  CHECK(ask(env.ep(), "nope.signed.", rr::A, true).ad);
}

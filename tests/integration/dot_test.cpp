// DNS over TLS for the devices (RFC 7858): kdig verifies hush's certificate
// and gets the same answers as over UDP, a renewed certificate is taken
// without a restart, and connections that never finish a handshake (or speak
// something else) lose their slot.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

constexpr const char* kServerName = "dns.example.test";

void make_certificate(const fs::path& dir, const std::string& cn) {
  hush_it::make_certificate(dir, cn, kServerName);
}

struct DotEnv {
  TempDir certs{"hush-dot-"};
  uint16_t port = 0;
  std::unique_ptr<Env> env;

  DotEnv() {
    make_certificate(certs.path(), "first.example.test");
    port = pick_free_port();
    HushOptions o;
    o.tcp_idle_timeout_ms = 700;
    o.extra_config = "[dot]\nlisten = [\"127.0.0.1:" + std::to_string(port) + "\"]\n[tls]\ncert = \"" +
                     (certs.path() / "cert.pem").string() + "\"\nkey = \"" + (certs.path() / "key.pem").string() +
                     "\"\nserver_name = \"" + kServerName +
                     "\"\n[blocking]\ndeny = [\"ads.test\", { pattern = \"games.test\", groups = [\"kids\"] }]\n"
                     "[[clients]]\naddress = \"id:tablet-mia\"\ngroups = [\"kids\"]\n";
    env = std::make_unique<Env>(o);
  }
  Endpoint dot() const { return {"127.0.0.1", port}; }
  CommandResult ask(const std::vector<std::string>& args, const std::string& sni = kServerName) {
    std::vector<std::string> a{"+tls-ca=" + (certs.path() / "cert.pem").string(), std::string("+tls-hostname=") + kServerName,
                               "+tls-sni=" + sni};
    a.insert(a.end(), args.begin(), args.end());
    return kdig(dot(), a);
  }
  // The subject of the certificate hush presents now.
  std::string presented_subject() {
    auto r = run_command({"sh", "-c",
                          "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -servername " +
                              kServerName + " </dev/null 2>/dev/null | openssl x509 -noout -subject"},
                         10s);
    return r.out;
  }
};

}  // namespace

TEST_CASE("DNS over TLS: verified answers as over UDP, blocking, pipelining, a renewal taken live",
          "[integration][dot]") {
  DotEnv d;
  auto& hush = d.env->hush;

  auto www = d.ask({"www.test", "A"});
  INFO("stdout: " << www.out << "\nstderr: " << www.err << "\n" << d.env->logs());
  REQUIRE(www.exit_code() == 0);
  CHECK(www.out.find("TLS session") != std::string::npos);
  CHECK(www.out.find("status: NOERROR") != std::string::npos);
  CHECK(www.out.find(zone::kWwwA) != std::string::npos);

  // The sinkhole answer, the same as over UDP.
  auto ads = d.ask({"ads.test", "A"});
  CHECK(ads.out.find("0.0.0.0") != std::string::npos);
  auto udp = udp_query(d.env->ep(), "ads.test.", rr::A);
  CHECK(udp.texts(rr::A) == std::vector<std::string>{"0.0.0.0"});

  // Several questions on one connection (+keepopen), each answered.
  auto many = d.ask({"+keepopen", "www.test", "A", "www.test", "AAAA", "a.test", "A", "ads.test", "AAAA"});
  CHECK(many.out.find(zone::kWwwAAAA) != std::string::npos);
  CHECK(many.out.find(zone::kChainA) != std::string::npos);
  CHECK(many.out.find("::") != std::string::npos);

  // dnsperf -m dot: four kept-open connections, every question answered.
  write_file(d.certs.path() / "perf.txt", "www.test A\nads.test A\nwww.test AAAA\n");
  auto perf = run_command({"dnsperf", "-m", "dot", "-s", "127.0.0.1", "-p", std::to_string(d.port), "-d",
                           (d.certs.path() / "perf.txt").string(), "-n", "100", "-c", "4", "-t", "5"},
                          60s);
  INFO(perf.out << perf.err);
  CHECK(perf.out.find("Queries completed:    300 (100.00%)") != std::string::npos);

  // A certificate for another name fails kdig's check: the name is verified.
  auto wrong = kdig(d.dot(), {"+tls-ca=" + (d.certs.path() / "cert.pem").string(), "+tls-hostname=other.example.test",
                              "www.test", "A"});
  CHECK(wrong.out.find(zone::kWwwA) == std::string::npos);

  // The query log knows these came over TLS.
  REQUIRE(wait_until(
      [&] {
        auto r = run_command({hush_binary(), "log", "search", "--domain", "www.test", "--data-dir",
                              hush.data_dir().string()},
                             5s);
        return r.out.find(" dot ") != std::string::npos;
      },
      10s, 200ms));

  // A device that names itself in the SNI is that device in the log,
  // whatever its address.
  auto named = d.ask({"ids.test", "A"}, std::string("phone-anna.") + kServerName);
  CHECK(named.out.find("TLS session") != std::string::npos);
  REQUIRE(wait_until(
      [&] {
        auto r = run_command({hush_binary(), "log", "search", "--client", "phone-anna", "--data-dir",
                              hush.data_dir().string()},
                             5s);
        return r.out.find("ids.test") != std::string::npos;
      },
      10s, 200ms));
  auto others = run_command({hush_binary(), "log", "search", "--client", "phone-anna", "--domain", "www.test",
                             "--data-dir", hush.data_dir().string()},
                            5s);
  CHECK(others.out.find("www.test") == std::string::npos);

  // A group given to a client ID follows the device, not its address: the
  // tablet is in "kids" from the same 127.0.0.1 as everyone else.
  CHECK(d.ask({"games.test", "A"}, std::string("tablet-mia.") + kServerName).out.find("0.0.0.0") !=
        std::string::npos);
  CHECK(d.ask({"games.test", "A"}, std::string("phone-anna.") + kServerName).out.find("0.0.0.0") ==
        std::string::npos);
  CHECK(udp_query(d.env->ep(), "games.test.", rr::A).texts(rr::A) != std::vector<std::string>{"0.0.0.0"});

  // A renewal (new files renamed into place) is served without a restart.
  CHECK(d.presented_subject().find("first.example.test") != std::string::npos);
  make_certificate(d.certs.path(), "second.example.test");
  CHECK(wait_until([&] { return d.presented_subject().find("second.example.test") != std::string::npos; }, 15s,
                   300ms));
  CHECK(hush.log().find("certificate read again") != std::string::npos);
  CHECK(d.ask({"www.test", "A"}).out.find(zone::kWwwA) != std::string::npos);

  // A broken file keeps the certificate in use, with the file named.
  write_file(d.certs.path() / "cert.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n");
  CHECK(wait_until([&] { return hush.log().find("the certificate in use stays") != std::string::npos; }, 15s,
                   200ms));
  CHECK(hush.log().find((d.certs.path() / "cert.pem").string()) != std::string::npos);
  CHECK(d.presented_subject().find("second.example.test") != std::string::npos);
  CHECK(hush.running());
}

TEST_CASE("DNS over TLS: silent and non-TLS connections lose their slot", "[integration][dot]") {
  DotEnv d;
  // Never says hello: closed at the idle timeout (700 ms here).
  TcpClient silent(d.dot());
  REQUIRE(silent.connected());
  auto t0 = Clock::now();
  CHECK(silent.wait_closed(5000ms));
  CHECK(elapsed_since(t0) < 4000ms);

  // Plain DNS on the TLS port: not a handshake, closed at once.
  TcpClient plain(d.dot());
  REQUIRE(plain.connected());
  REQUIRE(plain.send_framed(make_query("www.test.", rr::A)));
  CHECK(plain.wait_closed(3000ms));
  CHECK_FALSE(plain.read_framed(100ms));

  // Others are still served.
  CHECK(d.ask({"www.test", "A"}).out.find(zone::kWwwA) != std::string::npos);
  CHECK(d.env->hush.running());
}

#include "tls/server_context.hpp"

#include <netinet/in.h>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "support/temp_dir.hpp"

using hush::tls::client_id_from_sni;
using hush::tls::ServerContext;

namespace {
// A self-signed pair made with Debian's openssl, as a user's would be.
void make_pair(const std::filesystem::path& dir, const std::string& stem) {
  const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "
                          "/CN=dns.example.test -keyout " + (dir / (stem + ".key")).string() + " -out " +
                          (dir / (stem + ".pem")).string() + " 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
}
}  // namespace

TEST_CASE("a client ID is the first label under the server name, and only a valid one") {
  CHECK(client_id_from_sni("phone-anna.dns.example.net", "dns.example.net") == "phone-anna");
  CHECK(client_id_from_sni("Phone-Anna.DNS.example.net", "dns.example.net") == "phone-anna");
  CHECK(client_id_from_sni("dns.example.net", "dns.example.net").empty());
  CHECK(client_id_from_sni("a.b.dns.example.net", "dns.example.net").empty());  // two labels
  CHECK(client_id_from_sni("phone.xdns.example.net", "dns.example.net").empty());
  CHECK(client_id_from_sni("phone_1.dns.example.net", "dns.example.net").empty());
  CHECK(client_id_from_sni(std::string(64, 'a') + ".dns.example.net", "dns.example.net").empty());
  CHECK(client_id_from_sni("phone.dns.example.net", "").empty());
  CHECK(client_id_from_sni("", "dns.example.net").empty());
}

TEST_CASE("a certificate pair loads, reloads only when changed, and a bad one names its file and keeps the old") {
  hush::test::TempDir dir("hush-tls");
  make_pair(dir.path, "a");
  make_pair(dir.path, "b");
  const std::string cert = (dir.path / "a.pem").string(), key = (dir.path / "a.key").string();
  ServerContext ctx;
  std::string error;
  REQUIRE(ctx.load(cert, key, error));
  auto first = ctx.current();
  REQUIRE(first);
  CHECK(ctx.subject().find("dns.example.test") != std::string::npos);
  CHECK(ctx.reload(false, error) == ServerContext::Reload::Unchanged);
  CHECK(ctx.current() == first);

  // b's key does not belong to a's certificate.
  std::filesystem::copy_file(dir.path / "b.key", key, std::filesystem::copy_options::overwrite_existing);
  CHECK(ctx.reload(false, error) == ServerContext::Reload::Failed);
  CHECK(error.find(key) != std::string::npos);
  CHECK(ctx.current() == first);

  std::filesystem::copy_file(dir.path / "b.pem", cert, std::filesystem::copy_options::overwrite_existing);
  CHECK(ctx.reload(false, error) == ServerContext::Reload::Reloaded);
  CHECK(ctx.current() != first);

  std::ofstream(cert) << "-----BEGIN CERTIFICATE-----\nnot base64\n";
  CHECK(ctx.reload(true, error) == ServerContext::Reload::Failed);
  CHECK(error.find(cert) != std::string::npos);
  CHECK(error.find("certificate") != std::string::npos);

  ServerContext missing;
  CHECK_FALSE(missing.load((dir.path / "none.pem").string(), key, error));
  CHECK(error.find("none.pem") != std::string::npos);
  CHECK_FALSE(missing.current());
}

TEST_CASE("hush check explains dot.listen without a usable certificate") {
  hush::test::TempDir dir("hush-tls");
  hush::Config cfg;
  cfg.upstream.servers = {"127.0.0.1:53"};
  cfg.dot.listen = {"127.0.0.1:853"};
  std::vector<std::string> errors;
  CHECK_FALSE(hush::resolve(cfg, errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("tls.cert and tls.key") != std::string::npos);

  errors.clear();
  cfg.tls.cert = (dir.path / "missing.pem").string();
  cfg.tls.key = (dir.path / "missing.key").string();
  CHECK_FALSE(hush::resolve(cfg, errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("missing.pem") != std::string::npos);

  errors.clear();
  make_pair(dir.path, "ok");
  cfg.tls.cert = (dir.path / "ok.pem").string();
  cfg.tls.key = (dir.path / "ok.key").string();
  cfg.tls.server_name = "not a name";
  cfg.dot.listen = {"127.0.0.1:99999"};
  CHECK_FALSE(hush::resolve(cfg, errors));
  CHECK(errors.size() == 2);  // the port and the server name

  errors.clear();
  cfg.tls.server_name = "dns.example.test";
  cfg.dot.listen = {"127.0.0.1"};
  CHECK(hush::resolve(cfg, errors));
  REQUIRE(cfg.dot_addrs.size() == 1);
}

TEST_CASE("hush check explains doh.listen and http.tls without a usable certificate") {
  hush::test::TempDir dir("hush-tls");
  hush::Config cfg;
  cfg.upstream.servers = {"127.0.0.1:53"};
  cfg.doh.listen = {"127.0.0.1"};
  std::vector<std::string> errors;
  CHECK_FALSE(hush::resolve(cfg, errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("doh.listen") != std::string::npos);
  CHECK(errors[0].find("DNS over HTTPS needs tls.cert and tls.key") != std::string::npos);

  errors.clear();
  cfg.doh.listen.clear();
  cfg.http.tls = true;
  CHECK_FALSE(hush::resolve(cfg, errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("http.tls") != std::string::npos);

  errors.clear();
  make_pair(dir.path, "ok");
  cfg.tls.cert = (dir.path / "ok.pem").string();
  cfg.tls.key = (dir.path / "ok.key").string();
  cfg.doh.listen = {"127.0.0.1", "[::1]:8443"};
  CHECK(hush::resolve(cfg, errors));
  REQUIRE(cfg.doh_addrs.size() == 2);
  CHECK(ntohs(reinterpret_cast<const sockaddr_in&>(cfg.doh_addrs[0]).sin_port) == 443);
}

#include "tls/server_context.hpp"

#include <openssl/bio.h>

#include <netinet/in.h>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "support/temp_dir.hpp"
#include "tls/wire_bio.hpp"

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

TEST_CASE("a session over the wire BIO reads all that came in, writes into the wire, and keeps no buffer") {
  hush::test::TempDir dir("hush-tls");
  make_pair(dir.path, "a");
  ServerContext ctx;
  std::string error;
  REQUIRE(ctx.load((dir.path / "a.pem").string(), (dir.path / "a.key").string(), error));
  SSL* server = SSL_new(ctx.current().get());
  hush::tls::Wire wire;
  BIO* bio = hush::tls::wire_bio(&wire);
  REQUIRE(bio);
  SSL_set_bio(server, bio, bio);
  SSL_set_accept_state(server);
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  SSL* client = SSL_new(client_ctx);
  SSL_set_bio(client, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  SSL_set_connect_state(client);

  // Moves the client's bytes to the server (who must read them all) and
  // the server's back; what the server read in the clear is returned.
  auto exchange = [&] {
    std::vector<uint8_t> in(65536);
    int n = BIO_read(SSL_get_wbio(client), in.data(), int(in.size()));
    std::string plain;
    wire.in = in.data();
    wire.in_len = n > 0 ? size_t(n) : 0;
    char buf[4096];
    for (int i = 0, got; i < 100 && (got = SSL_read(server, buf, sizeof buf)) > 0; ++i) plain.append(buf, size_t(got));
    CHECK(wire.in_len == 0);
    wire.in = nullptr;
    if (!wire.out.empty()) BIO_write(SSL_get_rbio(client), wire.out.data(), int(wire.out.size()));
    wire.out = {};
    return plain;
  };
  for (int i = 0; i < 10 && !(SSL_is_init_finished(client) && SSL_is_init_finished(server)); ++i) {
    SSL_do_handshake(client);
    exchange();
  }
  REQUIRE(SSL_is_init_finished(server));
  REQUIRE(SSL_write(client, "question", 8) == 8);
  CHECK(exchange() == "question");
  REQUIRE(SSL_write(server, "answer", 6) == 6);
  CHECK(BIO_ctrl_wpending(bio) == wire.out.size());
  CHECK(wire.out.size() >= 6 + 22);  // a TLS 1.3 record: 5 header, 1 type, 16 tag
  BIO_write(SSL_get_rbio(client), wire.out.data(), int(wire.out.size()));
  char buf[16];
  CHECK(SSL_read(client, buf, sizeof buf) == 6);
  CHECK(std::string(buf, 6) == "answer");
  SSL_free(client);
  SSL_CTX_free(client_ctx);
  SSL_free(server);
}

// The certificate and key hush serves DNS over TLS and over HTTPS with, read from PEM files
// and read again when they change, so a certbot or lego renewal needs no
// restart. Workers take the current context for each new connection;
// connections already open keep the one they started with.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

namespace hush::tls {

class ServerContext {
 public:
  // Reads the pair; false with `error` naming the file and what was wrong.
  bool load(const std::string& cert_path, const std::string& key_path, std::string& error);

  enum class Reload { Unchanged, Reloaded, Failed };
  // Reads the pair again when either file changed since it was last read
  // (or `force`). A pair that fails to load leaves the old one serving.
  Reload reload(bool force, std::string& error);

  // The context new connections use; empty before a successful load().
  std::shared_ptr<SSL_CTX> current() const { return ctx_.load(); }

  // Devices connecting as <id>.<server name> are known by <id>; set before
  // serving (empty: no client IDs).
  void set_server_name(std::string name) { server_name_ = std::move(name); }
  const std::string& server_name() const { return server_name_; }

  // The subject names of the certificate in use, for the log.
  const std::string& subject() const { return subject_; }

 private:
  struct Stamp {
    time_t mtime = 0;
    long mtime_ns = 0;
    off_t size = -1;
    bool operator==(const Stamp&) const = default;
  };
  static Stamp stamp(const std::string& path);

  std::string cert_path_, key_path_;
  Stamp cert_stamp_, key_stamp_;
  std::string subject_;
  std::string server_name_;
  std::atomic<std::shared_ptr<SSL_CTX>> ctx_;
};

// The first label of `sni` when it names a host under `server_name`
// ("phone-anna" for "phone-anna.dns.example.net" under "dns.example.net"),
// as AdGuard Home does, so a device keeps its identity across addresses.
// Empty when there is none, or it is not a valid client ID (1-63 of
// a-z, 0-9 and '-').
std::string client_id_from_sni(const std::string& sni, const std::string& server_name);

// `id` in lower case when it is a valid client ID (1-63 of a-z, 0-9 and
// '-', any letter case), else empty: the one rule for SNI and DoH path IDs.
std::string normalize_client_id(std::string_view id);

// Makes `ssl` (a DNS-over-HTTPS connection) offer h2 and http/1.1 by ALPN
// instead of DNS over TLS's "dot"; the context is shared by both. Without
// `http2` (the dashboard), http/1.1 only.
void offer_https(SSL* ssl, bool http2 = true);

}  // namespace hush::tls

#include "tls/server_context.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cctype>

#include "tls/errors.hpp"

namespace hush::tls {

namespace {
std::string openssl_error() { return error_text("unknown error"); }

// Mark a DNS-over-HTTPS (or dashboard) connection in its SSL app data, so
// one context serves every port and each offers its own protocols.
char https_marker, http1_marker;

// RFC 7858 section 3.2's ALPN on the DoT port, RFC 8484's HTTP/2 (or
// HTTP/1.1) on the DoH port, each chosen only when the client offers it.
int select_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void*) {
  static const unsigned char kDot[] = {3, 'd', 'o', 't'};
  static const unsigned char kHttps[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  const void* mark = SSL_get_app_data(ssl);
  const unsigned char* ours = mark == &https_marker ? kHttps : mark == &http1_marker ? kHttps + 3 : kDot;
  const unsigned ours_len = mark == &https_marker ? sizeof kHttps : mark == &http1_marker ? sizeof kHttps - 3 : sizeof kDot;
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, ours, ours_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

std::string subject_names(X509* cert) {
  std::string names;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    if (n->type != GEN_DNS) continue;
    if (!names.empty()) names += ", ";
    names.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                 size_t(ASN1_STRING_length(n->d.dNSName)));
  }
  GENERAL_NAMES_free(sans);
  if (names.empty()) {
    char buf[256];
    X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
    names = buf;
  }
  return names;
}
}  // namespace

ServerContext::Stamp ServerContext::stamp(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return {};
  return {st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_size};
}

bool ServerContext::load(const std::string& cert_path, const std::string& key_path, std::string& error) {
  cert_path_ = cert_path;
  key_path_ = key_path;
  return reload(true, error) != Reload::Failed;
}

ServerContext::Reload ServerContext::reload(bool force, std::string& error) {
  const Stamp cert = stamp(cert_path_), key = stamp(key_path_);
  if (!force && cert == cert_stamp_ && key == key_stamp_) return Reload::Unchanged;
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) {
    error = "cannot make a TLS context: " + openssl_error();
    return Reload::Failed;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Answers are written as they are ready; a partial write of a record is
  // completed by the memory BIO, never by moving the buffer.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, nullptr);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_path_.c_str()) != 1) {
    error = cert_path_ + ": not a usable PEM certificate chain (" + openssl_error() + ")";
    return Reload::Failed;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_path_.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = key_path_ + ": not a usable PEM private key (" + openssl_error() + ")";
    return Reload::Failed;
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    error = key_path_ + ": the key does not belong to the certificate in " + cert_path_;
    return Reload::Failed;
  }
  subject_ = subject_names(SSL_CTX_get0_certificate(ctx.get()));
  cert_stamp_ = cert;
  key_stamp_ = key;
  ctx_.store(std::move(ctx));
  return Reload::Reloaded;
}

std::string client_id_from_sni(const std::string& sni, const std::string& server_name) {
  if (server_name.empty() || sni.size() <= server_name.size() + 1) return {};
  const size_t dot = sni.size() - server_name.size() - 1;
  if (sni[dot] != '.') return {};
  for (size_t i = 0; i < server_name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(sni[dot + 1 + i])) !=
        std::tolower(static_cast<unsigned char>(server_name[i])))
      return {};
  return normalize_client_id(std::string_view(sni).substr(0, dot));
}

std::string normalize_client_id(std::string_view id) {
  if (id.empty() || id.size() > 63) return {};
  std::string out(id);
  for (char& ch : out) {
    ch = char(std::tolower(static_cast<unsigned char>(ch)));
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-') return {};
  }
  return out;
}

void offer_https(SSL* ssl, bool http2) { SSL_set_app_data(ssl, http2 ? &https_marker : &http1_marker); }

}  // namespace hush::tls

#include "web/totp.hpp"

#include <liboath/oath.h>
#include <qrencode.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include "base/random_hex.hpp"

namespace hush::web {

namespace {

constexpr unsigned kStep = 30;
constexpr unsigned kDigits = 6;
constexpr size_t kWindow = 1;

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] { oath_init(); });
}

std::string url_escape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string new_totp_secret() {
  std::string hex = random_hex(20);
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += char(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

std::string base32(const std::string& bytes) {
  init_once();
  char* out = nullptr;
  size_t len = 0;
  if (oath_base32_encode(bytes.data(), bytes.size(), &out, &len) != OATH_OK) return "";
  std::string s(out, len);
  free(out);
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string totp_uri(const std::string& secret, const std::string& account, const std::string& issuer) {
  return "otpauth://totp/" + url_escape(issuer) + ":" + url_escape(account) + "?secret=" + base32(secret) +
         "&issuer=" + url_escape(issuer) + "&algorithm=SHA1&digits=6&period=30";
}

std::string totp_code(const std::string& secret, int64_t unix_seconds) {
  init_once();
  char code[kDigits + 1] = {};
  if (oath_totp_generate2(secret.data(), secret.size(), time_t(unix_seconds), kStep, 0, kDigits, 0, code) != OATH_OK)
    return "";
  return code;
}

std::optional<uint64_t> totp_step(const std::string& secret, const std::string& code, int64_t unix_seconds) {
  if (code.size() != kDigits) return std::nullopt;
  for (char c : code)
    if (c < '0' || c > '9') return std::nullopt;
  init_once();
  int pos = 0;
  uint64_t counter = 0;
  int rc = oath_totp_validate4(secret.data(), secret.size(), time_t(unix_seconds), kStep, 0, kWindow, &pos, &counter, 0,
                               code.c_str());
  if (rc < 0) return std::nullopt;
  return counter;
}

std::string qr_svg(const std::string& text) {
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1),
                                                     &QRcode_free);
  if (!qr) return "";
  int w = qr->width, quiet = 4, size = w + 2 * quiet;
  std::string path;
  for (int y = 0; y < w; ++y)
    for (int x = 0; x < w; ++x)
      if (qr->data[y * w + x] & 1)
        path += "M" + std::to_string(x + quiet) + " " + std::to_string(y + quiet) + "h1v1h-1z";
  std::string dim = std::to_string(size);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + dim + " " + dim +
         "\" width=\"" + std::to_string(size * 5) + "\" height=\"" + std::to_string(size * 5) +
         "\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path fill=\"#000\" d=\"" +
         path + "\"/></svg>";
}

}  // namespace hush::web

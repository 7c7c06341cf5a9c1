#include "tls/errors.hpp"

#include <openssl/err.h>

namespace hush::tls {

std::string error_text(std::string_view if_none) {
  std::string text;
  for (unsigned long e = ERR_get_error(); e; e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text.empty() ? std::string(if_none) : text;
}

}  // namespace hush::tls

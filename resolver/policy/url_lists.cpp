#include "policy/url_lists.hpp"

#include <cstdio>
#include <filesystem>

#include "base/log.hpp"

namespace hush::policy {

namespace subs = blocklists::subs;

namespace {

// <data_dir>/url-lists/<hash>-<last path segment>: the hash keeps two URLs
// apart, the file name keeps the parser's hints ("onlydomains", "regex").
std::string url_copy_path(const std::string& data_dir, const std::string& url) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : url) {
    h ^= c;
    h *= 1099511628211ull;
  }
  std::string base = url.substr(0, url.find_first_of("?#"));
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  base = base.substr(base.find_last_of('/') + 1);
  std::string clean;
  for (char c : base)
    clean += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '-';
  if (clean.size() > 64) clean.resize(64);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%08llx", static_cast<unsigned long long>(h & 0xffffffffu));
  return data_dir + "/url-lists/" + hex + "-" + clean;
}

}  // namespace

bool fetch_url_lists(Config& cfg) {
  subs::Settings s = cfg.subscription_settings();
  for (blocklists::ListSource& l : cfg.lists) {
    if (l.path.rfind("http://", 0) != 0 && l.path.rfind("https://", 0) != 0) continue;
    std::string url = l.path;
    l.path = url_copy_path(cfg.server.data_dir, url);
    std::string why = subs::fetch_to_file(url, l.path, s);
    std::error_code ec;
    if (why.empty())
      log::info("list ", l.name, ": downloaded ", url);
    else if (std::filesystem::exists(l.path, ec))
      log::warn("list ", l.name, ": ", url, ": ", why, "; using the copy from the last good download");
    else
      log::error("list ", l.name, ": ", url, ": ", why, "; no earlier copy to use");
  }
  return true;
}

}  // namespace hush::policy

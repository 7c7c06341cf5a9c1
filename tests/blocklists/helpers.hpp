// Shared helpers for the blocklist tests.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "hush/blocklists/format.h"
#include "hush/blocklists/policy.h"

namespace bltest {

using namespace hush::blocklists;

inline const std::string kData = HUSH_SOURCE_DIR "/tests/data/blocklists/";
inline const std::string kShared = HUSH_SOURCE_DIR "/../shared/blocklists/";

struct Parsed {
  std::vector<Rule> rules;
  ParseStats stats;
};

inline Parsed parse(std::string_view text, std::string_view file_name = {}, bool subdomains = false) {
  Parsed p;
  ParseOptions o;
  o.file_name = file_name;
  o.subdomains = subdomains;
  parse_list(text, o, [&](Rule&& r) { p.rules.push_back(std::move(r)); }, p.stats);
  return p;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A private directory removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hush-bl-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, std::string_view text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::string path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct V4 {
  sockaddr_in sa{};
  explicit V4(const char* ip) {
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &sa.sin_addr);
  }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&sa); }
};

struct V6 {
  sockaddr_in6 sa{};
  explicit V6(const char* ip) {
    sa.sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip, &sa.sin6_addr);
  }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&sa); }
};

}  // namespace bltest

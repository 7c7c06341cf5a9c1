#include "config.hpp"

#include <fstream>
#include <functional>
#include <sstream>
#include <toml++/toml.h>

#include "address.hpp"

namespace hush {

namespace {

// What the key expects, for messages; and a setter that returns "" or why
// the value does not fit.
struct Key {
  const char* name;
  std::function<std::string(Config&, const toml::node&)> set;
};

template <class Section>
Key uint_in(const char* name, Section Config::*section, unsigned Section::*field, unsigned lo,
            unsigned hi) {
  return Key{name, [=](Config& c, const toml::node& n) -> std::string {
               auto v = n.value<int64_t>();
               if (!n.is_integer() || !v || *v < lo || *v > hi)
                 return "expected an integer from " + std::to_string(lo) + " to " +
                        std::to_string(hi);
               (c.*section).*field = unsigned(*v);
               return "";
             }};
}

template <class Section>
Key string_in(const char* name, Section Config::*section, std::string Section::*field) {
  return Key{name, [=](Config& c, const toml::node& n) -> std::string {
               if (!n.is_string()) return "expected a string";
               (c.*section).*field = *n.value<std::string>();
               return "";
             }};
}

template <class Section>
Key strings_in(const char* name, Section Config::*section,
               std::vector<std::string> Section::*field) {
  return Key{name, [=](Config& c, const toml::node& n) -> std::string {
               const toml::array* a = n.as_array();
               if (!a) return "expected an array of strings";
               std::vector<std::string> out;
               for (const toml::node& e : *a) {
                 if (!e.is_string()) return "expected an array of strings";
                 out.push_back(*e.value<std::string>());
               }
               (c.*section).*field = std::move(out);
               return "";
             }};
}

const std::vector<Key>& keys() {
  using C = Config;
  static const std::vector<Key> table = {
      strings_in("server.listen", &C::server, &C::Server::listen),
      uint_in("server.threads", &C::server, &C::Server::threads, 0, 256),
      string_in("server.data_dir", &C::server, &C::Server::data_dir),
      string_in("server.log_level", &C::server, &C::Server::log_level),
      strings_in("upstream.servers", &C::upstream, &C::Upstream::servers),
      uint_in("upstream.timeout_ms", &C::upstream, &C::Upstream::timeout_ms, 50, 60000),
      uint_in("cache.max_entries", &C::cache, &C::Cache::max_entries, 0, 100000000),
      uint_in("cache.min_ttl", &C::cache, &C::Cache::min_ttl, 0, 604800),
      uint_in("cache.max_ttl", &C::cache, &C::Cache::max_ttl, 0, 604800),
      uint_in("cache.negative_max_ttl", &C::cache, &C::Cache::negative_max_ttl, 0, 604800),
      uint_in("tcp.max_connections", &C::tcp, &C::Tcp::max_connections, 1, 1000000),
      uint_in("tcp.idle_timeout_ms", &C::tcp, &C::Tcp::idle_timeout_ms, 100, 3600000),
  };
  return table;
}

std::string where(const std::string& path, const toml::node& n) {
  return path + ":" + std::to_string(n.source().begin.line);
}

void walk(const toml::table& t, const std::string& prefix, const std::string& path, Config& cfg,
          std::vector<std::string>& errors) {
  for (auto&& [k, node] : t) {
    std::string name = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    const Key* key = nullptr;
    for (const Key& candidate : keys())
      if (name == candidate.name) key = &candidate;
    if (key) {
      std::string why = key->set(cfg, node);
      if (!why.empty()) errors.push_back(where(path, node) + ": " + name + ": " + why);
      continue;
    }
    if (const toml::table* sub = node.as_table()) {
      bool known_section = false;
      for (const Key& candidate : keys())
        if (std::string(candidate.name).rfind(name + ".", 0) == 0) known_section = true;
      if (known_section) {
        walk(*sub, name, path, cfg, errors);
        continue;
      }
    }
    errors.push_back(where(path, node) + ": unknown key '" + name + "'");
  }
}

}  // namespace

bool load_config_file(const std::string& path, Config& cfg, std::vector<std::string>& errors) {
  size_t before = errors.size();
  std::ifstream in(path);
  if (!in) {
    errors.push_back(path + ": cannot read the file");
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  toml::table parsed;
  try {
    parsed = toml::parse(text.str(), path);
  } catch (const toml::parse_error& e) {
    errors.push_back(path + ":" + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()));
    return false;
  }
  walk(parsed, "", path, cfg, errors);
  return errors.size() == before;
}

bool resolve(Config& cfg, std::vector<std::string>& errors, const std::string& resolv_conf) {
  size_t before = errors.size();
  if (cfg.server.listen.empty()) errors.push_back("server.listen: expected at least one address");
  cfg.listen_addrs.clear();
  for (const std::string& a : cfg.server.listen) {
    sockaddr_storage ss;
    std::string why;
    if (parse_address(a, 53, ss, why))
      cfg.listen_addrs.push_back(ss);
    else
      errors.push_back("server.listen: " + why);
  }
  std::vector<std::string> upstreams = cfg.upstream.servers;
  std::string upstream_origin = "upstream.servers";
  if (upstreams.empty()) {
    upstream_origin = resolv_conf;
    std::ifstream in(resolv_conf);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string word, addr;
      if (words >> word >> addr && word == "nameserver") upstreams.push_back(addr);
    }
    if (upstreams.empty())
      errors.push_back("upstream.servers: none set and no nameserver in " + resolv_conf +
                       " (use --upstream ADDR[:PORT])");
  }
  cfg.upstream_addrs.clear();
  for (const std::string& u : upstreams) {
    sockaddr_storage ss;
    std::string why;
    if (parse_address(u, 53, ss, why))
      cfg.upstream_addrs.push_back(ss);
    else
      errors.push_back(upstream_origin + ": " + why);
  }
  if (cfg.upstream_addrs.size() > 32) errors.push_back("upstream.servers: at most 32 servers");
  if (cfg.cache.min_ttl > cfg.cache.max_ttl)
    errors.push_back("cache.min_ttl: must not exceed cache.max_ttl");
  const std::string& level = cfg.server.log_level;
  if (level != "debug" && level != "info" && level != "warn" && level != "error")
    errors.push_back("server.log_level: expected one of debug, info, warn, error");
  return errors.size() == before;
}

}  // namespace hush

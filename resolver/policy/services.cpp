#include "policy/services.hpp"

#include <algorithm>
#include <toml++/toml.h>

namespace hush::policy {

// blocklists/services/services.toml, embedded by CMake (services_data.cpp).
extern const char kServicesToml[];

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<Service> parse() {
  std::vector<Service> out;
  toml::table t = toml::parse(kServicesToml);
  if (const toml::array* list = t["service"].as_array())
    for (const toml::node& n : *list) {
      const toml::table* s = n.as_table();
      if (!s) continue;
      Service svc;
      svc.id = (*s)["id"].value_or(std::string());
      svc.name = (*s)["name"].value_or(std::string());
      svc.catalog = (*s)["catalog"].value_or(std::string());
      if (const toml::array* rules = (*s)["rules"].as_array())
        for (const toml::node& r : *rules) svc.rules.push_back(r.value_or(std::string()));
      out.push_back(std::move(svc));
    }
  return out;
}

}  // namespace

const std::vector<Service>& services() {
  static const std::vector<Service> all = parse();
  return all;
}

const Service* find_service(std::string_view id_or_name) {
  std::string want = lower(id_or_name);
  for (const Service& s : services())
    if (s.id == want || lower(s.name) == want) return &s;
  return nullptr;
}

}  // namespace hush::policy

#include "base/qtype.hpp"

#include <cctype>

namespace hush {

namespace {

struct Named {
  uint16_t code;
  std::string_view name;
};
constexpr Named kNames[] = {
    {1, "A"},      {2, "NS"},     {5, "CNAME"},  {6, "SOA"},    {12, "PTR"},  {13, "HINFO"}, {15, "MX"},
    {16, "TXT"},   {28, "AAAA"},  {33, "SRV"},   {35, "NAPTR"}, {43, "DS"},   {46, "RRSIG"}, {48, "DNSKEY"},
    {64, "SVCB"},  {65, "HTTPS"}, {99, "SPF"},   {252, "AXFR"}, {255, "ANY"}, {257, "CAA"}};

bool same_letters(std::string_view a, std::string_view upper) {
  if (a.size() != upper.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) != upper[i]) return false;
  return true;
}

}  // namespace

std::string qtype_name(uint16_t qtype) {
  for (const Named& n : kNames)
    if (n.code == qtype) return std::string(n.name);
  return "TYPE" + std::to_string(qtype);
}

std::optional<uint16_t> qtype_from_name(std::string_view name) {
  for (const Named& n : kNames)
    if (same_letters(name, n.name)) return n.code;
  if (name.size() <= 4 || !same_letters(name.substr(0, 4), "TYPE")) return std::nullopt;
  unsigned v = 0;
  for (char c : name.substr(4)) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + unsigned(c - '0');
    if (v > 65535) return std::nullopt;
  }
  return uint16_t(v);
}

}  // namespace hush

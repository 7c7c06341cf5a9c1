#include "report/overrides.hpp"

#include "report/companies.hpp"

namespace hush::report {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool valid_category(std::string_view c) {
  if (c.empty() || c.size() > 32) return false;
  for (char ch : c)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  return true;
}

}  // namespace

std::vector<OverrideLine> parse_overrides(std::string_view text, const std::string& source,
                                          std::vector<std::string>& errors) {
  std::vector<OverrideLine> out;
  int number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++number;
    std::string_view line = trim(raw.substr(0, raw.find('#')));
    if (line.empty()) continue;
    auto fail = [&](const std::string& why) {
      errors.push_back(source + ":" + std::to_string(number) + ": " + why + ": " + std::string(trim(raw)));
    };
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      fail("expected 'name = company [; category]'");
      continue;
    }
    OverrideLine o;
    o.line = number;
    std::string_view name = trim(line.substr(0, eq));
    std::string_view rest = line.substr(eq + 1);
    size_t semi = rest.find(';');
    std::string_view company = trim(rest.substr(0, semi));
    std::string_view category = semi == std::string_view::npos ? std::string_view() : trim(rest.substr(semi + 1));
    o.domain = normalize_name(name);
    if (o.domain.empty() || name.find('*') != std::string_view::npos) {
      std::string why(1, '\'');
      why.append(name).append("' is not a domain name (write example.com; it covers its subdomains)");
      fail(why);
      continue;
    }
    if (company.empty() || company.size() > 100) {
      fail("expected a company name (1 to 100 characters) or '-' after '='");
      continue;
    }
    if (semi != std::string_view::npos && !valid_category(category)) {
      fail("the category after ';' is one word of a-z, 0-9 and '_' (e.g. telemetry, advertising)");
      continue;
    }
    o.company = std::string(company);
    o.category = std::string(category);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace hush::report

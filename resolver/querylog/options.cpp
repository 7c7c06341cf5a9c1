#include "querylog/options.hpp"

namespace hush::querylog {

namespace {
char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }
std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}
}  // namespace

bool glob_match(std::string_view p, std::string_view t) {
  // Iterative matcher with one backtrack point: linear for patterns with a
  // single '*', and never exponential.
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || lower(p[pi]) == lower(t[ti]))) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

Privacy::Privacy(const std::vector<std::string>& clients, const std::vector<std::string>& domains) {
  for (const auto& c : clients) clients_.push_back(lowered(c));
  for (const auto& d : domains) {
    std::string p = lowered(d);
    while (!p.empty() && p.back() == '.') p.pop_back();
    if (p.empty()) continue;
    if (p.find_first_of("*?") == std::string::npos) domains_.push_back("*." + p);
    domains_.push_back(std::move(p));
  }
}

bool Privacy::hides_domain(std::string_view name) const {
  for (const auto& p : domains_)
    if (glob_match(p, name)) return true;
  return false;
}

bool Privacy::hides_client(std::string_view ip, std::string_view mac, std::string_view name) const {
  for (const auto& p : clients_)
    for (std::string_view id : {ip, mac, name})
      if (!id.empty() && glob_match(p, id)) return true;
  return false;
}

}  // namespace hush::querylog

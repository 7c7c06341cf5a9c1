#include "clients/sources.hpp"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>

namespace hush::clients {

namespace {

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// ISC dates: "4 2024/01/04 22:00:00" (UTC) or "never".
int64_t parse_isc_time(const std::vector<std::string_view>& w) {
  if (w.size() < 3 || w[1] == "never") return 0;
  std::tm tm{};
  std::string when = std::string(w[2]) + " " + (w.size() > 3 ? std::string(w[3]) : "00:00:00");
  if (!strptime(when.c_str(), "%Y/%m/%d %H:%M:%S", &tm)) return 0;
  return int64_t(timegm(&tm));
}

std::string_view strip_semicolon(std::string_view s) {
  while (!s.empty() && (s.back() == ';' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

std::string unquote(std::string_view s) {
  s = strip_semicolon(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

}  // namespace

std::string canonical_ip(std::string_view text) {
  std::string s(text);
  // Link-local IPv6 in `ip neigh` may carry a zone ("fe80::1%eth0").
  if (size_t pct = s.find('%'); pct != std::string::npos) s.resize(pct);
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return inet_ntop(AF_INET, buf, out, sizeof out);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    // A v4-mapped address is the IPv4 client it wraps.
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(buf, mapped, 12) == 0) return inet_ntop(AF_INET, buf + 12, out, sizeof out);
    return inet_ntop(AF_INET6, buf, out, sizeof out);
  }
  return "";
}

std::string canonical_mac(std::string_view text) {
  std::string out;
  int digits = 0;
  for (char c : text) {
    if (c == ':' || c == '-') {
      if (digits == 0 || digits > 2) return "";
      if (digits == 1) out.insert(out.end() - 1, '0');
      out.push_back(':');
      digits = 0;
      continue;
    }
    if (!is_hex(c)) return "";
    out.push_back(char(c >= 'A' && c <= 'F' ? c + 32 : c));
    ++digits;
  }
  if (digits == 1) out.insert(out.end() - 1, '0');
  if (out.size() != 17 || out == "00:00:00:00:00:00") return "";
  return out;
}

std::vector<Neighbour> parse_proc_arp(std::string_view text) {
  std::vector<Neighbour> out;
  for (std::string_view line : lines_of(text)) {
    auto w = words_of(line);
    if (w.size() < 4) continue;
    std::string ip = canonical_ip(w[0]);
    std::string mac = canonical_mac(w[3]);
    unsigned long flags = std::strtoul(std::string(w[2]).c_str(), nullptr, 16);
    if (ip.empty() || mac.empty() || !(flags & 0x2)) continue;
    out.push_back({ip, mac});
  }
  return out;
}

std::vector<Neighbour> parse_ip_neigh(std::string_view text) {
  std::vector<Neighbour> out;
  for (std::string_view line : lines_of(text)) {
    auto w = words_of(line);
    if (w.empty()) continue;
    std::string ip = canonical_ip(w[0]);
    std::string mac;
    bool usable = true;
    for (size_t i = 1; i < w.size(); ++i) {
      if (w[i] == "lladdr" && i + 1 < w.size()) mac = canonical_mac(w[i + 1]);
      if (w[i] == "FAILED" || w[i] == "INCOMPLETE") usable = false;
    }
    if (!ip.empty() && !mac.empty() && usable) out.push_back({ip, mac});
  }
  return out;
}

std::vector<Lease> parse_dnsmasq_leases(std::string_view text) {
  std::vector<Lease> out;
  for (std::string_view line : lines_of(text)) {
    auto w = words_of(line);
    if (w.size() < 4 || w[0] == "duid") continue;
    Lease l;
    char* end = nullptr;
    std::string expiry(w[0]);
    l.expires = std::strtoll(expiry.c_str(), &end, 10);
    if (end == expiry.c_str() || *end) continue;
    l.ip = canonical_ip(w[2]);
    if (l.ip.empty()) continue;
    l.mac = canonical_mac(w[1]);  // empty for DHCPv6, where this field is the IAID
    if (w[3] != "*") l.hostname = std::string(w[3]);
    out.push_back(std::move(l));
  }
  return out;
}

std::vector<Lease> parse_isc_leases(std::string_view text) {
  std::map<std::string, Lease> latest;
  std::map<std::string, bool> active;
  Lease cur;
  bool in_block = false, is_active = true;
  for (std::string_view line : lines_of(text)) {
    auto w = words_of(line);
    if (w.empty() || w[0].front() == '#') continue;
    if (!in_block) {
      if (w[0] == "lease" && w.size() >= 3 && w[2] == "{") {
        cur = Lease{};
        cur.ip = canonical_ip(w[1]);
        in_block = true;
        is_active = true;
      }
      continue;
    }
    if (w[0] == "}") {
      in_block = false;
      if (!cur.ip.empty()) {
        latest[cur.ip] = cur;
        active[cur.ip] = is_active;
      }
      continue;
    }
    if (w[0] == "ends") {
      cur.expires = parse_isc_time(w);
    } else if (w[0] == "hardware" && w.size() >= 3) {
      cur.mac = canonical_mac(strip_semicolon(w[2]));
    } else if (w[0] == "client-hostname" && w.size() >= 2) {
      std::string_view rest = line.substr(line.find("client-hostname") + 15);
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      cur.hostname = unquote(rest);
    } else if (w[0] == "binding" && w.size() >= 3 && w[1] == "state") {
      is_active = strip_semicolon(w[2]) == "active";
    }
  }
  std::vector<Lease> out;
  for (auto& [ip, l] : latest)
    if (active[ip]) out.push_back(std::move(l));
  return out;
}

std::vector<HostName> parse_hosts(std::string_view text) {
  std::vector<HostName> out;
  for (std::string_view line : lines_of(text)) {
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    auto w = words_of(line);
    if (w.size() < 2) continue;
    std::string ip = canonical_ip(w[0]);
    bool multicast = ip.rfind("ff", 0) == 0 && ip.find(':') != std::string::npos;
    if (ip.empty() || ip == "0.0.0.0" || ip == "::" || ip == "::1" || ip.rfind("127.", 0) == 0 || multicast)
      continue;
    out.push_back({ip, std::string(w[1])});
  }
  return out;
}

}  // namespace hush::clients

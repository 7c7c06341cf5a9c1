#include "config/upstreams.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "base/address.hpp"

namespace hush {

namespace {

struct Scheme {
  std::string_view prefix;
  upstream::Transport transport;
  uint16_t port;
};
constexpr Scheme kSchemes[] = {
    {"udp://", upstream::Transport::Udp, 53},
    {"tcp://", upstream::Transport::Tcp, 53},
    {"tls://", upstream::Transport::Tls, 853},
    {"https://", upstream::Transport::Https, 443},
};

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// HOST[:PORT] where HOST is a name: the name and the port.
bool split_name_port(std::string_view text, std::string& name, uint16_t& port, std::string& why) {
  size_t colon = text.find(':');
  name = std::string(text.substr(0, colon));
  if (colon != std::string_view::npos) {
    std::string_view p = text.substr(colon + 1);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc() || end != p.data() + p.size() || v == 0 || v > 65535) {
      why = "bad port " + quoted(p) + " (expected 1-65535)";
      return false;
    }
    port = uint16_t(v);
  }
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (!valid_host_name(name)) {
    why = quoted(name) + " is neither an IP address nor a host name";
    return false;
  }
  return true;
}

// ADDR[:PORT] or NAME[:PORT] into out.addr or out.host and out.port.
bool parse_host(std::string_view text, bool name_allowed, upstream::Server& out, std::string& why) {
  if (text.empty()) {
    why = "no server address";
    return false;
  }
  std::string addr_why;
  if (parse_address(text, out.port, out.addr, addr_why)) {
    out.port = ntohs(out.addr.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(out.addr).sin_port
                                                   : reinterpret_cast<sockaddr_in6&>(out.addr).sin6_port);
    return true;
  }
  bool looks_numeric = text.front() == '[' || std::count(text.begin(), text.end(), ':') > 1 ||
                       std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit((unsigned char)c) || c == '.' || c == ':'; });
  if (looks_numeric || !name_allowed) {
    why = looks_numeric ? addr_why
                        : quoted(text) + " is not an IP address; only tls:// and https:// servers may be given by name";
    return false;
  }
  out.addr = {};
  return split_name_port(text, out.host, out.port, why);
}

}  // namespace

bool valid_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-') return false;
      label = 0;
      continue;
    }
    char c = name[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    ++label;
  }
  return true;
}

bool parse_upstream(std::string_view text, upstream::Server& out, std::string& why) {
  out = upstream::Server{};
  out.text = std::string(text);
  std::string_view rest = text;
  const Scheme* scheme = nullptr;
  for (const Scheme& s : kSchemes)
    if (rest.substr(0, s.prefix.size()) == s.prefix) scheme = &s;
  if (!scheme && rest.find("://") != std::string_view::npos) {
    why = quoted(text) + ": unknown scheme " + quoted(rest.substr(0, rest.find("://"))) +
          " (expected udp://, tcp://, tls:// or https://)";
    return false;
  }
  if (scheme) {
    rest.remove_prefix(scheme->prefix.size());
    out.transport = scheme->transport;
    out.port = scheme->port;
  }
  std::string inner;
  bool ok = true;
  if (out.transport == upstream::Transport::Https) {
    size_t slash = rest.find('/');
    out.path = slash == std::string_view::npos ? "/dns-query" : std::string(rest.substr(slash));
    ok = parse_host(rest.substr(0, slash), true, out, inner);
    if (ok && out.path.find_first_of(" #") != std::string::npos) {
      inner = "the path " + quoted(out.path) + " must not contain spaces or '#'";
      ok = false;
    }
    if (ok && !out.host.empty()) out.tls_name = out.host;
  } else if (out.transport == upstream::Transport::Tls) {
    size_t hash = rest.find('#');
    if (hash != std::string_view::npos) {
      std::string name(rest.substr(hash + 1));
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
      if (!valid_host_name(name)) {
        why = quoted(text) + ": " + quoted(name) + " after '#' is not a host name (the name the server's certificate carries)";
        return false;
      }
      out.tls_name = name;
      rest = rest.substr(0, hash);
    }
    ok = parse_host(rest, true, out, inner);
    if (ok && out.tls_name.empty()) out.tls_name = out.host;
  } else {
    ok = parse_host(rest, false, out, inner);
  }
  if (!ok) why = quoted(text) + ": " + inner;
  return ok;
}

}  // namespace hush

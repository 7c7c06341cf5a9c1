#include "hush/blocklists/format.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include "base/qtype.hpp"
#include "hush/blocklists/domain.h"

namespace hush::blocklists {

const char* format_name(Format f) {
  switch (f) {
    case Format::Hosts: return "hosts";
    case Format::Domains: return "domains";
    case Format::Adblock: return "adblock";
    case Format::Wildcard: return "wildcard";
    case Format::Regex: return "regex";
    case Format::Dnsmasq: return "dnsmasq";
    case Format::Rpz: return "rpz";
  }
  return "?";
}

bool Rule::same_rule(const Rule& o) const {
  return name == o.name && kind == o.kind && allow == o.allow && important == o.important &&
         dnstype == o.dnstype && not_dnstype == o.not_dnstype && client == o.client &&
         not_client == o.not_client;
}

namespace {

// What became of one line; reasons are static strings so that counting
// 100,000 bad lines costs no allocation.
enum class Outcome { Done, Comment, Self, Browser, Unsupported, Invalid };

struct LineResult {
  Outcome outcome = Outcome::Invalid;
  const char* reason = nullptr;
};

// string_view::find_first_of(" \t...") calls memchr over the set for every
// character scanned: a fifth of a 1M-line list's start-up went there.
constexpr bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

size_t find_space(std::string_view s, size_t i) {
  while (i < s.size() && !is_space(s[i])) ++i;
  return i;
}

size_t skip_space(std::string_view s, size_t i) {
  while (i < s.size() && is_space(s[i])) ++i;
  return i;
}

std::string_view trim(std::string_view s) {
  size_t b = skip_space(s, 0);
  size_t e = s.size();
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool icontains(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
  return it != hay.end();
}

// Splits on blanks; returns how many tokens were stored (extra ones dropped).
template <size_t N>
size_t tokenize(std::string_view s, std::array<std::string_view, N>& out) {
  size_t n = 0;
  size_t i = 0;
  while (n < N) {
    i = skip_space(s, i);
    if (i == s.size()) break;
    size_t j = find_space(s, i);
    out[n++] = s.substr(i, j - i);
    i = j;
  }
  return n;
}

// Pops the next blank-separated token off `s`; empty when none is left.
std::string_view next_token(std::string_view& s) {
  size_t b = skip_space(s, 0);
  size_t e = find_space(s, b);
  std::string_view tok = s.substr(b, e - b);
  s.remove_prefix(e);
  return tok;
}

bool is_ip(std::string_view tok) {
  if (tok.empty() || tok.size() > 63) return false;
  char buf[64];
  std::memcpy(buf, tok.data(), tok.size());
  buf[tok.size()] = '\0';
  if (char* pct = std::strchr(buf, '%')) *pct = '\0';  // fe80::1%lo0 in StevenBlack
  unsigned char addr[16];
  return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

// Strips an inline comment: '#' preceded by a blank anywhere, or any '#' for
// formats where it cannot be part of a rule.
std::string_view strip_inline_comment(std::string_view s, bool any_hash) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '#') continue;
    if (any_hash || (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))) return trim(s.substr(0, i));
  }
  return s;
}

bool looks_like_regex(std::string_view s) {
  return s.find_first_of("^$\\()[]|+?{}") != std::string_view::npos;
}

std::string regex_escape_glob(std::string_view glob) {
  std::string re;
  for (char c : glob) {
    if (c == '*') {
      re += ".*";
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
      re += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      re += '\\';
      re += c;
    }
  }
  return re;
}

const char* validate_regex(const std::string& pattern) {
  RE2::Options o;
  o.set_log_errors(false);
  RE2 re(pattern, o);
  return re.ok() ? nullptr : "regex not supported by RE2";
}

class Parser {
 public:
  Parser(const ParseOptions& opts, const RuleSink& sink, ParseStats& stats)
      : opts_(opts), sink_(sink), stats_(stats) {}

  void run(std::string_view text) {
    if (starts_with(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
    if (opts_.detected) {
      stats_.detected = format_ = opts_.detected->detected;
      stats_.syntax_header = opts_.detected->syntax_header;
      stats_.plain_means_subdomains = subtree_plain_ = opts_.detected->plain_means_subdomains;
    } else {
      detect(text);
    }
    size_t line_no = 0;
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      std::string_view raw = text.substr(pos, nl - pos);
      if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
      ++line_no;
      if (nl == text.size() && raw.empty()) break;  // no phantom line after the final newline
      ++stats_.lines;
      line_ = static_cast<uint32_t>(line_no);
      raw_ = raw;
      handle(parse_line(trim(raw)));
      pos = nl + 1;
    }
  }

  ParseStats detect_only(std::string_view text) {
    if (starts_with(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
    detect(text);
    return stats_;
  }

  // One configured allow/deny entry.
  LineResult entry(std::string_view s) {
    line_ = 0;
    raw_ = s;
    format_ = Format::Adblock;
    s = trim(s);
    if (s.empty()) return {Outcome::Invalid, "empty entry"};
    if (starts_with(s, "*.") || (s[0] == '.' && s.size() > 1)) return parse_wildcard(s);
    if (s[0] == '/' || s[0] == '|' || starts_with(s, "@@") || s.find('$') != std::string_view::npos ||
        s.find('^') != std::string_view::npos) {
      return parse_adblock(s);
    }
    if (s.find('*') != std::string_view::npos) return parse_wildcard(s);
    return parse_plain(s, Format::Domains, false);
  }

 private:
  void handle(LineResult r) {
    switch (r.outcome) {
      case Outcome::Done: break;
      case Outcome::Comment: ++stats_.comments; break;
      case Outcome::Self: ++stats_.self_entries; break;
      case Outcome::Browser: ++stats_.skipped_browser; break;
      case Outcome::Unsupported: ++stats_.skipped_unsupported; break;
      case Outcome::Invalid: invalid(r.reason); break;
    }
  }

  void invalid(const char* reason) {
    ++stats_.invalid;
    if (stats_.first_invalid.size() < kKeptInvalid) {
      stats_.first_invalid.push_back({line_, std::string(raw_), reason ? reason : "invalid"});
    }
  }

  void emit(Rule&& r) {
    r.line = line_;
    ++stats_.rules;
    ++stats_.by_format[static_cast<size_t>(r.format)];
    sink_(std::move(r));
  }

  // Reads the "Syntax:" header if the author wrote one, else lets the first
  // lines vote; the header wins because HaGeZi's domain files are otherwise
  // indistinguishable in meaning.
  void detect(std::string_view text) {
    std::array<size_t, kFormatCount> votes{};
    size_t pos = 0;
    size_t seen = 0;
    bool adblock_header = false;
    while (pos < text.size() && seen < 500) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      std::string_view l = trim(text.substr(pos, nl - pos));
      pos = nl + 1;
      if (l.empty()) continue;
      if (l[0] == '#' || l[0] == '!' || l[0] == ';' || l[0] == '[') {
        if (starts_with(l, "[Adblock")) adblock_header = true;
        size_t k = l.find("Syntax:");
        if (k != std::string_view::npos && stats_.syntax_header.empty()) {
          stats_.syntax_header = std::string(trim(l.substr(k + 7)));
        }
        continue;
      }
      ++seen;
      ++votes[static_cast<size_t>(shape(l))];
    }
    std::string_view syn = stats_.syntax_header;
    if (icontains(syn, "adblock")) {
      format_ = Format::Adblock;
    } else if (icontains(syn, "wildcard")) {
      format_ = Format::Wildcard;
    } else if (icontains(syn, "rpz")) {
      format_ = Format::Rpz;
    } else if (icontains(syn, "dnsmasq")) {
      format_ = Format::Dnsmasq;
    } else if (icontains(syn, "hosts")) {
      format_ = Format::Hosts;
    } else if (icontains(syn, "domains")) {
      format_ = Format::Domains;
    } else if (adblock_header) {
      format_ = Format::Adblock;
    } else {
      format_ = static_cast<Format>(std::max_element(votes.begin(), votes.end()) - votes.begin());
      bool named_regex = icontains(opts_.file_name, "regex");
      if (named_regex && votes[static_cast<size_t>(Format::Regex)] > 0) format_ = Format::Regex;
    }
    stats_.detected = format_;
    // "Domains (without subdomains)" is HaGeZi's wording for lists whose
    // entries stand for the domain and all its subdomains (the subdomains are
    // left out because they are implied); "onlydomains" files say the same.
    stats_.plain_means_subdomains = opts_.subdomains || icontains(opts_.file_name, "onlydomains") ||
                                    icontains(syn, "without subdomains");
    subtree_plain_ = stats_.plain_means_subdomains;
  }

  static Format shape(std::string_view l) {
    std::array<std::string_view, 4> tok;
    size_t n = tokenize(l, tok);
    if (n >= 2 && is_ip(tok[0])) return Format::Hosts;
    if (starts_with(l, "local=/") || starts_with(l, "address=/") || starts_with(l, "server=/")) {
      return Format::Dnsmasq;
    }
    for (size_t i = 1; i < n; ++i) {
      if (iequals(tok[i], "CNAME") || iequals(tok[i], "SOA")) return Format::Rpz;
    }
    if (l[0] == '$' || l[0] == '@') return Format::Rpz;
    if (starts_with(l, "||") || starts_with(l, "@@") || l[0] == '|' || l.back() == '^' ||
        l.find("^$") != std::string_view::npos || (l.size() > 2 && l[0] == '/' && l.back() == '/')) {
      return Format::Adblock;
    }
    if (starts_with(l, "*.")) return Format::Wildcard;
    if (looks_like_regex(l)) return Format::Regex;
    return Format::Domains;
  }

  bool is_comment(std::string_view s) const {
    if (s.empty()) return true;
    switch (s[0]) {
      case '!':
      case ';':
        return true;
      case '[':
        return s.back() == ']';
      case '#':
        // In adblock syntax "##" and "#@#" start cosmetic rules, not comments.
        return format_ != Format::Adblock || !(starts_with(s, "##") || starts_with(s, "#@#") ||
                                               starts_with(s, "#?#") || starts_with(s, "#$#") ||
                                               starts_with(s, "#%#"));
      default:
        return false;
    }
  }

  LineResult parse_line(std::string_view s) {
    if (in_parens_) {
      if (s.find(')') != std::string_view::npos) in_parens_ = false;
      return {Outcome::Comment};
    }
    if (is_comment(s)) return {Outcome::Comment};
    if (format_ == Format::Regex) return parse_regex_line(s);
    if (format_ == Format::Rpz) return parse_rpz(s);
    if (format_ == Format::Adblock) {
      std::string_view body = strip_inline_comment(s, false);
      return shape(body) == Format::Hosts ? parse_hosts(body) : parse_adblock(body);
    }

    std::string_view body = strip_inline_comment(s, true);
    if (body.empty()) return {Outcome::Comment};
    switch (shape(body)) {
      case Format::Hosts: return parse_hosts(body);
      case Format::Dnsmasq: return parse_dnsmasq(body);
      case Format::Rpz: return parse_rpz(body);
      case Format::Adblock: return parse_adblock(body);
      case Format::Wildcard: return parse_wildcard(body);
      default: break;
    }
    std::array<std::string_view, 2> tok;
    if (tokenize(body, tok) == 1 && is_ip(tok[0])) return {Outcome::Invalid, "hosts line without a name"};
    if (body.back() == ';') body.remove_suffix(1);  // Proxifier/dnscrypt style "a.com;"
    if (body.find('*') != std::string_view::npos || body[0] == '.') return parse_wildcard(body);
    return parse_plain(body, format_ == Format::Hosts ? Format::Hosts : Format::Domains, true);
  }

  LineResult add_name(std::string_view name, RuleKind kind, Format fmt, bool allow = false) {
    if (opts_.plain) {
      if (const char* err = normalize_domain(name, name_)) return {Outcome::Invalid, err};
      if (is_self_entry(name_)) return {Outcome::Self};
      ++stats_.rules;
      ++stats_.by_format[static_cast<size_t>(fmt)];
      (*opts_.plain)(name_, kind == RuleKind::Subtree, allow);
      return {Outcome::Done};
    }
    Rule r;
    if (const char* err = normalize_domain(name, r.name)) return {Outcome::Invalid, err};
    if (is_self_entry(r.name)) return {Outcome::Self};
    r.kind = kind;
    r.format = fmt;
    r.allow = allow;
    emit(std::move(r));
    return {Outcome::Done};
  }

  LineResult parse_plain(std::string_view s, Format fmt, bool subtree_allowed) {
    std::array<std::string_view, 2> tok;
    if (tokenize(s, tok) != 1) return {Outcome::Invalid, "more than one name on a domain line"};
    return add_name(tok[0], subtree_allowed && subtree_plain_ ? RuleKind::Subtree : RuleKind::Exact, fmt);
  }

  LineResult parse_hosts(std::string_view s) {
    RuleKind kind = subtree_plain_ ? RuleKind::Subtree : RuleKind::Exact;
    next_token(s);  // the address
    std::string_view first = next_token(s);
    std::string_view second = next_token(s);
    if (second.empty()) return add_name(first, kind, Format::Hosts);
    // Compressed hosts files carry nine names a line: a bad one must not hide the rest.
    for (std::string_view name = first; !name.empty(); name = second, second = next_token(s)) {
      LineResult r = add_name(name, kind, Format::Hosts);
      if (r.outcome != Outcome::Done) handle(r);
    }
    return {Outcome::Done};
  }

  // "*.a.com" means a.com and below (HaGeZi wildcard lists); ".a.com" is the
  // Surge/Privoxy spelling of the same; a '*' elsewhere is a glob.
  LineResult parse_wildcard(std::string_view s) {
    if (s.back() == ';') s.remove_suffix(1);
    std::string_view rest = starts_with(s, "*.") ? s.substr(2) : (s[0] == '.' ? s.substr(1) : s);
    if (rest.find('*') == std::string_view::npos && rest.size() != s.size()) {
      return add_name(rest, RuleKind::Subtree, Format::Wildcard);
    }
    return add_glob(s, starts_with(s, "*.") ? "(^|\\.)" : "^", "$", Format::Wildcard, Rule{});
  }

  LineResult add_glob(std::string_view glob, std::string_view prefix, std::string_view suffix, Format fmt,
                      Rule r) {
    std::string_view body = glob;
    if (starts_with(body, "*.")) body.remove_prefix(2);
    if (body.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.*") !=
        std::string_view::npos) {
      return {Outcome::Invalid, "character not allowed in a wildcard"};
    }
    r.name = std::string(prefix) + regex_escape_glob(body) + std::string(suffix);
    if (const char* err = validate_regex(r.name)) return {Outcome::Invalid, err};
    r.kind = RuleKind::Regex;
    r.format = fmt;
    r.text = std::string(trim(raw_));
    emit(std::move(r));
    return {Outcome::Done};
  }

  LineResult parse_regex_line(std::string_view s) {
    // Pi-hole regex lists: the whole line is the pattern; "# ..." after a
    // blank is a comment, ";querytype=" restricts the type.
    s = strip_inline_comment(s, false);
    Rule r;
    size_t semi = s.find(";querytype=");
    if (semi != std::string_view::npos) {
      std::string_view types = s.substr(semi + 11);
      bool neg = !types.empty() && types[0] == '!';
      if (neg) types.remove_prefix(1);
      while (!types.empty()) {
        size_t c = types.find(',');
        uint16_t t = qtype_from_name(types.substr(0, c)).value_or(0);
        if (t == 0) return {Outcome::Invalid, "unknown query type"};
        (neg ? r.not_dnstype : r.dnstype).push_back(t);
        types = c == std::string_view::npos ? std::string_view{} : types.substr(c + 1);
      }
      s = s.substr(0, semi);
    }
    if (s.find(";invert") != std::string_view::npos || s.find(";reply=") != std::string_view::npos) {
      return {Outcome::Unsupported};
    }
    if (s.size() > 2 && s[0] == '/' && s.back() == '/') s = s.substr(1, s.size() - 2);
    r.name = std::string(s);
    if (const char* err = validate_regex(r.name)) return {Outcome::Invalid, err};
    r.kind = RuleKind::Regex;
    r.format = Format::Regex;
    r.text = std::string(trim(raw_));
    emit(std::move(r));
    return {Outcome::Done};
  }

  LineResult parse_dnsmasq(std::string_view s) {
    size_t eq = s.find('=');
    std::string_view key = s.substr(0, eq);
    std::string_view v = s.substr(eq + 1);
    if (v.empty() || v[0] != '/') return {Outcome::Invalid, "dnsmasq option without /domain/"};
    size_t last = v.rfind('/');
    std::string_view domains = v.substr(1, last == 0 ? 0 : last - 1);
    std::string_view target = trim(v.substr(last + 1));
    if (domains.empty()) return {Outcome::Invalid, "dnsmasq option without a domain"};
    bool blocks = false;
    if (key == "local") {
      blocks = target.empty();
    } else if (key == "address") {
      blocks = target.empty() || target == "#" || target == "0.0.0.0" || target == "::" ||
               target == "127.0.0.1" || target == "::1";
    } else if (key == "server") {
      blocks = target.empty();  // answer locally, forward nowhere
    }
    if (!blocks) return {Outcome::Unsupported};
    LineResult result{Outcome::Self};
    while (!domains.empty()) {
      size_t slash = domains.find('/');
      LineResult r = add_name(domains.substr(0, slash), RuleKind::Subtree, Format::Dnsmasq);
      if (r.outcome == Outcome::Invalid) return r;
      if (r.outcome == Outcome::Done) result = r;
      domains = slash == std::string_view::npos ? std::string_view{} : domains.substr(slash + 1);
    }
    return result;
  }

  LineResult parse_rpz(std::string_view s) {
    s = strip_inline_comment(s, false);
    size_t semi = s.find(';');
    if (semi != std::string_view::npos) s = trim(s.substr(0, semi));
    if (s.empty() || s[0] == '$') return {Outcome::Comment};
    if (s.find('(') != std::string_view::npos && s.find(')') == std::string_view::npos) {
      in_parens_ = true;
      return {Outcome::Comment};
    }
    // Owner-less lines continue the SOA/NS records of the zone apex.
    if (raw_.empty() || raw_[0] == ' ' || raw_[0] == '\t') return {Outcome::Comment};
    std::array<std::string_view, 8> tok;
    size_t n = tokenize(s, tok);
    size_t i = 1;
    while (i < n && (std::all_of(tok[i].begin(), tok[i].end(), ::isdigit) || iequals(tok[i], "IN"))) ++i;
    if (i >= n) return {Outcome::Invalid, "RPZ record without a type"};
    std::string_view type = tok[i];
    std::string_view rdata = i + 1 < n ? tok[i + 1] : std::string_view{};
    if (iequals(type, "SOA") || iequals(type, "NS") || tok[0] == "@") return {Outcome::Comment};
    bool allow = false;
    if (iequals(type, "CNAME")) {
      if (rdata == "." || rdata == "*." || iequals(rdata, "rpz-drop.")) {
        allow = false;
      } else if (iequals(rdata, "rpz-passthru.")) {
        allow = true;
      } else {
        return {Outcome::Unsupported};  // a rewrite to another name
      }
    } else if (iequals(type, "A") || iequals(type, "AAAA")) {
      if (rdata != "0.0.0.0" && rdata != "::" && rdata != "127.0.0.1" && rdata != "::1") {
        return {Outcome::Unsupported};
      }
    } else {
      return {Outcome::Unsupported};
    }
    std::string_view owner = tok[0];
    // RPZ "*.d" strictly means below d; HaGeZi always pairs it with "d", and
    // one subtree entry for both is what keeps the compiled set small.
    if (starts_with(owner, "*.")) return add_name(owner.substr(2), RuleKind::Subtree, Format::Rpz, allow);
    return add_name(owner, subtree_plain_ ? RuleKind::Subtree : RuleKind::Exact, Format::Rpz, allow);
  }

  LineResult parse_options(std::string_view opts, Rule& r) {
    while (!opts.empty()) {
      size_t comma = opts.find(',');
      std::string_view o = trim(opts.substr(0, comma));
      opts = comma == std::string_view::npos ? std::string_view{} : opts.substr(comma + 1);
      if (o == "important") {
        r.important = true;
      } else if (o == "badfilter") {
        r.badfilter = true;
      } else if (starts_with(o, "dnstype=")) {
        for (std::string_view v = o.substr(8); !v.empty();) {
          size_t bar = v.find('|');
          std::string_view t = v.substr(0, bar);
          bool neg = !t.empty() && t[0] == '~';
          uint16_t code = qtype_from_name(neg ? t.substr(1) : t).value_or(0);
          if (code == 0) return {Outcome::Invalid, "unknown type in $dnstype"};
          (neg ? r.not_dnstype : r.dnstype).push_back(code);
          v = bar == std::string_view::npos ? std::string_view{} : v.substr(bar + 1);
        }
      } else if (starts_with(o, "client=")) {
        if (const char* err = parse_clients(o.substr(7), r)) return {Outcome::Invalid, err};
      } else if (starts_with(o, "ctag=") || starts_with(o, "dnsrewrite") || starts_with(o, "denyallow=")) {
        return {Outcome::Unsupported};
      } else {
        return {Outcome::Browser};  // $third-party, $script, $domain=... only mean something in a browser
      }
    }
    return {Outcome::Done};
  }

  static const char* parse_clients(std::string_view v, Rule& r) {
    while (!v.empty()) {
      bool neg = v[0] == '~';
      if (neg) v.remove_prefix(1);
      std::string item;
      if (!v.empty() && (v[0] == '\'' || v[0] == '"')) {
        char q = v[0];
        size_t i = 1;
        for (; i < v.size() && v[i] != q; ++i) {
          if (v[i] == '\\' && i + 1 < v.size()) ++i;
          item += v[i];
        }
        if (i >= v.size()) return "unterminated quote in $client";
        v.remove_prefix(i + 1);
      } else {
        size_t bar = v.find('|');
        item = std::string(v.substr(0, bar));
        v = v.substr(bar == std::string_view::npos ? v.size() : bar);
      }
      if (item.empty()) return "empty $client value";
      (neg ? r.not_client : r.client).push_back(std::move(item));
      if (!v.empty() && v[0] == '|') v.remove_prefix(1);
    }
    return nullptr;
  }

  LineResult parse_adblock(std::string_view s) {
    if (s.find("##") != std::string_view::npos || s.find("#@#") != std::string_view::npos ||
        s.find("#?#") != std::string_view::npos || s.find("#$#") != std::string_view::npos ||
        s.find("#%#") != std::string_view::npos || s.find("$$") != std::string_view::npos) {
      return {Outcome::Browser};
    }
    Rule r;
    r.format = Format::Adblock;
    std::string_view pat = s;
    if (starts_with(pat, "@@")) {
      r.allow = true;
      pat.remove_prefix(2);
    }
    std::string_view opts;
    if (pat.size() > 1 && pat[0] == '/') {
      size_t end = pat.rfind('/');
      if (end == 0) return {Outcome::Invalid, "unterminated /regex/"};
      std::string_view after = pat.substr(end + 1);
      if (!after.empty() && after[0] != '$') return {Outcome::Invalid, "text after /regex/"};
      if (!after.empty()) opts = after.substr(1);
      pat = pat.substr(1, end - 1);
      LineResult o = parse_options(opts, r);
      if (o.outcome != Outcome::Done) return o;
      r.name = std::string(pat);
      if (const char* err = validate_regex(r.name)) return {Outcome::Invalid, err};
      r.kind = RuleKind::Regex;
      r.text = std::string(trim(raw_));
      emit(std::move(r));
      return {Outcome::Done};
    }
    size_t dollar = pat.find('$');
    if (dollar != std::string_view::npos) {
      opts = pat.substr(dollar + 1);
      pat = pat.substr(0, dollar);
    }
    LineResult o = parse_options(opts, r);
    if (o.outcome != Outcome::Done) return o;
    bool subtree = false;
    bool anchored = false;
    if (starts_with(pat, "||")) {
      subtree = true;
      pat.remove_prefix(2);
    } else if (starts_with(pat, "|")) {
      anchored = true;
      pat.remove_prefix(1);
      if (starts_with(pat, "http://") || starts_with(pat, "https://")) return {Outcome::Browser};
    }
    bool end_anchor = false;
    while (!pat.empty() && (pat.back() == '^' || pat.back() == '|')) {
      pat.remove_suffix(1);
      end_anchor = true;
    }
    if (pat.empty()) return {Outcome::Invalid, "empty adblock pattern"};
    if (pat.find_first_of("/:?=&^") != std::string_view::npos) return {Outcome::Browser};  // paths, ports, queries
    if (!r.plain()) r.text = std::string(trim(raw_));
    if (pat.find('*') != std::string_view::npos) {
      return add_glob(pat, subtree ? "(^|\\.)" : (anchored ? "^" : ""), end_anchor ? "$" : "", Format::Adblock,
                      std::move(r));
    }
    if (const char* err = normalize_domain(pat, r.name)) return {Outcome::Invalid, err};
    if (is_self_entry(r.name)) return {Outcome::Self};
    r.kind = subtree ? RuleKind::Subtree : RuleKind::Exact;
    emit(std::move(r));
    return {Outcome::Done};
  }

  const ParseOptions& opts_;
  const RuleSink& sink_;
  ParseStats& stats_;
  Format format_ = Format::Domains;
  bool subtree_plain_ = false;
  bool in_parens_ = false;
  uint32_t line_ = 0;
  std::string_view raw_;
  std::string name_;  // reused for every plain name
};

}  // namespace

void parse_list(std::string_view text, const ParseOptions& opts, const RuleSink& sink, ParseStats& stats) {
  Parser(opts, sink, stats).run(text);
}

ParseStats detect_list(std::string_view text, const ParseOptions& opts) {
  ParseStats stats;
  const RuleSink none;
  return Parser(opts, none, stats).detect_only(text);
}

const char* parse_entry(std::string_view pattern, Rule& out) {
  ParseStats stats;
  ParseOptions opts;
  bool got = false;
  RuleSink sink = [&](Rule&& r) {
    out = std::move(r);
    got = true;
  };
  Parser p(opts, sink, stats);
  LineResult r = p.entry(pattern);
  if (got) {
    out.text = std::string(pattern);
    return nullptr;
  }
  switch (r.outcome) {
    case Outcome::Self: return "refers to the local host";
    case Outcome::Browser: return "only meaningful in a browser";
    case Outcome::Unsupported: return "modifier not supported";
    case Outcome::Comment: return "empty entry";
    default: return r.reason ? r.reason : "invalid entry";
  }
}

}  // namespace hush::blocklists

// Parsing of published list formats into rules. One call per file; the format
// is detected per file and every line is still classified on its own, so a
// hosts file with a stray "||a.com^" line loses nothing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace hush::blocklists {

enum class Format : uint8_t { Hosts, Domains, Adblock, Wildcard, Regex, Dnsmasq, Rpz };
inline constexpr size_t kFormatCount = 7;
const char* format_name(Format f);

enum class RuleKind : uint8_t {
  Exact,    // the name only
  Subtree,  // the name and everything below it
  Regex,    // RE2 pattern searched in the name (Pi-hole semantics: unanchored)
};

struct Rule {
  std::string name;  // normalised domain, or the regex pattern for RuleKind::Regex
  RuleKind kind = RuleKind::Exact;
  Format format = Format::Domains;
  bool allow = false;      // "@@" exception or RPZ passthru
  bool important = false;  // $important
  bool badfilter = false;  // $badfilter: cancels the identical rule without it
  std::vector<uint16_t> dnstype, not_dnstype;        // $dnstype=A|~AAAA
  std::vector<std::string> client, not_client;        // $client=ip|cidr|'name'
  std::string text;  // the line as written; kept only when the rule is not a plain name
  uint32_t line = 0;

  // Plain rules go to the compact compiled set; others need per-rule data.
  bool plain() const {
    return kind != RuleKind::Regex && !important && !badfilter && dnstype.empty() &&
           not_dnstype.empty() && client.empty() && not_client.empty();
  }
  // Same rule ignoring $badfilter and the text.
  bool same_rule(const Rule& o) const;
};

struct InvalidLine {
  size_t line = 0;
  std::string text;
  std::string reason;
};

struct ParseStats {
  Format detected = Format::Domains;
  bool plain_means_subdomains = false;  // from options, header or file name
  std::string syntax_header;            // "Syntax:" header value, if any
  size_t lines = 0;
  size_t comments = 0;  // comment, header and blank lines
  size_t rules = 0;
  std::array<size_t, kFormatCount> by_format{};
  size_t self_entries = 0;     // localhost & co, skipped silently
  size_t skipped_browser = 0;  // cosmetic, path, $third-party... rules
  size_t skipped_unsupported = 0;  // DNS rules we cannot honour ($ctag, $dnsrewrite, rewrites)
  size_t invalid = 0;
  std::vector<InvalidLine> first_invalid;  // at most kKeptInvalid
};
inline constexpr size_t kKeptInvalid = 10;

// A plain rule's normalised name (valid until the call returns), whether it
// covers subdomains and whether it allows.
using PlainSink = std::function<void(std::string_view name, bool subtree, bool allow)>;

struct ParseOptions {
  bool subdomains = false;     // ListSource::subdomains
  std::string_view file_name;  // for "onlydomains"/"regex" hints
  // If set, plain names from hosts, domains, wildcard, dnsmasq and RPZ
  // lines go here instead of the RuleSink, without building a Rule: most of
  // a big list's lines, and their per-line allocations.
  const PlainSink* plain = nullptr;
  // Set when a list is parsed in parts: what detect_list() found at the
  // list's start, used instead of detecting the format again from the part.
  const ParseStats* detected = nullptr;
};

using RuleSink = std::function<void(Rule&&)>;

// Parses a whole list. Never fails: bad lines are counted in `stats`.
void parse_list(std::string_view text, const ParseOptions& opts, const RuleSink& sink,
                ParseStats& stats);

// The format of a list and what its header says plain names mean, as
// parse_list() finds them (the header and the first 500 rule lines): only
// the detection fields of the result are set.
ParseStats detect_list(std::string_view text, const ParseOptions& opts);

// Parses one allow/deny entry as written in the configuration
// ("a.com", "*.a.com", "||a.com^$important", "/re/"). Returns nullptr on
// success or the reason it was rejected.
const char* parse_entry(std::string_view pattern, Rule& out);

}  // namespace hush::blocklists

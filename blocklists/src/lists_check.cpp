#include <chrono>
#include <ostream>

#include "hush/blocklists/compiled_lists.h"
#include "hush/blocklists/policy.h"

namespace hush::blocklists {

int lists_check(const std::string& path, std::ostream& out) {
  ListSource src;
  src.name = path;
  src.path = path;
  const auto t0 = std::chrono::steady_clock::now();
  CompiledLists cl = compile_lists({src});
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const ListReport& l = cl.lists.front();
  out << path << "\n";
  if (!l.error.empty()) {
    out << "  error: " << l.error << "\n";
    return 1;
  }
  const ParseStats& s = l.stats;
  out << "  format: " << format_name(s.detected);
  if (!s.syntax_header.empty()) out << " (Syntax: " << s.syntax_header << ")";
  out << "\n  plain names block subdomains: " << (s.plain_means_subdomains ? "yes" : "no") << "\n";
  out << "  lines: " << s.lines << ", comments/blank: " << s.comments << ", rules: " << s.rules << "\n";
  for (size_t f = 0; f < kFormatCount; ++f) {
    if (s.by_format[f]) out << "    " << format_name(static_cast<Format>(f)) << ": " << s.by_format[f] << "\n";
  }
  out << "  self entries skipped: " << s.self_entries << "\n";
  out << "  browser-only rules skipped: " << s.skipped_browser << "\n";
  out << "  unsupported DNS rules skipped: " << s.skipped_unsupported << "\n";
  out << "  invalid lines: " << s.invalid << "\n";
  for (const InvalidLine& inv : s.first_invalid) {
    out << "    line " << inv.line << ": " << inv.reason << ": " << inv.text << "\n";
  }
  if (s.invalid > s.first_invalid.size()) out << "    ... " << s.invalid - s.first_invalid.size() << " more\n";
  out << "  compiled: " << cl.block.size() << " block + " << cl.allow.size() << " allow names, "
      << cl.rules.size() << " regex/modifier rules; " << cl.dropped_covered
      << " names dropped as covered by a wildcard parent\n";
  out << "  compiled size: " << cl.memory_bytes() << " bytes";
  const size_t names = cl.block.size() + cl.allow.size();
  if (names) out << " (" << static_cast<double>(cl.block.memory_bytes() + cl.allow.memory_bytes()) / names
                 << " bytes/name)";
  out << ", parse+compile " << ms << " ms\n";
  return s.rules > 0 ? 0 : 1;
}

}  // namespace hush::blocklists

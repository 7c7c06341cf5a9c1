#include "config/edit.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <toml++/toml.h>

#include "base/file.hpp"
#include "base/file_lock.hpp"
#include "config/config.hpp"

namespace hush {

namespace {

// Byte offset of each line's start (lines counted from 1; [0] unused).
std::vector<size_t> line_starts(const std::string& text) {
  std::vector<size_t> starts{0, 0};
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') starts.push_back(i + 1);
  return starts;
}

// The byte offset of toml++'s (line, column): columns count code points.
size_t offset_of(const std::string& text, const std::vector<size_t>& starts, const toml::source_position& p) {
  if (p.line >= starts.size()) return text.size();
  size_t i = starts[p.line];
  for (uint32_t col = 1; col < p.column && i < text.size() && text[i] != '\n';) {
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
    ++col;
  }
  return i;
}

// The end of line `line`, past its newline.
size_t line_end(const std::string& text, const std::vector<size_t>& starts, size_t line) {
  return line + 1 < starts.size() ? starts[line + 1] : text.size();
}

// One edit against the text as it is now (offsets move after each edit,
// so the text is parsed again for the next one: a few keys at a time).
bool apply_one(std::string& text, const ConfigEdit& edit, std::string& error) {
  toml::table parsed;
  try {
    parsed = toml::parse(text);
  } catch (const toml::parse_error& e) {
    error = "line " + std::to_string(e.source().begin.line) + ": " + std::string(e.description());
    return false;
  }
  const std::string& key = edit.first;
  std::vector<size_t> starts = line_starts(text);
  if (const toml::node* n = parsed.at_path(key).node()) {
    size_t begin = offset_of(text, starts, n->source().begin);
    size_t end = offset_of(text, starts, n->source().end);
    if (edit.second) {
      text.replace(begin, end - begin, *edit.second);
    } else {
      // The key's whole lines go: from the start of its line to the end of the value's.
      size_t first = starts[n->source().begin.line];
      text.erase(first, line_end(text, starts, n->source().end.line) - first);
    }
    return true;
  }
  if (!edit.second) return true;  // absent already
  size_t dot = key.rfind('.');
  if (dot == std::string::npos || dot == 0 || key.find('.') != dot) {
    error = key + ": only keys of the form table.key can be added";
    return false;
  }
  std::string table = key.substr(0, dot), name = key.substr(dot + 1);
  if (!text.empty() && text.back() != '\n') text += '\n';
  const toml::table* t = parsed.at_path(table).as_table();
  if (!t) {
    text += "\n[" + table + "]\n" + name + " = " + *edit.second + "\n";
    return true;
  }
  // Under the table's header; a table made by dotted keys ("cache.x = 1"
  // at the top) gets another dotted key beside them.
  size_t header_line = t->source().begin.line;
  if (header_line == 0 || header_line >= starts.size()) {
    error = key + ": cannot find where table " + table + " is in the file";
    return false;
  }
  size_t at = line_end(text, starts, header_line);
  std::string line_text = text.substr(starts[header_line], at - starts[header_line]);
  bool header = line_text.find_first_not_of(" \t") != std::string::npos && line_text[line_text.find_first_not_of(" \t")] == '[';
  std::string insert = (header ? name : key) + " = " + *edit.second + "\n";
  if (at == text.size() && !text.empty() && text.back() != '\n') insert = "\n" + insert;
  text.insert(at, insert);
  return true;
}

// "file:12: key: message" without its line number, to tell a problem the
// file had before an edit from one the edit brings.
std::string without_line(const std::string& e, const std::string& file) {
  if (e.rfind(file + ":", 0) != 0) return e;
  size_t colon = e.find(':', file.size() + 1);
  return colon == std::string::npos ? e : file + e.substr(colon);
}

Config checked(const std::string& text, const std::string& path, std::vector<std::string>& errors) {
  Config c;
  if (load_config_text(text, path, c, errors) && resolve(c, errors)) check_upstream_loops(c, errors);
  return c;
}

}  // namespace

namespace {

// Under the file's lock: `next` makes the new text from the file's; it is
// checked as `hush check` checks (problems the file had already are not
// this change's) and written atomically.
bool write_checked(const std::string& path,
                   const std::function<bool(const std::string& text, std::string& next, std::string& error)>& next_of,
                   std::vector<KeyChange>& changed, std::vector<std::string>& errors) {
  FileLock lock(path);
  std::optional<std::string> text = read_file(path);
  if (!text) {
    errors.push_back(path + ": cannot read the file");
    return false;
  }
  std::string next, error;
  if (!next_of(*text, next, error)) {
    errors.push_back(path + ": " + error);
    return false;
  }
  std::vector<std::string> before, after;
  Config old_cfg = checked(*text, path, before), new_cfg = checked(next, path, after);
  std::set<std::string> known;
  for (const std::string& e : before) known.insert(without_line(e, path));
  size_t had = errors.size();
  for (const std::string& e : after)
    if (!known.count(without_line(e, path))) errors.push_back(e);
  if (errors.size() != had) return false;
  if (next != *text)
    if (std::string why = write_file_atomic(path, {next}, 0644); !why.empty()) {
      errors.push_back(why);
      return false;
    }
  changed = differing_keys(old_cfg, new_cfg);
  return true;
}

// The dotted names of `t`'s values (tables opened, arrays of tables kept
// whole), each with its node.
void leaves(const toml::table& t, const std::string& prefix, std::vector<std::pair<std::string, const toml::node*>>& out) {
  for (auto&& [k, node] : t) {
    std::string name = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const toml::table* sub = node.as_table()) leaves(*sub, name, out);
    else out.emplace_back(name, &node);
  }
}

std::optional<toml::table> parsed(const std::string& text, std::string& error) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    error = "line " + std::to_string(e.source().begin.line) + ": " + std::string(e.description());
    return std::nullopt;
  }
}

// Edits that remove the local keys of `text` (parsed as `t`).
std::vector<ConfigEdit> without_local(const toml::table& t) {
  std::vector<std::pair<std::string, const toml::node*>> all;
  leaves(t, "", all);
  std::vector<ConfigEdit> edits;
  for (const auto& leaf : all)
    if (key_is_local(leaf.first)) edits.push_back({leaf.first, std::nullopt});
  return edits;
}

}  // namespace

bool edit_config_file(const std::string& path,
                      const std::function<std::vector<ConfigEdit>(const std::string& text)>& make,
                      std::vector<KeyChange>& changed, std::vector<std::string>& errors) {
  return write_checked(
      path,
      [&make](const std::string& text, std::string& next, std::string& error) {
        return edit_config_text(text, make(text), next, error);
      },
      changed, errors);
}

bool key_is_local(const std::string& name) {
  static const char* const tables[] = {"server.", "http.", "dot.", "doh.", "tls.", "sync.", "dnstap.", "export.", "devices."};
  static const char* const keys[] = {"report.overrides", "dnssec.trust_anchor", "upstream.tls_ca_file",
                                     "local.hostname", "local.hosts_files", "local.zone_files"};
  for (const char* t : tables)
    if (name.rfind(t, 0) == 0) return true;
  for (const char* k : keys)
    if (name == k) return true;
  return false;
}

std::optional<std::string> shared_config_text(const std::string& text, std::string& error) {
  auto t = parsed(text, error);
  if (!t) return std::nullopt;
  std::string out;
  if (!edit_config_text(text, without_local(*t), out, error)) return std::nullopt;
  return out;
}

bool follow_config_text(const std::string& mine, const std::string& shared, std::string& out, std::string& error) {
  auto theirs = parsed(shared, error);
  auto own = theirs ? parsed(mine, error) : std::nullopt;
  if (!own) return false;
  std::vector<ConfigEdit> edits = without_local(*theirs);
  std::vector<std::pair<std::string, const toml::node*>> all;
  leaves(*own, "", all);
  std::vector<size_t> starts = line_starts(mine);
  for (const auto& leaf : all) {
    if (!key_is_local(leaf.first)) continue;
    size_t begin = offset_of(mine, starts, leaf.second->source().begin);
    size_t end = offset_of(mine, starts, leaf.second->source().end);
    edits.push_back({leaf.first, mine.substr(begin, end - begin)});
  }
  return edit_config_text(shared, edits, out, error);
}

bool follow_config_file(const std::string& path, const std::string& shared, std::vector<KeyChange>& changed,
                        std::vector<std::string>& errors) {
  return write_checked(
      path,
      [&shared](const std::string& text, std::string& next, std::string& error) {
        return follow_config_text(text, shared, next, error);
      },
      changed, errors);
}

ConfigEdit list_switch_edit(const std::string& text, const std::string& name, bool enabled) {
  std::vector<std::string> off = config_strings(text, "blocking.disabled_lists");
  std::erase(off, name);
  if (!enabled) off.push_back(name);
  if (off.empty()) return {"blocking.disabled_lists", std::nullopt};
  std::string value = "[";
  for (const std::string& n : off) value += (value.size() > 1 ? ", " : "") + toml_string(n);
  return {"blocking.disabled_lists", value + "]"};
}

bool edit_config_text(const std::string& text, const std::vector<ConfigEdit>& edits, std::string& out,
                      std::string& error) {
  std::string next = text;
  for (const ConfigEdit& e : edits)
    if (!apply_one(next, e, error)) return false;
  out = std::move(next);
  return true;
}

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

std::vector<std::string> config_strings(const std::string& text, const std::string& key) {
  std::vector<std::string> out;
  try {
    toml::table parsed = toml::parse(text);
    if (const toml::array* a = parsed.at_path(key).as_array())
      for (const toml::node& e : *a)
        if (auto v = e.value<std::string>()) out.push_back(*v);
  } catch (const toml::parse_error&) {
  }
  return out;
}

}  // namespace hush

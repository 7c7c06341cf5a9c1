#include "local/load.hpp"

#include "base/file_lock.hpp"

#include <fstream>
#include <sstream>

#include "base/file.hpp"

namespace hush::local {

namespace {
std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}
std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}
std::string write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  return write_file_atomic(path, {text});
}
}  // namespace

std::vector<std::string> read_records_file(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && l[0] != '#' && l[0] != ';') lines.push_back(l);
  return lines;
}

std::shared_ptr<const Data> load(const Settings& s, std::vector<LoadError>& errors) {
  auto d = std::make_shared<Data>(s);
  for (const std::string& r : s.records)
    if (std::string why = d->zone.add(r); !why.empty()) errors.push_back({"local.records", 0, "'" + r + "': " + why});
  if (!s.records_file.empty()) {
    size_t n = 0;
    for (const std::string& r : read_records_file(s.records_file)) {
      ++n;
      if (std::string why = d->zone.add(r); !why.empty()) errors.push_back({s.records_file, n, why});
    }
  }
  for (const std::string& f : s.hosts_files) {
    std::optional<std::string> text = read_file(f);
    if (!text) {
      errors.push_back({f, 0, "cannot read the file"});
      continue;
    }
    d->zone.import_hosts(*text, f, errors);
  }
  for (const std::string& f : s.zone_files) d->zone.import_zone_file(f, errors);
  d->zone.add_reverse_records();
  d->interfaces = Interfaces::read();
  if (!s.hostname.empty()) {
    d->own_names.push_back(lower(s.hostname));
    d->own_names.push_back(lower(s.hostname + "." + s.domain));
  }
  for (const std::string& a : s.aliases) d->own_names.push_back(lower(a));
  return d;
}

std::string add_record(const Settings& s, const std::string& line) {
  if (s.records_file.empty()) return "no records file";
  Zone check(s.domain, s.ttl);
  if (std::string why = check.add(line); !why.empty()) return why;
  FileLock lock(s.records_file);  // two `hush local add` at once keep both lines
  std::vector<std::string> lines = read_records_file(s.records_file);
  for (const std::string& l : lines)
    if (words(l) == words(line)) return "already there";
  lines.push_back(line);
  return write_lines(s.records_file, lines);
}

std::string replace_record(const Settings& s, const std::string& old_line, const std::string& line) {
  if (s.records_file.empty()) return "no records file";
  if (!line.empty()) {
    Zone check(s.domain, s.ttl);
    if (std::string why = check.add(line); !why.empty()) return why;
  }
  FileLock lock(s.records_file);
  std::vector<std::string> lines = read_records_file(s.records_file);
  bool found = false;
  for (auto it = lines.begin(); it != lines.end();) {
    if (!found && words(*it) == words(old_line)) {
      found = true;
      it = lines.erase(it);
    } else {
      if (!line.empty() && words(*it) == words(line)) return "already there";
      ++it;
    }
  }
  if (!found) return "no such record";
  if (!line.empty()) lines.push_back(line);
  return write_lines(s.records_file, lines);
}

std::string remove_records(const Settings& s, const std::string& name, const std::string& type,
                           size_t* removed) {
  *removed = 0;
  FileLock lock(s.records_file);
  std::vector<std::string> kept;
  std::string want = lower(name);
  for (const std::string& l : read_records_file(s.records_file)) {
    Zone one(s.domain, s.ttl);
    bool match = false;
    if (one.add(l).empty()) {
      const Record& r = one.records().front();
      std::string unqualified = want + "." + lower(s.domain);
      bool name_ok = r.owner == want || r.owner == unqualified;
      bool type_ok = type.empty();
      for (const std::string& w : words(l))
        if (lower(w) == lower(type)) type_ok = true;
      match = name_ok && type_ok;
    }
    if (match)
      ++*removed;
    else
      kept.push_back(l);
  }
  if (*removed == 0) return "no record of " + name + (type.empty() ? "" : " " + type) + " in " + s.records_file;
  return write_lines(s.records_file, kept);
}

}  // namespace hush::local

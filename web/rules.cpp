#include "rules.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "auth.hpp"

namespace hush::web {

namespace {
using json = nlohmann::json;

std::vector<Rule> read_rules(const std::string& path, std::string* error) {
  std::vector<Rule> out;
  std::ifstream in(path);
  if (!in) return out;
  try {
    json j = json::parse(in);
    for (const json& r : j.value("rules", json::array())) {
      Rule rule;
      rule.id = r.value("id", "");
      rule.kind = r.value("kind", "");
      rule.pattern = r.value("pattern", "");
      rule.groups = r.value("groups", std::vector<std::string>{"default"});
      rule.comment = r.value("comment", "");
      rule.added = r.value("added", int64_t(0));
      if (!rule.id.empty() && !rule.pattern.empty() && (rule.kind == "allow" || rule.kind == "deny"))
        out.push_back(std::move(rule));
    }
  } catch (const std::exception& e) {
    if (error) *error = path + ": " + e.what();
  }
  return out;
}
}  // namespace

bool valid_group(const std::string& g) {
  if (g.empty() || g.size() > 32) return false;
  for (char c : g)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

RulesStore::RulesStore(const std::string& data_dir) : path_(data_dir + "/rules.json") {}

std::vector<Rule> RulesStore::list(std::string* error) {
  std::lock_guard lock(mu_);
  return read_rules(path_, error);
}

bool RulesStore::save(const std::vector<Rule>& rules, std::string& error) {
  json j;
  j["rules"] = json::array();
  for (const Rule& r : rules)
    j["rules"].push_back({{"id", r.id},
                          {"kind", r.kind},
                          {"pattern", r.pattern},
                          {"groups", r.groups},
                          {"comment", r.comment},
                          {"added", r.added}});
  std::string text = j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    error = "cannot write " + path_ + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

std::optional<Rule> RulesStore::add(Rule r, std::string& error) {
  while (!r.pattern.empty() && (r.pattern.back() == ' ' || r.pattern.back() == '\n')) r.pattern.pop_back();
  while (!r.pattern.empty() && r.pattern.front() == ' ') r.pattern.erase(0, 1);
  if (r.kind != "allow" && r.kind != "deny") {
    error = "kind must be allow or deny";
    return std::nullopt;
  }
  if (r.pattern.empty() || r.pattern.size() > 1024) {
    error = "pattern must have 1 to 1024 characters";
    return std::nullopt;
  }
  for (unsigned char c : r.pattern)
    if (c < 0x21 || c == 0x7f) {
      error = "pattern must not contain spaces or control characters";
      return std::nullopt;
    }
  if (r.pattern.front() != '/')  // names are case-insensitive; a regex stays as written
    for (char& c : r.pattern) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (r.pattern.front() != '/' && r.pattern.size() > 1 && r.pattern.back() == '.') r.pattern.pop_back();
  if (r.groups.empty()) r.groups = {"default"};
  for (const std::string& g : r.groups)
    if (!valid_group(g)) {
      error = "group names are 1 to 32 of a-z, 0-9, _ and -";
      return std::nullopt;
    }
  if (r.comment.size() > 200) r.comment.resize(200);
  // The policy builder must take the entry as it is.
  blocklists::PolicyConfig pc;
  pc.special_names = false;
  (r.kind == "allow" ? pc.allow : pc.deny).push_back({r.pattern, r.groups});
  blocklists::BuildReport report;
  if (!blocklists::Policy::build(pc, &report) || !report.errors.empty()) {
    error = report.errors.empty() ? "cannot use this pattern" : report.errors.front();
    return std::nullopt;
  }
  std::lock_guard lock(mu_);
  std::string read_error;
  std::vector<Rule> rules = read_rules(path_, &read_error);
  if (!read_error.empty()) {
    error = read_error;
    return std::nullopt;
  }
  for (const Rule& old : rules)
    if (old.kind == r.kind && old.pattern == r.pattern && old.groups == r.groups) {
      error = "'" + r.pattern + "' is already on the " + r.kind + " list";
      return std::nullopt;
    }
  if (rules.size() >= 10000) {
    error = "at most 10000 entries";
    return std::nullopt;
  }
  r.id = random_hex(6);
  r.added = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  rules.push_back(r);
  if (!save(rules, error)) return std::nullopt;
  return r;
}

bool RulesStore::remove(const std::string& id, std::string& error) {
  std::lock_guard lock(mu_);
  std::string read_error;
  std::vector<Rule> rules = read_rules(path_, &read_error);
  if (!read_error.empty()) {
    error = read_error;
    return false;
  }
  size_t before = rules.size();
  std::erase_if(rules, [&](const Rule& r) { return r.id == id; });
  if (rules.size() == before) {
    error = "no entry " + id;
    return false;
  }
  return save(rules, error);
}

void RulesStore::append_to(std::vector<blocklists::Entry>& allow, std::vector<blocklists::Entry>& deny) {
  for (const Rule& r : list()) (r.kind == "allow" ? allow : deny).push_back({r.pattern, r.groups});
}

}  // namespace hush::web

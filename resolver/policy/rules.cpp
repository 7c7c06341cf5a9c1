#include "policy/rules.hpp"


#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "base/clock.hpp"
#include "base/file.hpp"
#include "base/file_lock.hpp"
#include "base/random_hex.hpp"
#include "clients/groups.hpp"

namespace hush::policy {

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
  error = write_file_atomic(path_, {text});
  return error.empty();
}

namespace {

constexpr size_t kMaxRules = 10000;

// Trims and checks one entry as add() takes it; "" or why not.
std::string prepare(Rule& r) {
  while (!r.pattern.empty() && (r.pattern.back() == ' ' || r.pattern.back() == '\n')) r.pattern.pop_back();
  while (!r.pattern.empty() && r.pattern.front() == ' ') r.pattern.erase(0, 1);
  if (r.kind != "allow" && r.kind != "deny") return "kind must be allow or deny";
  if (r.pattern.empty() || r.pattern.size() > 1024) return "pattern must have 1 to 1024 characters";
  for (unsigned char c : r.pattern)
    if (c < 0x21 || c == 0x7f) return "pattern must not contain spaces or control characters";
  if (r.pattern.front() != '/')  // names are case-insensitive; a regex stays as written
    for (char& c : r.pattern) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (r.pattern.front() != '/' && r.pattern.size() > 1 && r.pattern.back() == '.') r.pattern.pop_back();
  if (r.groups.empty()) r.groups = {"default"};
  for (const std::string& g : r.groups)
    if (!clients::valid_group(g)) return "group names are 1 to 32 of a-z, 0-9, _ and -";
  if (r.comment.size() > 200) r.comment.resize(200);
  return "";
}

// The policy builder must take the entries as they are: one build for all
// of them (its errors name the entry).
std::string check_patterns(const std::vector<Rule>& rules) {
  blocklists::PolicyConfig pc;
  pc.special_names = false;
  for (const Rule& r : rules) (r.kind == "allow" ? pc.allow : pc.deny).push_back({r.pattern, r.groups});
  blocklists::BuildReport report;
  if (!blocklists::Policy::build(pc, &report) || !report.errors.empty())
    return report.errors.empty() ? "cannot use this pattern" : report.errors.front();
  return "";
}

// What makes two entries the same: kind, pattern and groups.
std::string identity(const Rule& r) {
  std::string out = r.kind + '\n' + r.pattern;
  for (const std::string& g : r.groups) out += '\n' + g;
  return out;
}

}  // namespace

template <class F>
bool RulesStore::update(std::string& error, F change) {
  std::lock_guard lock(mu_);
  // The dashboard (in the server) and `hush report block` (another process)
  // both change this file: one at a time, each on what the other wrote.
  FileLock file_lock(path_);
  std::string read_error;
  std::vector<Rule> rules = read_rules(path_, &read_error);
  if (!read_error.empty()) {
    error = read_error;
    return false;
  }
  return change(rules) && save(rules, error);
}

std::optional<Rule> RulesStore::add(Rule r, std::string& error) {
  auto added = add_all({std::move(r)}, error);
  if (!added) return std::nullopt;
  return added->front();
}

std::optional<std::vector<Rule>> RulesStore::add_all(std::vector<Rule> batch, std::string& error) {
  const bool one = batch.size() == 1;
  for (Rule& r : batch)
    if (std::string why = prepare(r); !why.empty()) {
      error = one ? why : "'" + r.pattern + "': " + why;
      return std::nullopt;
    }
  if (batch.empty()) return batch;
  if (std::string why = check_patterns(batch); !why.empty()) {
    error = why;
    return std::nullopt;
  }
  int64_t now =
      now_seconds();
  bool ok = update(error, [&](std::vector<Rule>& rules) {
    std::unordered_set<std::string> there;
    for (const Rule& old : rules) there.insert(identity(old));
    for (const Rule& r : batch)
      if (!there.insert(identity(r)).second) {
        error = "'" + r.pattern + "' is already on the " + r.kind + " list";
        return false;
      }
    if (rules.size() + batch.size() > kMaxRules) {
      error = "at most " + std::to_string(kMaxRules) + " entries";
      return false;
    }
    for (Rule& r : batch) {
      r.id = random_hex(6);
      r.added = now;
      rules.push_back(r);
    }
    return true;
  });
  if (!ok) return std::nullopt;
  return batch;
}

bool RulesStore::remove(const std::string& id, std::string& error) { return remove_all({id}, error); }

bool RulesStore::remove_all(const std::vector<std::string>& ids, std::string& error) {
  return update(error, [&](std::vector<Rule>& rules) {
    for (const std::string& id : ids)
      if (std::none_of(rules.begin(), rules.end(), [&](const Rule& r) { return r.id == id; })) {
        error = "no entry " + id;
        return false;
      }
    std::erase_if(rules, [&](const Rule& r) { return std::find(ids.begin(), ids.end(), r.id) != ids.end(); });
    return true;
  });
}

void RulesStore::append_to(std::vector<blocklists::Entry>& allow, std::vector<blocklists::Entry>& deny,
                           std::string* error) {
  for (const Rule& r : list(error)) (r.kind == "allow" ? allow : deny).push_back({r.pattern, r.groups});
}

size_t RulesStore::rename_group(const std::string& from, const std::string& to, std::string& error) {
  size_t changed = 0;
  update(error, [&](std::vector<Rule>& rules) {
    for (Rule& r : rules)
      for (std::string& g : r.groups)
        if (g == from) {
          g = to;
          ++changed;
        }
    return changed > 0;
  });
  return changed;
}

}  // namespace hush::policy

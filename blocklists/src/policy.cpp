#include "hush/blocklists/policy.h"

#include <malloc.h>
#include <algorithm>
#include <array>
#include <chrono>
#include <mutex>

#include "hush/blocklists/client_table.h"
#include "hush/blocklists/compiled_lists.h"
#include "hush/blocklists/persist.h"
#include "hush/blocklists/regex_set.h"

namespace hush::blocklists {
namespace {

// Precedence, highest first. An $important block beats allow rules, an
// $important allow beats that; the local denylist beats subscribed lists
// only in that it is consulted first for reporting, both block.
enum Rank : uint8_t {
  kNone = 0,
  kListBlock = 1,
  kDeny = 2,
  kAllow = 3,
  kImportantBlock = 4,
  kImportantAllow = 5,
};

constexpr std::string_view kAllowList = "allowlist";
constexpr std::string_view kDenyList = "denylist";
constexpr std::string_view kSpecialList = "special-names";

// Names whose NXDOMAIN is a signal: Firefox turns off its own DoH on
// use-application-dns.net, iCloud Private Relay steps aside on mask*.icloud.com.
constexpr std::array<std::string_view, 3> kSpecialNames = {"use-application-dns.net", "mask.icloud.com",
                                                           "mask-h2.icloud.com"};

struct PolicyRule {
  std::string name;  // domain for exact/subtree rules, empty for regexes
  std::string text;
  std::string_view list;
  GroupMask groups = 0;
  Rank rank = kNone;
  RuleKind kind = RuleKind::Exact;
  std::vector<uint16_t> dnstype, not_dnstype;
  bool client_required = false;  // $client named someone: unknown clients don't match
  std::vector<Cidr> client, not_client;

  bool applies(uint16_t qtype, const sockaddr* sa) const {
    if (!dnstype.empty() && std::find(dnstype.begin(), dnstype.end(), qtype) == dnstype.end()) return false;
    if (std::find(not_dnstype.begin(), not_dnstype.end(), qtype) != not_dnstype.end()) return false;
    if (client_required && !cidr_list_contains(client, sa)) return false;
    if (!not_client.empty() && cidr_list_contains(not_client, sa)) return false;
    return true;
  }
};

struct Best {
  Rank rank = kNone;
  std::string_view list;
  std::string_view rule;
  Match match = Match::None;
};

// Named groups take bits 0-63 ("default" is bit 0), devices' own groups
// bits 64-127, each half filled in the order the build meets them.
class GroupRegistry {
 public:
  GroupRegistry() { named_.emplace_back("default"); }
  GroupMask mask(const std::vector<std::string>& groups, std::vector<std::string>& errors) {
    GroupMask m = 0;
    for (const auto& g : groups) m |= bit(g, errors);
    return m;
  }
  GroupMask bit(const std::string& g, std::vector<std::string>& errors) {
    if (g == kEveryGroup) return ~GroupMask{0};
    if (GroupMask b = find(g)) return b;
    const bool device = is_device_group(g);
    std::vector<std::string>& names = device ? devices_ : named_;
    if (names.size() == (device ? kMaxDeviceGroups : kMaxNamedGroups)) {
      errors.push_back(device ? "more than 64 devices with controls of their own; ignoring group \"" + g + "\""
                              : "more than 64 groups; ignoring group \"" + g + "\"");
      return 0;
    }
    names.push_back(g);
    return GroupMask{1} << ((device ? 64 : 0) + names.size() - 1);
  }
  GroupMask find(std::string_view g) const {
    const bool device = is_device_group(g);
    const std::vector<std::string>& names = device ? devices_ : named_;
    auto it = std::find(names.begin(), names.end(), g);
    return it == names.end() ? 0 : GroupMask{1} << ((device ? 64 : 0) + (it - names.begin()));
  }

 private:
  std::vector<std::string> named_, devices_;
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

struct PolicyData {
  CompiledLists lists;
  std::vector<GroupMask> list_groups;  // by list id
  std::vector<PolicyRule> rules;       // user entries and list rules with modifiers
  SetTable rule_sets;
  CompiledSet rule_names;              // names of non-regex `rules`, ids = rule index
  RegexSet regex;
  std::vector<uint32_t> regex_rule;    // regex index -> rule index
  ClientTable clients;
  GroupRegistry groups;
  GroupMask paused = 0;
  bool special_names = true;
  // Set when build() left the compiled cache for write_cache().
  std::string pending_cache_path;
  uint64_t pending_cache_key = 0;
  mutable std::once_flag cache_written;

  void consider(uint32_t ri, Match m, GroupMask groups, uint16_t qtype, const sockaddr* sa, Best& best) const {
    const PolicyRule& r = rules[ri];
    if (r.rank <= best.rank || !(r.groups & groups) || !r.applies(qtype, sa)) return;
    best = {r.rank, r.list, r.text, m};
  }

  // First list of `set` that serves one of `groups`, or -1.
  int64_t serving_list(uint32_t set, GroupMask groups) const {
    int64_t found = -1;
    lists.sets.for_each(set, [&](uint32_t l) {
      if (!(list_groups[l] & groups)) return false;
      found = l;
      return true;
    });
    return found;
  }

  void bulk(const CompiledSet& set, Rank rank, const SuffixHasher& hashed, std::string_view name, GroupMask groups,
            Best& best) const {
    set.for_each_match(hashed, name, [&](uint32_t s, bool subtree, size_t len) {
      int64_t l = serving_list(s, groups);
      if (l < 0) return false;
      best = {rank, lists.lists[static_cast<size_t>(l)].name, name.substr(name.size() - len),
              subtree ? Match::Subdomains : Match::Exact};
      return true;
    });
  }
};

Policy::Policy() : d_(std::make_unique<PolicyData>()) {}
Policy::~Policy() = default;

namespace {

// Policy::build()'s steps, in order, on the policy being built. Each records
// what it cannot use in the report's errors and goes on without it.
class Builder {
 public:
  Builder(PolicyData& d, const PolicyConfig& config, BuildReport& rep) : d_(d), config_(config), rep_(rep) {}

  // Lists: from the cache when it matches, else parsed and cached.
  void load_lists() {
    uint64_t key = cache_key(config_.lists);
    bool loaded = false;
    if (!config_.compiled_cache_path.empty()) {
      std::string why = load_compiled(config_.compiled_cache_path, key, d_.lists);
      loaded = why.empty();
      rep_.cache_status = loaded ? "loaded " + config_.compiled_cache_path : why;
    }
    if (!loaded) compile_and_cache(key);
    rep_.from_cache = loaded;
    for (const auto& l : d_.lists.lists) {
      if (!l.error.empty()) rep_.errors.push_back(l.name + ": " + l.error);
    }
  }

  // The lists' groups, the pauses' and the entries', then the clients' (first,
  // so $client='name' can resolve to their addresses). A device's own group
  // gets a bit only when a list, pause or entry names it: a device keeps its
  // group after its controls end, and such a group would match nothing.
  void add_groups_and_clients() {
    for (const ListSource& s : config_.lists) d_.list_groups.push_back(d_.groups.mask(s.groups, rep_.errors));
    d_.list_groups.resize(d_.lists.lists.size(), kDefaultGroup);
    d_.paused = d_.groups.mask(config_.paused, rep_.errors);
    std::vector<std::string> said_later;  // add_entries() reports a group past the bound
    for (const std::vector<Entry>* entries : {&config_.allow, &config_.deny})
      for (const Entry& e : *entries) d_.groups.mask(e.groups, said_later);
    auto client_mask = [&](const std::vector<std::string>& groups) {
      GroupMask m = 0;
      for (const std::string& g : groups) m |= is_device_group(g) ? d_.groups.find(g) : d_.groups.bit(g, rep_.errors);
      return m;
    };
    for (const ClientRule& c : config_.clients) {
      Cidr cidr;
      if (std::string_view id = client_id_of(c.cidr_or_ip); !id.empty()) {
        d_.clients.add_id(id, client_mask(c.groups));
        continue;
      }
      if (!parse_cidr(c.cidr_or_ip, cidr)) {
        rep_.errors.push_back("client \"" + c.cidr_or_ip + "\": not an IP address, a CIDR or id:NAME");
        continue;
      }
      d_.clients.add(cidr, client_mask(c.groups));
    }
  }

  // The lists' rules with modifiers and regexes, then the allow and deny entries.
  void add_rules() {
    for (size_t i = 0; i < d_.lists.rules.size(); ++i) {
      uint32_t l = d_.lists.rule_list[i];
      Rank base = d_.lists.rules[i].allow ? kAllow : kListBlock;
      add_rule(Rule(d_.lists.rules[i]), d_.lists.lists[l].name, d_.list_groups[l], base);
    }
    add_entries(config_.allow, kAllowList, kAllow);
    add_entries(config_.deny, kDenyList, kDeny);
  }

  // The regexes compiled into one set, the other rules' names into a CompiledSet.
  void index_rules() {
    std::string regex_err;
    if (!d_.regex.compile(&regex_err)) rep_.errors.push_back(regex_err);
    d_.rule_sets = SetTable(static_cast<uint32_t>(d_.rules.size()));
    CompiledSet::Builder rb;
    for (uint32_t i = 0; i < d_.rules.size(); ++i) {
      if (d_.rules[i].kind != RuleKind::Regex) rb.add(d_.rules[i].name, i, d_.rules[i].kind == RuleKind::Subtree);
    }
    d_.rule_names = rb.build(d_.rule_sets, false);
  }

 private:
  void compile_and_cache(uint64_t key) {
    d_.lists = compile_lists(config_.lists);
    if (config_.compiled_cache_path.empty()) return;
    if (config_.write_cache_later) {
      d_.pending_cache_path = config_.compiled_cache_path;
      d_.pending_cache_key = key;
      rep_.cache_status += rep_.cache_status.empty() ? "to be written" : "; rebuilt, to be written";
      return;
    }
    std::string err = save_compiled(d_.lists, key, config_.compiled_cache_path);
    if (!err.empty()) rep_.errors.push_back(err);
    else rep_.cache_status += rep_.cache_status.empty() ? "written" : "; rebuilt and written";
    // The name sets were built in their own mappings, already returned; what
    // the parser left in the heap goes back too.
    malloc_trim(0);
  }

  void resolve_clients(const std::vector<std::string>& specs, std::vector<Cidr>& out) {
    for (const auto& spec : specs) {
      Cidr cidr;
      if (parse_cidr(spec, cidr)) {
        out.push_back(cidr);
        continue;
      }
      bool named = false, by_id = false;
      for (const ClientRule& c : config_.clients) {
        if (c.name != spec) continue;
        if (parse_cidr(c.cidr_or_ip, cidr)) {
          out.push_back(cidr);
          named = true;
        } else {
          by_id = by_id || !client_id_of(c.cidr_or_ip).empty();
        }
      }
      if (!named && by_id)
        rep_.errors.push_back("$client: client \"" + spec + "\" is known by its ID, not an address; give it a group instead");
      else if (!named)
        rep_.errors.push_back("$client: unknown client \"" + spec + "\"");
    }
  }

  void add_rule(Rule&& r, std::string_view list, GroupMask groups, Rank base) {
    PolicyRule pr;
    pr.text = r.text.empty() ? r.name : std::move(r.text);
    if (r.kind != RuleKind::Regex) pr.name = std::move(r.name);
    pr.list = list;
    pr.groups = groups;
    pr.kind = r.kind;
    pr.rank = r.important ? (base == kAllow ? kImportantAllow : kImportantBlock) : base;
    pr.dnstype = std::move(r.dnstype);
    pr.not_dnstype = std::move(r.not_dnstype);
    pr.client_required = !r.client.empty();
    resolve_clients(r.client, pr.client);
    resolve_clients(r.not_client, pr.not_client);
    if (r.kind == RuleKind::Regex) {
      std::string err;
      int idx = d_.regex.add(r.name, &err);
      if (idx < 0) {
        rep_.errors.push_back("regex " + pr.text + ": " + err);
        return;
      }
      d_.regex_rule.push_back(static_cast<uint32_t>(d_.rules.size()));
    }
    d_.rules.push_back(std::move(pr));
  }

  void add_entries(const std::vector<Entry>& entries, std::string_view list, Rank rank) {
    for (const Entry& e : entries) {
      Rule r;
      if (const char* err = parse_entry(e.pattern, r)) {
        rep_.errors.push_back(std::string(list) + " entry \"" + e.pattern + "\": " + err);
        continue;
      }
      add_rule(std::move(r), list, d_.groups.mask(e.groups, rep_.errors), rank);
    }
  }

  PolicyData& d_;
  const PolicyConfig& config_;
  BuildReport& rep_;
};

}  // namespace

std::shared_ptr<const Policy> Policy::build(const PolicyConfig& config, BuildReport* report) {
  const auto t0 = std::chrono::steady_clock::now();
  BuildReport local;
  BuildReport& rep = report ? *report : local;
  rep = BuildReport{};
  std::shared_ptr<Policy> policy(new Policy());
  PolicyData& d = *policy->d_;
  d.special_names = config.special_names;

  Builder b(d, config, rep);
  b.load_lists();
  b.add_groups_and_clients();
  b.add_rules();
  b.index_rules();

  for (const auto& l : d.lists.lists) rep.lists.push_back(l);
  rep.unique_entries = policy->entry_count();
  rep.dropped_covered = d.lists.dropped_covered;
  rep.badfiltered = d.lists.badfiltered;
  rep.compiled_bytes = policy->memory_bytes();
  rep.build_ms = ms_since(t0);
  return policy;
}

GroupMask Policy::groups_for(const sockaddr* client, std::string_view client_id) const {
  return d_->clients.groups_for(client, client_id, kDefaultGroup);
}

GroupMask Policy::group_bit(std::string_view group) const { return d_->groups.find(group); }

bool is_device_group(std::string_view group) {
  if (group.size() <= kDeviceGroupPrefix.size() || !group.starts_with(kDeviceGroupPrefix)) return false;
  for (char c : group.substr(kDeviceGroupPrefix.size()))
    if (c < '0' || c > '9') return false;
  return true;
}

Decision Policy::decide(std::string_view name, uint16_t qtype, GroupMask groups, const sockaddr* client) const {
  const PolicyData& d = *d_;
  if (groups & d.paused) return {};
  Best best;
  // Hashed once for the rules, the allowlist and the blocklist.
  // (Left with no labels, which no set matches, for a name no set can hold.)
  const bool valid = !name.empty() && name.size() <= kMaxNameLength;
  SuffixHasher hashed(valid ? name : std::string_view(""));
  if (valid) {
    hashed.next();
    hashed.next();
    d.lists.block.prefetch_anchor(hashed);
    hashed.finish();
  }
  if (!d.rules.empty()) {
    d.rule_names.for_each_match(hashed, name, [&](uint32_t set, bool, size_t) {
      d.rule_sets.for_each(set, [&](uint32_t ri) {
        d.consider(ri, Match::Rule, groups, qtype, client, best);
        return false;
      });
      return best.rank == kImportantAllow;
    });
    if (best.rank < kImportantAllow) {
      d.regex.for_each_match(name, [&](size_t i) {
        d.consider(d.regex_rule[i], Match::Regex, groups, qtype, client, best);
        return best.rank == kImportantAllow;
      });
    }
  }
  if (best.rank < kAllow) d.bulk(d.lists.allow, kAllow, hashed, name, groups, best);
  if (best.rank < kAllow && d.special_names &&
      std::find(kSpecialNames.begin(), kSpecialNames.end(), name) != kSpecialNames.end()) {
    return {Action::Block, Forced::NxDomain, kSpecialList, name, Match::Special};
  }
  if (best.rank == kNone) d.bulk(d.lists.block, kListBlock, hashed, name, groups, best);

  Decision out;
  if (best.rank == kNone) return out;
  out.action = (best.rank == kAllow || best.rank == kImportantAllow) ? Action::Allow : Action::Block;
  out.list = best.list;
  out.rule = best.rule;
  out.match = best.match;
  return out;
}

std::string Policy::write_cache() const {
  std::string err;
  std::call_once(d_->cache_written, [&] {
    if (d_->pending_cache_path.empty()) return;
    err = save_compiled(d_->lists, d_->pending_cache_key, d_->pending_cache_path);
    malloc_trim(0);
  });
  return err;
}

bool Policy::paused(GroupMask groups) const { return (groups & d_->paused) != 0; }

size_t Policy::entry_count() const {
  return d_->lists.block.size() + d_->lists.allow.size() + d_->rules.size();
}

size_t Policy::memory_bytes() const {
  const PolicyData& d = *d_;
  size_t n = sizeof(PolicyData) + d.lists.memory_bytes() + d.rule_names.memory_bytes() +
             d.rule_sets.memory_bytes() + d.regex.memory_bytes() + d.clients.memory_bytes() +
             d.regex_rule.capacity() * sizeof(uint32_t);
  for (const PolicyRule& r : d.rules) {
    n += sizeof(PolicyRule) + r.text.capacity() + (r.client.capacity() + r.not_client.capacity()) * sizeof(Cidr);
  }
  return n;
}

std::string rule_text(const Decision& d) {
  std::string name(d.rule);
  bool allow = d.action == Action::Allow;
  switch (d.match) {
    case Match::Exact: return allow ? "@@|" + name + "^" : name;
    case Match::Subdomains: return (allow ? "@@||" : "||") + name + "^";
    default: return name;
  }
}

}  // namespace hush::blocklists

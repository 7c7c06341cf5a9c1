// Public API of the blocklist engine: the resolver builds one immutable Policy
// from configuration and asks it, per query, whether to pass, allow or block.
//
// Ownership and threading:
//  - Policy::build() returns a shared_ptr<const Policy>. A Policy never changes
//    after build, so any number of threads may call groups_for()/decide() on it
//    concurrently. To reload, build a new Policy and swap the shared_ptr.
//  - Decision::list and Decision::rule are views. They stay valid while the
//    Policy that produced them is alive, except for list-entry matches
//    (Decision::match == Exact or Subdomains with a list name), where `rule` is
//    the matched suffix of the `name` passed to decide() and lives as long as
//    the caller's buffer. Copy them if they must outlive either.
//
// Failure model: nothing here throws for bad input. Unparsable lines are
// skipped and counted in the BuildReport; an unreadable list is reported and
// the others still load; a stale or corrupt compiled cache is reported and
// rebuilt from the lists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hush/blocklists/format.h"
#include "hush/blocklists/list_source.h"

struct sockaddr;

namespace hush::blocklists {

enum class Action : uint8_t { Pass, Allow, Block };
enum class Forced : uint8_t { None, NxDomain };  // special names force NXDOMAIN

// How the deciding rule matched. Exact/Subdomains: a plain list entry, and
// `rule` is the matched name (no text is stored per entry, to keep a million
// entries small); Rule/Regex: `rule` is the text as written (allow/deny
// entries, list rules with modifiers); Special: a built-in special name.
enum class Match : uint8_t { None, Exact, Subdomains, Rule, Regex, Special };

struct Decision {
  Action action = Action::Pass;
  Forced forced = Forced::None;
  std::string_view list;  // list name, "allowlist", "denylist" or "special-names"
  std::string_view rule;  // rule text as written, or the matched name (see top)
  Match match = Match::None;
};

// Renders the deciding rule the way a list would write it ("||a.com^" for a
// Subdomains match, "@@||a.com^" if it allowed, the text otherwise).
std::string rule_text(const Decision& d);

// A bit per group. The low 64 bits are the groups people make (bit 0 is
// always "default"), the high 64 the groups that each hold one device
// (kDeviceGroupPrefix), so giving devices controls of their own never takes
// a place from the groups someone made, and a home with 64 groups can still
// block for a device alone: 64 of each at once.
using GroupMask = unsigned __int128;
inline constexpr GroupMask kDefaultGroup = 1;  // bit 0 is always "default"
inline constexpr size_t kMaxNamedGroups = 64;   // "default" included
inline constexpr size_t kMaxDeviceGroups = 64;
// "device-<digits>": a group holding one device, as the resolver names a
// device's own group (policy::device_group).
inline constexpr std::string_view kDeviceGroupPrefix = "device-";
bool is_device_group(std::string_view group);

// The group name that stands for every group, so an entry (or a pause) can
// apply to everyone, whatever groups each client is in.
inline constexpr std::string_view kEveryGroup = "*";

// Allow/deny entry: "a.com" (exact), "*.a.com" or "||a.com^" (a.com and below),
// "/regex/", optionally with adblock modifiers ("||a.com^$important").
struct Entry {
  std::string pattern;
  std::vector<std::string> groups{"default"};
  bool operator==(const Entry&) const = default;
};

// A client address, CIDR or "id:NAME" (the ID a device gives over DoT or
// DoH) and the groups it belongs to. `name` is optional and lets
// `$client='name'` modifiers in lists refer to this client's addresses.
struct ClientRule {
  std::string cidr_or_ip;
  std::vector<std::string> groups;
  std::string name;
  bool operator==(const ClientRule&) const = default;
};

struct PolicyConfig {
  std::vector<ListSource> lists;
  std::vector<Entry> allow, deny;
  std::vector<ClientRule> clients;
  // Groups whose clients get no blocking at all (a pause for one device or
  // group): decide() passes every name for a client in one of them.
  std::vector<std::string> paused;
  bool special_names = true;
  std::string compiled_cache_path;  // empty = don't persist
  // Lists compiled from text are written to compiled_cache_path only when
  // Policy::write_cache() is called, not during build(): a server answers
  // first and writes the file after (the write and its fsync were a tenth
  // of a cold start with 1M names).
  bool write_cache_later = false;
};

struct BuildReport {
  std::vector<ListReport> lists;
  size_t unique_entries = 0;    // entries in the compiled structures
  size_t dropped_covered = 0;   // names dropped because a wildcard parent covers them
  size_t badfiltered = 0;       // rules cancelled by $badfilter
  size_t compiled_bytes = 0;
  double build_ms = 0;
  bool from_cache = false;
  std::string cache_status;     // why the cache was (not) used; empty if no cache configured
  std::vector<std::string> errors;
};

struct PolicyData;

class Policy {
 public:
  // Parses and compiles every list (or maps a valid compiled cache), then adds
  // the allow/deny entries and client groups. `report` may be null. Never
  // throws for bad lines; a missing/unreadable list is reported, others load.
  // Returns null only if memory allocation fails.
  static std::shared_ptr<const Policy> build(const PolicyConfig& config, BuildReport* report);

  // Groups of a client (AF_INET/AF_INET6; v4-mapped v6 counts as v4), or of
  // the client ID it gave on an encrypted transport when an "id:NAME" rule
  // names it. Clients matching no ClientRule, or a null address, are in
  // "default". Allocation-free.
  GroupMask groups_for(const sockaddr* client, std::string_view client_id = {}) const;

  // `name` must be lower case without trailing dot (as the resolver
  // canonicalises qnames). `client` may be null; then `$client` rules that
  // require a client never match. Allocation-free and thread-safe.
  Decision decide(std::string_view name, uint16_t qtype, GroupMask groups,
                  const sockaddr* client) const;

  // Whether clients of `groups` get no blocking (a pause for them).
  bool paused(GroupMask groups) const;

  size_t entry_count() const;
  size_t memory_bytes() const;

  // With PolicyConfig::write_cache_later, writes the compiled lists that
  // build() left unwritten; a no-op otherwise or when called again. Returns
  // "" or the error. Safe to call while other threads call decide().
  std::string write_cache() const;

  // Bit for a group name, or 0 if the configuration never mentions it.
  GroupMask group_bit(std::string_view group) const;

  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;
  ~Policy();

 private:
  Policy();
  std::unique_ptr<PolicyData> d_;
};

// For `hush lists check FILE`: parses one file and prints the detected format,
// counts per format, invalid lines with numbers and the compiled size.
// Returns 0 if the file was read and yielded at least one rule, 1 otherwise.
int lists_check(const std::string& path, std::ostream& out);

}  // namespace hush::blocklists

// Who a queried name belongs to: a domain-to-company map walked label by
// label, from the full name up to its last label, so the deepest entry wins
// ("a.ads.example.com" matches "ads.example.com" before "example.com").
//
// The map is AdGuard's companiesdb (built into the binary, see
// report/data/NOTICE.md), then hush's own corrections (report/data/
// overrides.txt, built in too), then the user's override file. At the same
// depth the later layer wins: user over built-in corrections over
// companiesdb. A name no layer knows has no company; it is grouped by its
// registrable domain (the public suffix list's "site", e.g. "example.co.uk")
// so a report still says who.
//
// Override files, one entry a line ('#' starts a comment):
//     hicloud.com    = Huawei          ; telemetry
//     aliyuncs.com   = Alibaba Cloud   ; hosting
//     example.net    = -               # no company: stop the walk here
// The company is an id or a name companiesdb knows (case-insensitive) or a
// new name; the category is optional (companiesdb's names: advertising,
// site_analytics, mobile_analytics, telemetry, cdn, hosting, social_media,
// essential, misc, ...).
//
// The built-in layers are turned into a compact table at build time
// (map_embed.cpp), so loading the map parses no JSON.
//
// Threading: a CompanyMap never changes after it is made; any number of
// threads may call attribute() and match() at once. Failure model: bad
// override lines come back as "file:line: why" messages and are skipped,
// every other line is used; nothing throws.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hush::report {

struct Company {
  std::string id;       // companiesdb id ("xiaomi", "bytedance_inc") or the slug of an override's new name
  std::string name;     // "Xiaomi Inc."
  std::string website;  // "" when unknown
  // Every suffix the map gives to this company, sorted: what "block this
  // company" blocks (each as "||suffix^").
  std::vector<std::string> domains;
};

struct Attribution {
  const Company* company = nullptr;  // null: no entry (lives as long as the map)
  std::string category;              // of the matched entry; "" when no company
  std::string tracker;               // companiesdb tracker name ("Samsung Ads"); "" for overrides
  std::string matched;               // the entry that matched ("xiaomi.com"); "" when no company
  // The registrable domain of the name ("xiaomi.com" for api.account.xiaomi.com),
  // or the name itself when it has none (a bare label, a public suffix).
  std::string site;

  // What a report groups by: the company's id, else "site:" + site.
  std::string key() const;
  // What a report shows: the company's name, else the site.
  std::string display() const;
};

// What match() finds, without copies: the views point into the map and live
// as long as it.
struct Match {
  const Company* company = nullptr;  // null: no entry
  std::string_view category;         // "" when no company
  std::string_view tracker;          // "" for overrides
  std::string_view matched;          // "" when no company
};

class CompanyMap {
 public:
  // companiesdb and hush's built-in corrections, loaded on first use (once;
  // thread-safe) and shared. Never null.
  static std::shared_ptr<const CompanyMap> builtin();

  // builtin() plus the user's override file at `path` (a missing file or an
  // empty path adds nothing and is not an error). Each bad line appends
  // "path:line: why" to `errors`; the other lines are used.
  static std::shared_ptr<const CompanyMap> with_overrides(const std::string& path,
                                                          std::vector<std::string>& errors);

  // Builds a map from companiesdb's two files and override texts (for tests;
  // the built-in map is converted the same way, at build time). `overrides`
  // pairs a name for messages with a text; later texts win over earlier ones.
  static std::shared_ptr<const CompanyMap> from_data(
      std::string_view trackers_json, std::string_view companies_json,
      const std::vector<std::pair<std::string, std::string>>& overrides, std::vector<std::string>& errors);

  // `name` in any letter case, with or without a trailing dot.
  Attribution attribute(std::string_view name) const;
  // The label walk alone: no registrable domain, no allocation (what a
  // report needs for each of many names).
  Match match(std::string_view name) const;

  // A company by id or name, case-insensitive; null when unknown.
  const Company* find(std::string_view id_or_name) const;

  size_t company_count() const;
  size_t domain_count() const;
  // Heap bytes held by the map, roughly (strings, tables).
  size_t memory_bytes() const;

  struct Data;
  explicit CompanyMap(std::unique_ptr<Data> d);
  ~CompanyMap();

 private:
  std::unique_ptr<Data> d_;
};

// Lower case, no trailing dot; "" when `name` is not a usable domain name.
std::string normalize_name(std::string_view name);

// Attribution::site of `name`: its registrable domain by the public suffix
// list, else the name itself (lower case).
std::string registrable_domain(std::string_view name);

// The default place of the user's override file for a data directory.
std::string default_overrides_path(const std::string& data_dir);

}  // namespace hush::report

// Acting on a report: block a company's names for one device or a group,
// undo that, or subscribe a device's group to the catalog's list for the
// company's products (e.g. HaGeZi native.xiaomi for Xiaomi).
//
// Blocks are deny entries in the dashboard's store (<data_dir>/rules.json),
// one "||suffix^" per domain the map gives the company, scoped to a group
// and tagged "company:<id>" in their comment, so unblock removes exactly
// them. "One device" means a group of its own, "device-<id>", added to the
// device's groups (its other groups stay; the policy gives a client the
// rules of every group it is in, so other devices are unaffected).
//
// A running `hush serve` picks every change up within about two seconds
// (it polls rules.json, the devices' groups and the subscriptions), without
// a restart. Each function returns "" on success or why it failed; on
// failure nothing is half-applied except what `out` reports as done.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hush/blocklists/subscriptions/subscriptions.h"
#include "policy/schedules.hpp"
#include "report/companies.hpp"

namespace hush::report {

// Whom an action applies to: one device, or a group (exactly one of them).
struct Target {
  std::optional<int64_t> device_id;
  std::string group;
};

// The group that holds only this device.
std::string device_group(int64_t device_id);

struct BlockResult {
  std::string group;                  // the group the entries are scoped to
  std::vector<std::string> patterns;  // entries added (block) or removed (unblock)
  bool group_added = false;           // block: the device was put in its own group
  bool group_removed = false;         // unblock: the device's own group went, nothing used it any more
};

// Adds a deny entry per domain of `company` (id or name) for the target.
// Entries already there are kept, not doubled. Fails for an unknown company
// or device, a bad group name, or an unwritable store.
std::string block_company(const std::string& data_dir, const CompanyMap& map, const std::string& company,
                          const Target& target, BlockResult* out = nullptr);

// A schedule's companies (ids or names) as the deny rules block_company
// would add, kept in the schedule: the schedule then means the same names
// whatever the map says later. The ids are brought to the map's. "" or why not.
std::string schedule_companies(const CompanyMap& map, policy::Schedule& s);

// Removes what block_company added for this company and target.
std::string unblock_company(const std::string& data_dir, const CompanyMap& map, const std::string& company,
                            const Target& target, BlockResult* out = nullptr);

// The companies blocked for a target: company id -> entries (for showing a
// "blocked" state next to a company).
struct BlockedCompany {
  std::string company;  // id
  std::string group;
  size_t entries = 0;
};
std::vector<BlockedCompany> blocked_companies(const std::string& data_dir, std::string& error);

// Catalog lists for the company's products, best first (HaGeZi's native list
// before others); empty when the catalog has none.
std::vector<const blocklists::subs::CatalogEntry*> vendor_lists(const Company& company);

struct SubscribeResult {
  std::string list;   // subscription name (the catalog id)
  std::string group;  // the group it now applies to
  bool created = false;  // a new subscription (else the group was added to an existing one)
};

// Subscribes the target's group to the company's first vendor list, or to
// `catalog_id` when given (it must be one of vendor_lists()). A device gets
// its own group as for block_company. A list already subscribed gets the
// group added. `url` replaces the catalog's URL (a mirror or a file:// copy);
// "" downloads from the catalog's URL. The download itself is left to the
// server's updater (or `hush lists update`), so this never waits on the
// network. Fails when the catalog has no list for the company.
std::string subscribe_vendor(const std::string& data_dir, const blocklists::subs::Settings& settings,
                             const CompanyMap& map, const std::string& company, const Target& target,
                             const std::string& catalog_id = "", const std::string& url = "",
                             SubscribeResult* out = nullptr);

}  // namespace hush::report

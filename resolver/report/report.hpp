// The phone-home report: the query log's per-day and per-device tables read
// through the company map, so "what did this phone ask for" reads as "which
// companies did it talk to, how often, since when, and which names".
//
// Sources: domain_days (per device and UTC day: queries and blocked per
// name; device 0 = all devices), device_domains (per device and name: first
// and last seen) and, for short time series, the raw queries. Counts are
// whole UTC days: a range covers every day it touches. First seen is all
// time (as far back as the log keeps aggregates), not only the range.
//
// A ReportReader holds its own read-only connection (WAL: it reads while
// hush writes) and uses an attribution of every name of the log: the first
// report reads and attributes them all (about 0.1 s for 100,000 names),
// later ones only the names added since. Readers given one AttributionCache
// share that work: one attribution, made once. Keep one reader per thread
// and reuse it; a changed map needs new readers (and a new cache).
// Every call reports failure in `error` (non-empty) and then returns an
// empty result; nothing throws.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "querylog/reader.hpp"
#include "report/bypass.hpp"
#include "report/companies.hpp"

namespace hush::report {

// One name behind a company.
struct NameUsage {
  std::string name;
  std::string category;  // of the map entry it matched; "" when no company
  int64_t queries = 0, blocked = 0;
  int64_t first_seen_us = 0, last_seen_us = 0;  // for the device (or the first device, across devices)
};

// One company as one device (or every device) saw it.
struct CompanyUsage {
  std::string key;   // Attribution::key(): company id, or "site:<registrable domain>"
  std::string name;  // company name, or the registrable domain
  bool known = false;  // false: no company in the map; grouped by site
  std::vector<std::string> categories;  // sorted, without ""
  int64_t queries = 0, blocked = 0;
  int64_t devices = 0;  // devices that asked it in the range (overview only; 1 in a device report)
  int64_t first_seen_us = 0, last_seen_us = 0;
  std::vector<NameUsage> names;  // most queries first
  double blocked_share() const { return queries ? double(blocked) / double(queries) : 0.0; }
};

struct DeviceReport {
  int64_t device_id = 0;
  std::string device;  // display name
  int64_t queries = 0, blocked = 0;  // every name in the range
  std::vector<CompanyUsage> companies;  // most queries first
  // Names of encrypted-DNS resolvers it asked: it may be going around hush.
  std::vector<BypassEvidence> bypass;
};

// A device that talked to a company.
struct DeviceContact {
  int64_t device_id = 0;
  std::string device;
  int64_t queries = 0, blocked = 0;
  int64_t first_seen_us = 0, last_seen_us = 0;
  std::vector<NameUsage> names;
};

struct CompanyDevices {
  std::string key, name;
  bool known = false;
  std::vector<DeviceContact> devices;  // most queries first
};

struct SeriesPoint {
  int64_t start_us = 0;  // start of the hour or UTC day
  int64_t queries = 0, blocked = 0;
};

// A device asked a company, or a name, for the first time.
struct NewContact {
  enum class Kind { Company, Name };
  Kind kind = Kind::Name;
  int64_t time_us = 0;  // first seen
  int64_t device_id = 0;
  std::string device;
  std::string company_key, company;  // as CompanyUsage::key and ::name
  bool known = false;
  std::string name;      // Name: the name; Company: the first name asked of it
  std::string category;
};

enum class Step { Auto, Hour, Day };

// Devices against companies: the picture on top of the phone-home page.
// cells[row][column] are one device's queries and blocked queries to one
// company (0, 0 where it asked none).
struct Matrix {
  struct Cell {
    int64_t queries = 0, blocked = 0;
  };
  struct Column {
    std::string key, name;
    bool known = false;
    int64_t devices = 0, queries = 0, blocked = 0;
    // Every device's queries over the range, oldest first: per hour (from
    // the raw rows) for a range of up to two days, else per UTC day.
    std::vector<Cell> strip;
  };
  struct Row {
    int64_t device_id = 0;
    std::string device;
    int64_t queries = 0, blocked = 0;  // to the companies of the columns
  };
  std::vector<Column> companies;
  std::vector<Row> devices;
  std::vector<std::vector<Cell>> cells;
  size_t companies_total = 0, devices_total = 0;  // before the cut
  int64_t strip_step_us = 0, strip_start_us = 0;  // the strips' step and first cell's start
};

struct NameIndex;

// The attribution of the log's names shared by the readers over one map:
// the newest one made, held by pointer and never changed while a report
// reads it (see ReportReader::Impl::refresh). Thread-safe.
class AttributionCache {
 public:
  explicit AttributionCache(std::shared_ptr<const CompanyMap> map);
  ~AttributionCache();
  AttributionCache(const AttributionCache&) = delete;
  AttributionCache& operator=(const AttributionCache&) = delete;

 private:
  friend class ReportReader;
  std::shared_ptr<const CompanyMap> map_;
  std::mutex mu_;        // guards current_
  std::mutex build_mu_;  // held by the one reader making the next
  std::shared_ptr<NameIndex> current_;
};

class ReportReader {
 public:
  // Opens <data_dir>/hush.db read-only. Null and `error` when it is missing
  // or not a hush query log. With `shared` (made over the same map), the
  // reader uses and adds to that attribution; else one of its own.
  static std::unique_ptr<ReportReader> open(const std::string& db_path, std::shared_ptr<const CompanyMap> map,
                                            std::string& error, std::shared_ptr<AttributionCache> shared = nullptr);

  // Companies one device talked to in [since, until).
  DeviceReport device(int64_t device_id, int64_t since_us, int64_t until_us, std::string& error);

  // Every device together: companies by the number of devices, then queries.
  std::vector<CompanyUsage> overview(int64_t since_us, int64_t until_us, std::string& error);

  // The `max_companies` companies with the most devices (then queries;
  // companies on record before bare sites) against the `max_devices`
  // devices with the most queries to them, in [since, until).
  // `company_offset` skips the first companies of that order (the next
  // page of columns and strips).
  Matrix matrix(int64_t since_us, int64_t until_us, size_t max_devices, size_t max_companies, size_t company_offset,
                std::string& error);

  // The devices that talked to a company (`company`: an id or name the map
  // knows, or "site:<domain>"/a plain domain for names without a company).
  // `error` says so when the map knows no such company.
  CompanyDevices company(const std::string& company, int64_t since_us, int64_t until_us, std::string& error);

  // Queries and blocked per step for one company, for one device or (null)
  // all. Auto: hours for ranges up to two days (raw rows), else UTC days.
  // Steps without queries are left out.
  std::vector<SeriesPoint> series(const std::string& company, std::optional<int64_t> device_id, int64_t since_us,
                                  int64_t until_us, Step step, std::string& error);

  // First contacts at or after `since_us`, newest first, for one device or
  // (null) all: a Company entry when no earlier name of that company was
  // asked by the device, and a Name entry for every new name. At most
  // `limit` of each kind.
  // `totals` (when given) gets how many there were of each kind, all of them.
  struct NewContactTotals {
    size_t companies = 0, names = 0;
  };
  std::vector<NewContact> new_contacts(std::optional<int64_t> device_id, int64_t since_us, size_t limit,
                                       std::string& error, NewContactTotals* totals = nullptr);

  // Reads and attributes the log's names now (or finds them in the shared
  // cache), so that the next report need not: what a report does first.
  bool prepare(std::string& error);

  // The query log underneath, for device look-ups (find_devices, devices).
  querylog::Reader& log() { return *log_; }
  const CompanyMap& map() const { return *map_; }

  ~ReportReader();

  struct Impl;

 private:
  bool hourly_strips(const std::vector<int32_t>& groups, int64_t since_us, int64_t until_us, int64_t hour0,
                     size_t cells, std::unordered_map<int32_t, std::vector<Matrix::Cell>>& strips, std::string& error);
  ReportReader(std::unique_ptr<querylog::Reader> log, sqlite::Db db, std::shared_ptr<const CompanyMap> map,
               std::shared_ptr<AttributionCache> shared);
  std::unique_ptr<querylog::Reader> log_;
  std::shared_ptr<const CompanyMap> map_;
  std::unique_ptr<Impl> d_;
};

}  // namespace hush::report

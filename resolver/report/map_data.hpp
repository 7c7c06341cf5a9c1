// The company map's tables, internal to the report module: what the map
// (companies.cpp), the built-in map's loader (builtin_map.cpp) and the
// build-time tool that writes the built-in table (map_embed.cpp) share.
//
// The built-in map is companiesdb plus hush's corrections, converted once at
// build time into flat arrays over one text (map_table::Table): loading it
// is a walk over those arrays, with no JSON to parse at run time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "report/companies.hpp"
#include "report/overrides.hpp"

namespace hush::report {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct CompanyMap::Data {
  struct Entry {
    int32_t company = -1;  // index into companies; -1: an override said "no company"
    int32_t category = -1;
    int32_t tracker = -1;
  };
  std::vector<Company> companies;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> by_key;  // lower-case id, then name
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> domains;
  std::vector<std::string> categories, trackers;

  int32_t intern_category(std::string_view s);
  int32_t add_company(std::string id, std::string name, std::string website);
  int32_t find(std::string_view key) const;
  // Overrides in order; later lines (and later texts) win.
  void apply(const std::vector<OverrideLine>& lines);
  // Fills each company's sorted `domains`.
  void index_domains();
};

// companiesdb's dist/trackers.json and dist/companies.json as map data,
// without the companies' descriptions. A file that is not JSON appends
// "companiesdb: why" to `errors` and gives an empty map.
std::unique_ptr<CompanyMap::Data> parse_companiesdb(std::string_view trackers_json, std::string_view companies_json,
                                                    std::vector<std::string>& errors);

namespace map_table {

struct Text {
  uint32_t offset = 0, size = 0;  // into Table::text
};
struct CompanyRow {
  Text id, name, website;
};
struct DomainRow {
  Text domain;
  int32_t company, category, tracker;  // as in CompanyMap::Data::Entry
};
struct Table {
  std::string_view text;
  std::span<const CompanyRow> companies;
  std::span<const Text> categories, trackers;
  std::span<const DomainRow> domains;
  std::string_view at(Text t) const { return text.substr(t.offset, t.size); }
};

// The built-in map's table, in the source map_embed writes at build time.
const Table& builtin();

}  // namespace map_table

// Map data from a table (domains indexed per company).
std::unique_ptr<CompanyMap::Data> from_table(const map_table::Table& table);

// A C++ source defining map_table::builtin() as `d`'s table.
std::string table_source(const CompanyMap::Data& d);

}  // namespace hush::report

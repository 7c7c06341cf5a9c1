// The built-in catalog of well-known public blocklists (compiled into the
// binary; docs/CATALOG.md lists the same entries). `hush lists add catalog:ID`
// subscribes to one of them.
#pragma once

#include <span>
#include <string_view>

namespace hush::blocklists::subs {

struct CatalogEntry {
  std::string_view id;        // "hagezi-xiaomi"
  std::string_view name;      // "HaGeZi Xiaomi native tracker"
  std::string_view vendor;    // "Xiaomi", "Microsoft", "" for general lists
  std::string_view category;  // "telemetry", "ads", "multi", "bypass" (encrypted-DNS resolvers)
  std::string_view url;
  std::string_view format;    // "adblock", "hosts", "domains"
  std::string_view license;   // SPDX id where there is one
  std::string_view homepage;
  // What an entry blocks: true when the list's entries mean "the name and
  // everything below it" (adblock ||d^, wildcard *.d). The parser reads that
  // from the format itself; this is for people reading the catalog.
  bool subdomains;
  // The URL's path was checked against a copy in /work/shared/blocklists
  // (SOURCES.tsv) or the author's repository listing.
  bool verified;
};

std::span<const CatalogEntry> catalog();

// The entry with this id, or null.
const CatalogEntry* find_catalog_entry(std::string_view id);

}  // namespace hush::blocklists::subs

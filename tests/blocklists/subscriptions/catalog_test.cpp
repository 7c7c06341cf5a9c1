// The built-in catalog: unique ids, usable URLs, and docs/CATALOG.md in step.
#include <catch2/catch.hpp>

#include <set>

#include "helpers.hpp"
#include "hush/blocklists/subscriptions/catalog.h"

using namespace subs_test;
namespace subs = hush::blocklists::subs;

TEST_CASE("catalog: ids, URLs, licences, documentation", "[catalog]") {
  const std::string doc = read_file(std::string(HUSH_SOURCE_DIR) + "/docs/CATALOG.md");
  REQUIRE(!doc.empty());
  std::set<std::string_view> ids;
  for (const subs::CatalogEntry& e : subs::catalog()) {
    INFO(e.id);
    CHECK(ids.insert(e.id).second);
    CHECK(e.url.rfind("https://", 0) == 0);
    CHECK(!e.license.empty());
    CHECK(!e.homepage.empty());
    CHECK((e.category == "telemetry" || e.category == "ads" || e.category == "multi" || e.category == "bypass"));
    CHECK(doc.find("`" + std::string(e.id) + "`") != std::string::npos);
    CHECK(doc.find(std::string(e.url)) != std::string::npos);
    CHECK(subs::find_catalog_entry(e.id) == &e);
  }
  // The vendors the issue asks for.
  for (const char* id : {"hagezi-xiaomi", "hagezi-samsung", "hagezi-huawei", "hagezi-oppo-realme", "hagezi-vivo",
                         "hagezi-apple", "hagezi-amazon", "hagezi-winoffice", "hagezi-tiktok", "hagezi-lgwebos",
                         "hagezi-roku", "hagezi-light", "hagezi-multi", "hagezi-pro", "stevenblack-unified",
                         "windowsspyblocker-spy", "perflyst-smarttv", "perflyst-android", "oisd-small", "oisd-big"})
    CHECK(subs::find_catalog_entry(id) != nullptr);
  CHECK(subs::find_catalog_entry("nope") == nullptr);
  // The list of encrypted resolvers (browsers' and apps' own DoH/DoT), to
  // block going around hush with one subscription; its licence is credited.
  const subs::CatalogEntry* doh = subs::find_catalog_entry("hagezi-doh");
  REQUIRE(doh != nullptr);
  CHECK(doh->category == "bypass");
  CHECK(doh->license == "GPL-3.0");
  CHECK(doc.find("hagezi-doh") != std::string::npos);
}

// Attribution: the label walk, which layer wins, bad override lines, names
// without a company, and what the built-in data says about real vendors.
#include <catch2/catch.hpp>

#include <fstream>

#include "../querylog/helpers.hpp"
#include "report/companies.hpp"

using namespace hush::report;

namespace {

// A small companiesdb in its own format: two trackers of one company at
// different depths, a tracker without a company, and categories.
const char* kTrackers = R"({
  "categories": {"4": "advertising", "8": "misc", "15": "telemetry"},
  "trackers": {
    "acme": {"name": "Acme", "categoryId": 8, "url": "https://acme.example/", "companyId": "acme_corp"},
    "acme_ads": {"name": "Acme Ads", "categoryId": 4, "url": "https://ads.acme.example/", "companyId": "acme_corp"},
    "lonely": {"name": "Lonely Pixel", "categoryId": 15, "url": "https://pixel.example/", "companyId": null}
  },
  "trackerDomains": {
    "acme.example": "acme",
    "ads.acme.example": "acme_ads",
    "pixel.example": "lonely",
    "Shouty.Example.": "acme"
  }
})";
const char* kCompanies = R"({"companies": {
  "acme_corp": {"name": "Acme Corp.", "websiteUrl": "https://acme.example/", "description": "long text"},
  "other": {"name": "Other Inc.", "websiteUrl": "", "description": "x"}
}})";

std::shared_ptr<const CompanyMap> small(const std::string& overrides, std::vector<std::string>& errors) {
  return CompanyMap::from_data(kTrackers, kCompanies, {{"test.txt", overrides}}, errors);
}

}  // namespace

TEST_CASE("attribution walks up the labels and the deepest entry wins", "[companies]") {
  std::vector<std::string> errors;
  auto map = small("", errors);
  REQUIRE(errors.empty());
  struct Case {
    const char* name;
    const char* company;  // id, "" = none
    const char* category;
    const char* matched;
  };
  const Case cases[] = {
      {"acme.example", "acme_corp", "misc", "acme.example"},
      {"api.eu.acme.example", "acme_corp", "misc", "acme.example"},
      {"ads.acme.example", "acme_corp", "advertising", "ads.acme.example"},
      {"x.y.ads.acme.example", "acme_corp", "advertising", "ads.acme.example"},
      {"notacme.example", "", "", ""},  // a suffix of the text, not of the labels
      {"example", "", "", ""},
      {"cdn.pixel.example", "lonely", "telemetry", "pixel.example"},  // no company: the tracker is its own
      {"API.ACME.Example.", "acme_corp", "misc", "acme.example"},     // letter case and the trailing dot
      {"www.shouty.example", "acme_corp", "misc", "shouty.example"},  // the map's own case and dot too
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Attribution a = map->attribute(c.name);
    CHECK((a.company ? a.company->id : "") == std::string(c.company));
    CHECK(a.category == c.category);
    CHECK(a.matched == c.matched);
  }
  Attribution ads = map->attribute("ads.acme.example");
  CHECK(ads.tracker == "Acme Ads");
  CHECK(ads.company->name == "Acme Corp.");
  CHECK(ads.company->website == "https://acme.example/");
  CHECK(map->attribute("pixel.example").company->name == "Lonely Pixel");
  CHECK(map->find("ACME CORP.") == map->find("acme_corp"));
  CHECK(map->find("acme_corp")->domains == std::vector<std::string>{"acme.example", "ads.acme.example", "shouty.example"});
  CHECK(map->find("nobody") == nullptr);
}

TEST_CASE("names without a company are grouped by their registrable domain", "[companies]") {
  std::vector<std::string> errors;
  auto map = small("", errors);
  struct Case {
    const char* name;
    const char* site;
  };
  const Case cases[] = {
      {"a.b.unknown-vendor.com", "unknown-vendor.com"},
      {"telemetry.vendor.co.uk", "vendor.co.uk"},  // a two-label public suffix
      {"Shop.Vendor.COM.", "vendor.com"},
      {"my-app.web.app", "my-app.web.app"},  // a private suffix of the list
      {"localhost", "localhost"},            // no registrable domain: the name itself
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Attribution a = map->attribute(c.name);
    CHECK(a.company == nullptr);
    CHECK(a.site == c.site);
    CHECK(a.key() == std::string("site:") + c.site);
    CHECK(a.display() == c.site);
  }
  CHECK(map->attribute("x.acme.example").key() == "acme_corp");
}

TEST_CASE("overrides beat the data at the same depth, later lines beat earlier ones", "[companies]") {
  std::vector<std::string> errors;
  auto map = small(
      "# corrections\n"
      "acme.example = Other Inc. ; telemetry   # an existing company, by name\n"
      "newco.example = New Co ; hosting\n"
      "deep.pixel.example = acme_corp\n"
      "pixel.example = -\n"
      "newco.example = New Co ; cdn\n",
      errors);
  REQUIRE(errors.empty());
  Attribution a = map->attribute("www.acme.example");
  CHECK(a.company->id == "other");
  CHECK(a.category == "telemetry");
  CHECK(a.tracker.empty());
  // The deeper data entry still wins over the override of its parent.
  CHECK(map->attribute("ads.acme.example").company->id == "acme_corp");
  Attribution n = map->attribute("api.newco.example");
  REQUIRE(n.company);
  CHECK(n.company->id == "new_co");
  CHECK(n.company->name == "New Co");
  CHECK(n.category == "cdn");
  CHECK(map->attribute("a.deep.pixel.example").company->id == "acme_corp");
  CHECK(map->attribute("cdn.pixel.example").company == nullptr);  // "-" removed it
  CHECK(map->find("other")->domains == std::vector<std::string>{"acme.example"});
  CHECK(map->find("acme_corp")->domains ==
        std::vector<std::string>{"ads.acme.example", "deep.pixel.example", "shouty.example"});
}

TEST_CASE("bad override lines are reported with file and line, the others are used", "[companies]") {
  std::vector<std::string> errors;
  auto map = small(
      "good.example = Good Co\n"
      "no equals sign here\n"
      "*.wild.example = Wild\n"
      "bad..example = Bad\n"
      "empty.example =   \n"
      "cat.example = Cat ; Not A Word\n"
      "\n"
      "fine.example = Fine ; misc\n",
      errors);
  REQUIRE(errors.size() == 5);
  CHECK(errors[0].rfind("test.txt:2: expected 'name = company [; category]'", 0) == 0);
  CHECK(errors[1].rfind("test.txt:3: '*.wild.example' is not a domain name", 0) == 0);
  CHECK(errors[2].rfind("test.txt:4: 'bad..example' is not a domain name", 0) == 0);
  CHECK(errors[3].rfind("test.txt:5: expected a company name", 0) == 0);
  CHECK(errors[4].rfind("test.txt:6: the category after ';'", 0) == 0);
  CHECK(map->attribute("good.example").company->name == "Good Co");
  CHECK(map->attribute("fine.example").category == "misc");
  CHECK(map->attribute("cat.example").company == nullptr);
}

TEST_CASE("the user's override file sits on the built-in map", "[companies]") {
  hush::test::TempDir dir;
  std::vector<std::string> errors;
  CHECK(CompanyMap::with_overrides(dir.file("missing.txt"), errors) == CompanyMap::builtin());
  CHECK(errors.empty());
  std::ofstream(dir.file("companies.txt")) << "xiaomi.com = Huawei\nbroken line\nmy-nas.example = Me ; essential\n";
  auto map = CompanyMap::with_overrides(dir.file("companies.txt"), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind(dir.file("companies.txt") + ":2: ", 0) == 0);
  CHECK(map->attribute("api.account.xiaomi.com").company->name == "Huawei");
  CHECK(map->attribute("nas.my-nas.example").company->name == "Me");
  CHECK(CompanyMap::builtin()->attribute("api.account.xiaomi.com").company->id == "xiaomi");
}

TEST_CASE("the built-in map: companiesdb plus hush's corrections", "[companies]") {
  auto map = CompanyMap::builtin();
  CHECK(map->company_count() > 2000);
  CHECK(map->domain_count() > 5000);
  struct Case {
    const char* name;
    const char* company;
  };
  const Case cases[] = {
      {"api.account.xiaomi.com", "xiaomi"},
      {"sdkconfig.ad.xiaomi.com", "xiaomi"},
      {"data.mistat.intl.miui.com", "xiaomi"},
      {"oss-cn-hangzhou.aliyuncs.com", "alibaba_cloud"},  // companiesdb says SoftBank
      {"metrics1.data.hicloud.com", "huawei"},            // missing from companiesdb
      {"grs.dbankcloud.com", "huawei"},
      {"log.byteoversea.com", "bytedance_inc"},
      {"samsungacr.com", "samsung"},
      {"v10.events.data.microsoft.com", "microsoft"},
      {"doubleclick.net", "google"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Attribution a = map->attribute(c.name);
    REQUIRE(a.company);
    CHECK(a.company->id == c.company);
  }
  CHECK(map->find("alibaba_cloud")->name == "Alibaba Cloud");
  CHECK(map->attribute("samsungacr.com").category == "advertising");
  CHECK(map->attribute("oss-cn-hangzhou.aliyuncs.com").category == "hosting");
}

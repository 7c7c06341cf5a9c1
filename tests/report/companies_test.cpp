// Attribution: the label walk, which layer wins, bad override lines, names
// without a company, what the built-in data says about real vendors, and
// the build-time table it comes from.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "../querylog/helpers.hpp"
#include "report/companies.hpp"
#include "report/map_data.hpp"

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

TEST_CASE("match() finds what attribute() does, as views into the map", "[companies]") {
  std::vector<std::string> errors;
  auto map = small("newco.example = New Co ; hosting\n", errors);
  REQUIRE(errors.empty());
  for (const char* name : {"x.y.ads.acme.example", "API.ACME.Example.", "cdn.pixel.example", "api.newco.example",
                           "notacme.example", "bad..name", ""}) {
    INFO(name);
    Match m = map->match(name);
    Attribution a = map->attribute(name);
    CHECK(m.company == a.company);
    CHECK(m.category == a.category);
    CHECK(m.tracker == a.tracker);
    CHECK(m.matched == a.matched);
  }
  // The views outlive the name they were asked for.
  std::string name = "www.ads.acme.example";
  Match m = map->match(name);
  name.assign(name.size(), 'x');
  CHECK(m.matched == "ads.acme.example");
  CHECK(m.tracker == "Acme Ads");
  CHECK(registrable_domain("A.B.Vendor.CO.UK.") == "vendor.co.uk");
  CHECK(registrable_domain("co.uk") == "co.uk");
  CHECK(registrable_domain("not a name") == "not a name");
}

namespace {

std::string source_file(const std::string& path) {
  std::ifstream in(std::string(HUSH_SOURCE_DIR) + "/" + path, std::ios::binary);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The string literal of a generated table's text, decoded (adjacent
// literals joined, three-digit octal escapes).
std::string decoded_text(const std::string& source) {
  size_t at = source.find("kText[] =");
  REQUIRE(at != std::string::npos);
  std::string out;
  for (size_t i = at; source[i] != ';'; ++i) {
    if (source[i] != '"') continue;
    for (++i; source[i] != '"'; ++i) {
      if (source[i] == '\\') {
        out += char(std::stoi(source.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        out += source[i];
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("the built-in table is companiesdb's files with hush's corrections", "[companies]") {
  std::vector<std::string> errors;
  auto json = parse_companiesdb(source_file("resolver/report/data/companiesdb-trackers.json"),
                                source_file("resolver/report/data/companiesdb-companies.json"), errors);
  json->apply(parse_overrides(source_file("resolver/report/data/overrides.txt"), "overrides.txt", errors));
  json->index_domains();
  REQUIRE(errors.empty());
  auto table = from_table(map_table::builtin());
  REQUIRE(table->companies.size() == json->companies.size());
  for (size_t i = 0; i < json->companies.size(); ++i) {
    const Company &a = table->companies[i], &b = json->companies[i];
    INFO(b.id);
    CHECK(a.id == b.id);
    CHECK(a.name == b.name);
    CHECK(a.website == b.website);
    CHECK(a.domains == b.domains);
  }
  CHECK(table->categories == json->categories);
  CHECK(table->trackers == json->trackers);
  REQUIRE(table->domains.size() == json->domains.size());
  for (const auto& [name, e] : json->domains) {
    INFO(name);
    auto it = table->domains.find(name);
    REQUIRE(it != table->domains.end());
    CHECK(it->second.company == e.company);
    CHECK(it->second.category == e.category);
    CHECK(it->second.tracker == e.tracker);
  }
  CHECK(table->by_key == json->by_key);
}

TEST_CASE("a table's source keeps every byte of its strings", "[companies]") {
  CompanyMap::Data d;
  // Quotes, backslashes, '?', UTF-8, a newline, and digits right after an
  // escaped byte (which a short octal or hex escape would swallow).
  const std::vector<std::string> names = {"Say \"hi\"", "C:\\path\\", "Why?? ok", "Société Générale", "two\nlines",
                                          "caf\xc3\xa9" "123"};
  for (size_t i = 0; i < names.size(); ++i)
    d.add_company("id" + std::to_string(i), names[i], i % 2 ? "https://x.example/" : "");
  d.intern_category("misc");
  d.trackers.push_back("Tracker \"T\"");
  d.domains["a.example"] = {1, 0, 0};
  d.domains["b.example"] = {-1, -1, -1};
  std::string source = table_source(d);
  std::string text = decoded_text(source);
  for (const std::string& n : names) CHECK(text.find(n) != std::string::npos);
  CHECK(text.find("Tracker \"T\"") != std::string::npos);
  CHECK(source.find("{}, -1, -1, -1}") == std::string::npos);  // real rows only: no placeholder
  CHECK(source.find(",-1,-1,-1}") != std::string::npos);    // the "no company" entry
  // Each company row points at its strings.
  size_t rows = source.find("kCompanies[] = {");
  REQUIRE(rows != std::string::npos);
  for (size_t i = 0; i < names.size(); ++i) {
    rows = source.find("{{", rows) + 1;
    unsigned id_at, id_size, name_at, name_size;
    REQUIRE(std::sscanf(source.c_str() + rows, "{%u,%u},{%u,%u}", &id_at, &id_size, &name_at, &name_size) == 4);
    CHECK(text.substr(id_at, id_size) == "id" + std::to_string(i));
    CHECK(text.substr(name_at, name_size) == names[i]);
  }
}

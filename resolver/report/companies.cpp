#include "report/companies.hpp"

#include <libpsl.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "report/map_data.hpp"

namespace hush::report {

namespace {

using json = nlohmann::json;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "Alibaba Cloud" -> "alibaba_cloud", the form of companiesdb's ids.
std::string slug(std::string_view name) {
  std::string out;
  for (char c : lower(name)) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (keep) out += c;
    else if (!out.empty() && out.back() != '_') out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "company" : out;
}

// normalize_name() into a buffer of at least 254 bytes, so the map walk
// allocates nothing; the length, 0 when `name` is not a usable domain name.
size_t normalize_into(std::string_view name, char* out) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return 0;
  size_t label = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    out[i] = c;
    if (c == '.') {
      if (label == 0) return 0;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return 0;
  }
  return label ? name.size() : 0;
}

// Parses companiesdb, leaving out the companies' long descriptions (most of
// the file's bytes), so the map holds only what a report shows.
json parse_lean(std::string_view text) {
  return json::parse(text.begin(), text.end(), [](int, json::parse_event_t event, json& parsed) {
    return !(event == json::parse_event_t::key && parsed == "description");
  });
}

std::string text_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

int32_t CompanyMap::Data::intern_category(std::string_view s) {
  auto it = std::find(categories.begin(), categories.end(), s);
  if (it != categories.end()) return int32_t(it - categories.begin());
  categories.emplace_back(s);
  return int32_t(categories.size() - 1);
}

int32_t CompanyMap::Data::add_company(std::string id, std::string name, std::string website) {
  int32_t i = int32_t(companies.size());
  by_key.try_emplace(lower(id), i);
  by_key.try_emplace(lower(name), i);
  companies.push_back({std::move(id), std::move(name), std::move(website), {}});
  return i;
}

int32_t CompanyMap::Data::find(std::string_view key) const {
  auto it = by_key.find(lower(key));
  return it == by_key.end() ? -1 : it->second;
}

void CompanyMap::Data::apply(const std::vector<OverrideLine>& lines) {
  for (const OverrideLine& o : lines) {
    Entry e;
    if (o.company != "-") {
      e.company = find(o.company);
      if (e.company < 0) {
        std::string id = slug(o.company);
        while (find(id) >= 0) id += "_";
        e.company = add_company(id, o.company, "");
      }
      if (!o.category.empty()) e.category = intern_category(o.category);
    }
    domains[o.domain] = e;
  }
}

void CompanyMap::Data::index_domains() {
  for (Company& c : companies) c.domains.clear();
  for (const auto& [name, e] : domains)
    if (e.company >= 0) companies[size_t(e.company)].domains.push_back(name);
  for (Company& c : companies) std::sort(c.domains.begin(), c.domains.end());
}

std::unique_ptr<CompanyMap::Data> parse_companiesdb(std::string_view trackers_json, std::string_view companies_json,
                                                    std::vector<std::string>& errors) {
  auto d = std::make_unique<CompanyMap::Data>();
  json trackers, companies;
  try {
    trackers = parse_lean(trackers_json);
    companies = parse_lean(companies_json);
  } catch (const std::exception& e) {
    errors.push_back(std::string("companiesdb: ") + e.what());
    return d;
  }
  // value() returns a copy: keep it alive while its items are walked.
  const json company_list = companies.value("companies", json::object());
  const json category_list = trackers.value("categories", json::object());
  const json tracker_list = trackers.value("trackers", json::object());
  const json domain_list = trackers.value("trackerDomains", json::object());
  std::unordered_map<std::string, int32_t> company_of_id;
  for (const auto& [id, c] : company_list.items())
    company_of_id[id] = d->add_company(id, text_of(c, "name"), text_of(c, "websiteUrl"));
  std::unordered_map<std::string, std::string> category_names;
  for (const auto& [id, name] : category_list.items())
    if (name.is_string()) category_names[id] = name.get<std::string>();
  // A tracker without a company (or with one companies.json lacks) is its own company.
  std::unordered_map<std::string, CompanyMap::Data::Entry> tracker_entry;
  for (const auto& [id, t] : tracker_list.items()) {
    CompanyMap::Data::Entry e;
    std::string company_id = text_of(t, "companyId");
    if (company_id.empty()) company_id = id;
    auto c = company_of_id.find(company_id);
    if (c != company_of_id.end()) {
      e.company = c->second;
    } else {
      e.company = d->add_company(company_id, text_of(t, "name"), text_of(t, "url"));
      company_of_id[company_id] = e.company;
    }
    if (auto cat = t.find("categoryId"); cat != t.end() && cat->is_number_integer()) {
      auto name = category_names.find(std::to_string(cat->get<int>()));
      if (name != category_names.end()) e.category = d->intern_category(name->second);
    }
    e.tracker = int32_t(d->trackers.size());  // one per tracker: ids are unique
    d->trackers.push_back(text_of(t, "name"));
    tracker_entry[id] = e;
  }
  for (const auto& [domain, tracker] : domain_list.items()) {
    auto t = tracker.is_string() ? tracker_entry.find(tracker.get<std::string>()) : tracker_entry.end();
    std::string name = normalize_name(domain);
    if (t == tracker_entry.end() || name.empty()) continue;
    d->domains[name] = t->second;
  }
  return d;
}

std::unique_ptr<CompanyMap::Data> from_table(const map_table::Table& t) {
  auto d = std::make_unique<CompanyMap::Data>();
  d->companies.reserve(t.companies.size());
  for (const map_table::CompanyRow& c : t.companies)
    d->add_company(std::string(t.at(c.id)), std::string(t.at(c.name)), std::string(t.at(c.website)));
  for (map_table::Text c : t.categories) d->categories.emplace_back(t.at(c));
  d->trackers.reserve(t.trackers.size());
  for (map_table::Text n : t.trackers) d->trackers.emplace_back(t.at(n));
  d->domains.reserve(t.domains.size());
  for (const map_table::DomainRow& r : t.domains)
    d->domains.try_emplace(std::string(t.at(r.domain)), CompanyMap::Data::Entry{r.company, r.category, r.tracker});
  d->index_domains();
  return d;
}

std::string table_source(const CompanyMap::Data& d) {
  // Every string once in one text; rows refer to it by offset and size.
  std::string text;
  std::unordered_map<std::string_view, map_table::Text> placed;
  std::vector<std::unique_ptr<std::string>> keep;  // keys of `placed`
  auto place = [&](std::string_view s) {
    if (auto it = placed.find(s); it != placed.end()) return it->second;
    map_table::Text t{uint32_t(text.size()), uint32_t(s.size())};
    text += s;
    keep.push_back(std::make_unique<std::string>(s));
    placed.emplace(*keep.back(), t);
    return t;
  };
  auto text_row = [](map_table::Text t) { return "{" + std::to_string(t.offset) + "," + std::to_string(t.size) + "}"; };

  std::string companies, categories, trackers, domains;
  for (const Company& c : d.companies)
    companies +=
        "{" + text_row(place(c.id)) + "," + text_row(place(c.name)) + "," + text_row(place(c.website)) + "},\n";
  for (const std::string& c : d.categories) categories += text_row(place(c)) + ",\n";
  for (const std::string& t : d.trackers) trackers += text_row(place(t)) + ",\n";
  // Sorted, so the same data always gives the same source.
  std::vector<const std::pair<const std::string, CompanyMap::Data::Entry>*> sorted;
  for (const auto& entry : d.domains) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* entry : sorted) {
    const CompanyMap::Data::Entry& e = entry->second;
    domains += "{" + text_row(place(entry->first)) + "," + std::to_string(e.company) + "," +
               std::to_string(e.category) + "," + std::to_string(e.tracker) + "},\n";
  }

  // Octal escapes for everything but plain printable ASCII: always three
  // digits, so a following digit cannot extend them.
  std::string literal = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '?') {
      literal += char(c);
    } else {
      char esc[5];
      std::snprintf(esc, sizeof esc, "\\%03o", c);
      literal += esc;
    }
    if (i % 100 == 99) literal += "\"\n    \"";
  }
  literal += "\"";

  std::string out =
      "// Generated at build time by hush_map_embed (resolver/report/map_embed.cpp); do not edit.\n"
      "#include \"report/map_data.hpp\"\n\n"
      "namespace hush::report::map_table {\n\nnamespace {\n\n";
  out += "constexpr char kText[] =\n    " + literal + ";\n\n";
  // An array needs at least one element: an empty table gets a placeholder
  // row and a span that leaves it out.
  auto array = [&](const char* type, const char* name, const std::string& rows, size_t n, const char* empty) {
    out += std::string("constexpr ") + type + " " + name + "[] = {\n" + (n ? rows : std::string(empty) + "\n") + "};\n";
  };
  array("CompanyRow", "kCompanies", companies, d.companies.size(), "{}");
  array("Text", "kCategories", categories, d.categories.size(), "{}");
  array("Text", "kTrackers", trackers, d.trackers.size(), "{}");
  array("DomainRow", "kDomains", domains, d.domains.size(), "{{}, -1, -1, -1}");
  auto span = [](const char* name, size_t n) { return std::string("{") + name + ", " + std::to_string(n) + "}"; };
  out += "\n}  // namespace\n\nconst Table& builtin() {\n  static constexpr Table table{{kText, sizeof kText - 1}, " +
         span("kCompanies", d.companies.size()) + ", " + span("kCategories", d.categories.size()) + ", " +
         span("kTrackers", d.trackers.size()) + ", " + span("kDomains", d.domains.size()) +
         "};\n  return table;\n}\n\n}  // namespace hush::report::map_table\n";
  return out;
}

std::string normalize_name(std::string_view name) {
  char buf[254];
  size_t n = normalize_into(name, buf);
  return std::string(buf, n);
}

std::string registrable_domain(std::string_view name) {
  char buf[254];
  size_t n = normalize_into(name, buf);
  if (n == 0) return lower(name);
  buf[n] = '\0';
  const char* site = psl_registrable_domain(psl_builtin(), buf);
  return site ? std::string(site) : std::string(buf, n);
}

std::string default_overrides_path(const std::string& data_dir) { return data_dir + "/companies.txt"; }

std::string Attribution::key() const { return company ? company->id : "site:" + site; }
std::string Attribution::display() const { return company ? company->name : site; }

CompanyMap::CompanyMap(std::unique_ptr<Data> d) : d_(std::move(d)) {}
CompanyMap::~CompanyMap() = default;

std::shared_ptr<const CompanyMap> CompanyMap::from_data(
    std::string_view trackers_json, std::string_view companies_json,
    const std::vector<std::pair<std::string, std::string>>& overrides, std::vector<std::string>& errors) {
  auto d = parse_companiesdb(trackers_json, companies_json, errors);
  for (const auto& [source, text] : overrides) d->apply(parse_overrides(text, source, errors));
  d->index_domains();
  return std::make_shared<const CompanyMap>(std::move(d));
}

Match CompanyMap::match(std::string_view raw) const {
  char buf[254];
  size_t n = normalize_into(raw, buf);
  if (n == 0) return {};
  std::string_view name(buf, n);
  // Deepest first: the whole name, then without its first label, ...
  for (size_t pos = 0;;) {
    auto it = d_->domains.find(name.substr(pos));
    if (it != d_->domains.end()) {
      const Data::Entry& e = it->second;
      Match m;
      if (e.company >= 0) {
        m.company = &d_->companies[size_t(e.company)];
        m.matched = it->first;
        if (e.category >= 0) m.category = d_->categories[size_t(e.category)];
        if (e.tracker >= 0) m.tracker = d_->trackers[size_t(e.tracker)];
      }
      return m;
    }
    size_t dot = name.find('.', pos);
    if (dot == std::string_view::npos) return {};
    pos = dot + 1;
  }
}

Attribution CompanyMap::attribute(std::string_view name) const {
  Match m = match(name);
  Attribution a;
  a.company = m.company;
  a.category = m.category;
  a.tracker = m.tracker;
  a.matched = m.matched;
  a.site = registrable_domain(name);
  return a;
}

const Company* CompanyMap::find(std::string_view id_or_name) const {
  int32_t i = d_->find(id_or_name);
  return i < 0 ? nullptr : &d_->companies[size_t(i)];
}

size_t CompanyMap::company_count() const { return d_->companies.size(); }
size_t CompanyMap::domain_count() const { return d_->domains.size(); }

size_t CompanyMap::memory_bytes() const {
  auto str = [](const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; };
  size_t n = sizeof(Data) + d_->companies.capacity() * sizeof(Company);
  for (const Company& c : d_->companies) {
    n += str(c.id) + str(c.name) + str(c.website) + c.domains.capacity() * sizeof(std::string);
    for (const std::string& s : c.domains) n += str(s);
  }
  // Hash nodes: the pair, the cached hash and the next pointer; plus buckets.
  n += d_->domains.bucket_count() * sizeof(void*) + d_->by_key.bucket_count() * sizeof(void*);
  for (const auto& [k, e] : d_->domains) n += sizeof(std::pair<std::string, Data::Entry>) + 2 * sizeof(void*) + str(k);
  for (const auto& [k, i] : d_->by_key) n += sizeof(std::pair<std::string, int32_t>) + 2 * sizeof(void*) + str(k);
  n += (d_->trackers.capacity() + d_->categories.capacity()) * sizeof(std::string);
  for (const std::string& s : d_->trackers) n += str(s);
  return n;
}

}  // namespace hush::report

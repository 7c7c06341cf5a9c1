#include "report/companies.hpp"

#include <libpsl.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "report/data.hpp"
#include "report/overrides.hpp"

namespace hush::report {

namespace {

using json = nlohmann::json;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

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

}  // namespace

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

  int32_t intern(std::vector<std::string>& table, std::string_view s) {
    auto it = std::find(table.begin(), table.end(), s);
    if (it != table.end()) return int32_t(it - table.begin());
    table.emplace_back(s);
    return int32_t(table.size() - 1);
  }
  int32_t add_company(std::string id, std::string name, std::string website) {
    int32_t i = int32_t(companies.size());
    by_key.try_emplace(lower(id), i);
    by_key.try_emplace(lower(name), i);
    companies.push_back({std::move(id), std::move(name), std::move(website), {}});
    return i;
  }
  int32_t find(std::string_view key) const {
    auto it = by_key.find(lower(key));
    return it == by_key.end() ? -1 : it->second;
  }
  // Overrides in order; later lines (and later texts) win.
  void apply(const std::vector<OverrideLine>& lines) {
    for (const OverrideLine& o : lines) {
      Entry e;
      if (o.company != "-") {
        e.company = find(o.company);
        if (e.company < 0) {
          std::string id = slug(o.company);
          while (find(id) >= 0) id += "_";
          e.company = add_company(id, o.company, "");
        }
        if (!o.category.empty()) e.category = intern(categories, o.category);
      }
      domains[o.domain] = e;
    }
  }
  void index_domains() {
    for (Company& c : companies) c.domains.clear();
    for (const auto& [name, e] : domains)
      if (e.company >= 0) companies[size_t(e.company)].domains.push_back(name);
    for (Company& c : companies) std::sort(c.domains.begin(), c.domains.end());
  }
};

namespace {

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

std::unique_ptr<CompanyMap::Data> build(std::string_view trackers_json, std::string_view companies_json,
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
      if (name != category_names.end()) e.category = d->intern(d->categories, name->second);
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

}  // namespace

std::string normalize_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return "";
  std::string out = lower(name);
  size_t label = 0;
  for (char c : out) {
    if (c == '.') {
      if (label == 0) return "";
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return "";
  }
  return label ? out : "";
}

std::string default_overrides_path(const std::string& data_dir) { return data_dir + "/companies.txt"; }

std::string Attribution::key() const { return company ? company->id : "site:" + site; }
std::string Attribution::display() const { return company ? company->name : site; }

CompanyMap::CompanyMap(std::unique_ptr<Data> d) : d_(std::move(d)) {}
CompanyMap::~CompanyMap() = default;

std::shared_ptr<const CompanyMap> CompanyMap::from_data(
    std::string_view trackers_json, std::string_view companies_json,
    const std::vector<std::pair<std::string, std::string>>& overrides, std::vector<std::string>& errors) {
  auto d = build(trackers_json, companies_json, errors);
  for (const auto& [source, text] : overrides) d->apply(parse_overrides(text, source, errors));
  d->index_domains();
  return std::make_shared<const CompanyMap>(std::move(d));
}

std::shared_ptr<const CompanyMap> CompanyMap::builtin() {
  static std::once_flag once;
  static std::shared_ptr<const CompanyMap> map;
  std::call_once(once, [] {
    // The built-in data is tested; a problem in it is a bug, not user input.
    std::vector<std::string> errors;
    map = from_data(data::trackers_json(), data::companies_json(),
                    {{"built-in overrides.txt", std::string(data::overrides_txt())}}, errors);
  });
  return map;
}

std::shared_ptr<const CompanyMap> CompanyMap::with_overrides(const std::string& path,
                                                             std::vector<std::string>& errors) {
  auto base = builtin();
  if (path.empty()) return base;
  std::ifstream in(path);
  if (!in) return base;
  std::stringstream text;
  text << in.rdbuf();
  auto lines = parse_overrides(text.str(), path, errors);
  if (lines.empty()) return base;
  auto d = std::make_unique<Data>(*base->d_);
  d->apply(lines);
  d->index_domains();
  return std::make_shared<const CompanyMap>(std::move(d));
}

Attribution CompanyMap::attribute(std::string_view raw) const {
  Attribution a;
  std::string name = normalize_name(raw);
  if (name.empty()) {
    a.site = lower(raw);
    return a;
  }
  // Deepest first: the whole name, then without its first label, ...
  for (size_t pos = 0; pos != std::string::npos;) {
    std::string_view suffix = std::string_view(name).substr(pos);
    auto it = d_->domains.find(suffix);
    if (it != d_->domains.end()) {
      const Data::Entry& e = it->second;
      if (e.company >= 0) {
        a.company = &d_->companies[size_t(e.company)];
        a.matched = std::string(suffix);
        if (e.category >= 0) a.category = d_->categories[size_t(e.category)];
        if (e.tracker >= 0) a.tracker = d_->trackers[size_t(e.tracker)];
      }
      break;
    }
    size_t dot = name.find('.', pos);
    pos = dot == std::string::npos ? dot : dot + 1;
  }
  const char* site = psl_registrable_domain(psl_builtin(), name.c_str());
  a.site = site ? site : name;
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
  for (const std::string& s : d_->trackers) n += sizeof(std::string) + str(s);
  return n;
}

}  // namespace hush::report

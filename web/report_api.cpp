#include "web/report_api.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "base/clock.hpp"
#include "base/memory.hpp"
#include "web/json_api.hpp"
#include "base/log.hpp"
#include "report/actions.hpp"
#include "report/json.hpp"
#include "report/report.hpp"
#include "clients/groups.hpp"
#include "hush/blocklists/data_dir.h"
#include "hush/blocklists/subscriptions/subscriptions.h"

namespace hush::web {

namespace {

using json = nlohmann::json;
namespace subs = blocklists::subs;

// Hard caps on what one answer lists, so that its size does not follow the
// log's: at most 500 companies (or devices) with 100 names each.
constexpr int64_t kMaxCompanies = 500;
constexpr int64_t kMaxDevices = 500;
constexpr int64_t kMaxNames = 100;

// What the licence of companiesdb (CC BY-SA 4.0) asks every page showing its
// data to say; the dashboard renders it from here.
const json kAttribution = {{"text", "Company data: AdGuard companiesdb, CC BY-SA 4.0"},
                           {"source", "AdGuard companiesdb"},
                           {"source_url", "https://github.com/AdguardTeam/companiesdb"},
                           {"license", "CC BY-SA 4.0"},
                           {"license_url", "https://creativecommons.org/licenses/by-sa/4.0/"}};


// [since, until): ?since= (default 7 days back) and ?until= (default now).
// Callers tie it to plain variables: clang 14 (the fuzz build) cannot
// capture structured bindings in lambdas.
std::pair<int64_t, int64_t> period(const Request& r) {
  int64_t until = time_param(r, "until", now_us() + kSecondUs);
  int64_t since = time_param(r, "since", now_us() - 7 * kDayUs);
  if (since > until) throw HttpError{400, "since is after until"};
  return {since, until};
}

std::optional<int64_t> device_param(const Request& r) {
  if (r.param("device").empty()) return std::nullopt;
  return int_param(r, "device", 0, 1, INT64_MAX);
}

// {"device": ID} or {"group": NAME}, exactly one.
report::Target target_field(const json& j) {
  report::Target t;
  if (j.contains("device") && !j["device"].is_null()) {
    if (!j["device"].is_number_integer() || j["device"].get<int64_t>() < 1)
      throw HttpError{400, "device: expected a device id"};
    t.device_id = j["device"].get<int64_t>();
  }
  t.group = string_field(j, "group");
  if (t.device_id.has_value() == !t.group.empty()) throw HttpError{400, "give either device or group"};
  if (!t.group.empty() && !clients::valid_group(t.group))
    throw HttpError{400, "group: 1 to 32 of a-z, 0-9, _ and -"};
  return t;
}

// 404 for a key that is neither a company of the map nor a site (a report
// groups a name that is no domain name, such as one with spaces, under a key
// that cannot be looked up).
void check_company(const report::CompanyMap& map, const std::string& key) {
  if (map.find(key)) return;
  std::string domain = key.rfind("site:", 0) == 0 ? key.substr(5) : key;
  if (report::normalize_name(domain).empty() || domain.find('.') == std::string::npos)
    throw HttpError{404, "no company '" + key + "' in the map, and it is not a domain name"};
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// Keeps the first `n` names of each company; says how many there were.
void cut_names(json& company, size_t n) {
  json& names = company["names"];
  company["names_total"] = names.size();
  if (names.size() > n) names.erase(names.begin() + std::ptrdiff_t(n), names.end());
}

// Queries and blocked per category over the names of `companies` (a
// company's names may sit in different categories).
json categories_json(const std::vector<report::CompanyUsage>& companies) {
  struct Sum {
    int64_t queries = 0, blocked = 0;
    std::set<std::string> companies;
  };
  std::map<std::string, Sum> by;
  for (const auto& c : companies)
    for (const auto& n : c.names) {
      Sum& s = by[n.category.empty() ? "unknown" : n.category];
      s.queries += n.queries;
      s.blocked += n.blocked;
      s.companies.insert(c.key);
    }
  json out = json::array();
  for (const auto& [name, s] : by)
    out.push_back({{"category", name}, {"queries", s.queries}, {"blocked", s.blocked}, {"companies", s.companies.size()}});
  // A category that says nothing ("unknown", "misc") goes last, whatever its count.
  auto vague = [](const json& c) {
    const std::string name = c["category"].get<std::string>();
    return name == "unknown" || name == "misc" || name == "other";
  };
  std::sort(out.begin(), out.end(), [&](const json& a, const json& b) {
    if (vague(a) != vague(b)) return vague(b);
    return a["queries"] > b["queries"];
  });
  return out;
}

// The overview and a company's devices read every per-device day row of the
// period: 12 to 23 s for 30 days of a 10-million-query log on a busy 2-core
// machine (tests/bench/report_api_bench.py), against under 0.1 s for a
// cached answer. What the query log gives them is kept for a minute, so
// moving between the pages does not pay it again; the report counts whole
// UTC days, so the key holds the days, not the microseconds.
class AnswerCache {
 public:
  static constexpr int64_t kLifetimeUs = 60 * kSecondUs;
  static constexpr size_t kMaxEntries = 8;

  static std::string key(const std::string& what, int64_t since_us, int64_t until_us) {
    return what + "|" + std::to_string(since_us / kDayUs) + "|" + std::to_string(until_us / kDayUs);
  }
  std::optional<json> get(const std::string& key, int64_t now) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || now - it->second.made_us > kLifetimeUs) return std::nullopt;
    return it->second.body;
  }
  void clear() {
    std::lock_guard lock(mu_);
    entries_.clear();
  }
  void put(const std::string& key, const json& body, int64_t now) {
    std::lock_guard lock(mu_);
    std::erase_if(entries_, [&](const auto& e) { return now - e.second.made_us > kLifetimeUs; });
    if (entries_.size() >= kMaxEntries) entries_.erase(entries_.begin());
    entries_[key] = {now, body};
  }

 private:
  struct Entry {
    int64_t made_us = 0;
    json body;
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

class ReportApi {
 public:
  ReportApi(const Runtime& rt, const Config& cfg)
      : rt_(rt),
        data_dir_(cfg.server.data_dir),
        overrides_(cfg.report.overrides.empty() ? report::default_overrides_path(cfg.server.data_dir)
                                                : cfg.report.overrides),
        settings_(cfg.subscription_settings()) {}
  ~ReportApi() {
    if (warm_.joinable()) warm_.join();
  }

  // Makes the readers' attribution of the log's names in the background, at
  // a low priority, so that the first dashboard visit after a start finds
  // it made (0.5 s of CPU for 100,000 names) rather than paying for it.
  void warm_up();

  Response device_or_overview(const Request& r);
  Response company(const Request& r);
  Response fresh(const Request& r);
  Response history(const Request& r);
  Response matrix(const Request& r);
  Response block(const Request& r, bool block);
  Response block_one(const Request& r) { return block(r, true); }
  Response unblock_one(const Request& r) { return block(r, false); }
  Response subscribe(const Request& r);
  Response unsubscribe(const Request& r);

 private:
  std::shared_ptr<const report::CompanyMap> map();
  // Runs `fn` with the one ReportReader, made over `map`; 503 without a log.
  template <class F>
  auto with_reader(const std::shared_ptr<const report::CompanyMap>& map, F&& fn)
      -> decltype(fn(std::declval<report::ReportReader&>()));
  subs::Subscriptions& subscriptions();
  // Adds to each company of `companies` (to_json forms) the groups it is
  // blocked for and its vendor lists with the groups each applies to now.
  // With `groups`, only blocks for those groups are listed.
  void add_actions(json& companies, const report::CompanyMap& map, const std::vector<std::string>* groups);
  std::optional<querylog::Device> find_device(querylog::Reader& log, int64_t id);
  // 404 unless the target's device is in the log.
  void check_device(const report::Target& t);
  // What block and subscribe act on, from their body: a company of the map
  // (404 otherwise) and a target whose device, if any, is in the log.
  struct CompanyAction {
    std::string company;
    report::Target target;
    std::shared_ptr<const report::CompanyMap> map;
  };
  CompanyAction company_action(const json& body);
  bool rebuild() { return rt_.request_policy_rebuild(std::chrono::seconds(30)); }

  const Runtime& rt_;
  std::string data_dir_;
  std::string overrides_;
  subs::Settings settings_;

  std::mutex map_mu_;
  std::shared_ptr<const report::CompanyMap> map_;
  // The readers' attribution of the log's names, made once for both (on a
  // cold start a page's concurrent report calls would each make their own).
  std::shared_ptr<report::AttributionCache> attribution_;
  int64_t map_mtime_ = -1;  // of the override file when map_ was made; 0: no file

  // At most kReaders readers, each used by one request at a time, each with
  // its own connection and statements; they share one attribution of the
  // log's names (attribution_, about 60 bytes a name). Two let a page's
  // other report calls go on while one slow call (first contacts, the
  // matrix over 30 days) reads.
  static constexpr size_t kReaders = 2;
  std::mutex readers_mu_;
  std::condition_variable reader_free_;
  std::vector<std::unique_ptr<report::ReportReader>> idle_readers_;
  size_t busy_readers_ = 0;

  std::mutex subs_mu_;
  std::unique_ptr<subs::Subscriptions> subs_;

  AnswerCache cache_;

  static constexpr size_t kReleaseAbove = 32 * memory::kMiB;
  memory::ReleaseAbove release_{kReleaseAbove};

  std::thread warm_;
};

void ReportApi::warm_up() {
  warm_ = std::thread([this] {
    // Nice 10 rather than 19: a page opened while it runs waits for it.
    ::setpriority(PRIO_PROCESS, pid_t(::syscall(SYS_gettid)), 10);
    try {
      std::string error;
      if (!with_reader(map(), [&](report::ReportReader& r) { return r.prepare(error); }))
        log::warn("report: could not read the query log's names: ", error);
    } catch (const HttpError&) {
      // No query log yet: the first report makes the attribution.
    } catch (const std::exception& e) {
      log::warn("report: could not read the query log's names: ", e.what());
    }
  });
}

// The user's override file is re-read when it changes, so a correction shows
// on the next page load without a restart.
std::shared_ptr<const report::CompanyMap> ReportApi::map() {
  struct stat st;
  int64_t mtime = ::stat(overrides_.c_str(), &st) == 0 ? int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec : 0;
  std::lock_guard lock(map_mu_);
  if (!map_ || mtime != map_mtime_) {
    std::vector<std::string> errors;
    map_ = report::CompanyMap::with_overrides(overrides_, errors);
    attribution_ = std::make_shared<report::AttributionCache>(map_);
    for (const std::string& e : errors) log::warn("company map: ", e);
    map_mtime_ = mtime;
    cache_.clear();  // made with the old map
  }
  return map_;
}

template <class F>
auto ReportApi::with_reader(const std::shared_ptr<const report::CompanyMap>& current, F&& fn)
    -> decltype(fn(std::declval<report::ReportReader&>())) {
  std::unique_ptr<report::ReportReader> reader;
  {
    std::unique_lock lock(readers_mu_);
    reader_free_.wait(lock, [&] { return !idle_readers_.empty() || busy_readers_ + idle_readers_.size() < kReaders; });
    if (!idle_readers_.empty()) {
      reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
    ++busy_readers_;
  }
  // Back to the idle ones (or, when it could not be made, its place freed)
  // whatever the request throws.
  struct Return {
    ReportApi& api;
    std::unique_ptr<report::ReportReader>& reader;
    ~Return() {
      std::lock_guard lock(api.readers_mu_);
      --api.busy_readers_;
      if (reader) api.idle_readers_.push_back(std::move(reader));
      api.reader_free_.notify_one();
    }
  } give_back{*this, reader};
  // A reader made over an older map would attribute by it.
  if (reader && &reader->map() != current.get()) reader.reset();
  if (!reader) {
    std::string error;
    std::shared_ptr<report::AttributionCache> shared;
    {
      std::lock_guard lock(map_mu_);
      shared = attribution_;
    }
    reader = report::ReportReader::open(database_path(data_dir_), current, error, std::move(shared));
    if (!reader) throw HttpError{503, "the query log is not available: " + error};
  }
  auto result = fn(*reader);
  // A report's sums are arrays over every name of the log, freed at its end;
  // glibc kept them: after the eight report endpoints on a 630,000-name log
  // hush held 444 MiB, 84 MiB with a malloc_trim after each call. A trim
  // after every call made the next one fault its pages back in (much of a
  // dashboard page's kernel time), so memory goes back once it has grown by
  // kReleaseAbove.
  release_.maybe_release();
  return result;
}

subs::Subscriptions& ReportApi::subscriptions() {
  std::lock_guard lock(subs_mu_);
  if (!subs_) {
    std::string error;
    subs_ = subs::Subscriptions::open(data_dir_, settings_, error);
    if (!subs_) throw HttpError{503, "subscriptions are not available: " + error};
  }
  return *subs_;
}

void ReportApi::add_actions(json& companies, const report::CompanyMap& map, const std::vector<std::string>* groups) {
  std::string error;
  std::vector<report::BlockedCompany> blocked = report::blocked_companies(data_dir_, error);
  if (!error.empty()) throw std::runtime_error(error);
  std::vector<subs::Subscription> subscribed = subscriptions().list();
  for (json& c : companies) {
    const report::Company* company = c.value("known", false) ? map.find(c["key"].get<std::string>()) : nullptr;
    json blocked_for = json::array();
    json lists = json::array();
    if (company) {
      for (const report::BlockedCompany& b : blocked)
        if (b.company == company->id && (!groups || has(*groups, b.group))) blocked_for.push_back(b.group);
      for (const subs::CatalogEntry* e : report::vendor_lists(*company)) {
        json in = json::array();
        for (const subs::Subscription& s : subscribed)
          if (s.name == e->id || s.catalog_id == e->id) in = s.groups;
        lists.push_back({{"id", e->id}, {"name", e->name}, {"groups", in}});
      }
      c["website"] = company->website;
    }
    c["blocked_for"] = std::move(blocked_for);
    c["vendor_lists"] = std::move(lists);
  }
}

std::optional<querylog::Device> ReportApi::find_device(querylog::Reader& log, int64_t id) {
  sqlite::Error err;
  auto d = log.device(id, querylog::kForever, err);
  if (err) throw std::runtime_error(err.message);
  return d;
}

void ReportApi::check_device(const report::Target& t) {
  if (!t.device_id) return;
  bool found = with_reader(map(), [&](report::ReportReader& reader) { return find_device(reader.log(), *t.device_id).has_value(); });
  if (!found) throw HttpError{404, "no device " + std::to_string(*t.device_id)};
}

Response ReportApi::device_or_overview(const Request& r) {
  int64_t since, until;
  std::tie(since, until) = period(r);
  auto device = device_param(r);
  size_t limit = size_t(int_param(r, "limit", 100, 1, kMaxCompanies));
  size_t names = size_t(int_param(r, "names", 50, 0, kMaxNames));
  bool known_only = r.param("known") == "1" || r.param("known") == "true";
  auto current = map();
  std::vector<std::string> groups;
  std::string error;
  std::string cache_key = AnswerCache::key("overview|" + std::to_string(limit) + "|" + std::to_string(names) +
                                               (known_only ? "|known" : ""),
                                           since, until);
  std::optional<json> cached = device ? std::nullopt : cache_.get(cache_key, now_us());
  json body = cached ? *cached : with_reader(current, [&](report::ReportReader& reader) {
    json j = json::object();
    std::vector<report::CompanyUsage> companies;
    if (device) {
      auto d = find_device(reader.log(), *device);
      if (!d) throw HttpError{404, "no device " + std::to_string(*device)};
      groups = d->groups;
      report::DeviceReport rep = reader.device(*device, since, until, error);
      companies = std::move(rep.companies);
      rep.companies.clear();
      j = report::to_json(rep);
      if (auto quiet = report::quiet_on_network(*d, rt_.neighbours(), now_us()))
        j["quiet"] = report::to_json(*quiet);
      j["device"]["groups"] = groups;
      j["device"]["own_group"] = report::device_group(*device);
    } else {
      companies = reader.overview(since, until, error);
    }
    if (known_only) std::erase_if(companies, [](const report::CompanyUsage& c) { return !c.known; });
    j["categories"] = categories_json(companies);
    j["companies_total"] = companies.size();
    json list = json::array();
    for (size_t i = 0; i < companies.size() && i < limit; ++i) {
      list.push_back(report::to_json(companies[i]));
      cut_names(list.back(), names);
    }
    j["companies"] = std::move(list);
    return j;
  });
  if (!error.empty()) throw std::runtime_error(error);
  if (!device && !cached) cache_.put(cache_key, body, now_us());
  add_actions(body["companies"], *current, device ? &groups : nullptr);
  body["since_ms"] = since / 1000;
  body["until_ms"] = until / 1000;
  body["attribution"] = kAttribution;
  return json_response(200, body);
}

Response ReportApi::company(const Request& r) {
  int64_t since, until;
  std::tie(since, until) = period(r);
  std::string key = r.matches.at(1);
  size_t names = size_t(int_param(r, "names", 50, 0, kMaxNames));
  size_t limit = size_t(int_param(r, "limit", 100, 1, kMaxDevices));
  auto current = map();
  check_company(*current, key);
  std::string cache_key = AnswerCache::key(
      "company|" + key + "|" + std::to_string(names) + "|" + std::to_string(limit), since, until);
  std::optional<json> cached = cache_.get(cache_key, now_us());
  json body;
  if (cached) {
    body = *cached;
  } else {
    std::string error;
    report::CompanyDevices found =
        with_reader(current, [&](report::ReportReader& reader) { return reader.company(key, since, until, error); });
    if (!error.empty()) throw std::runtime_error(error);
    body = report::to_json(found);
    json& devices = body["devices"];
    body["devices_total"] = devices.size();
    if (devices.size() > limit) devices.erase(devices.begin() + std::ptrdiff_t(limit), devices.end());
    for (json& d : devices) cut_names(d, names);
    cache_.put(cache_key, body, now_us());
  }
  bool known = body["known"].get<bool>();
  std::string found_key = body["key"].get<std::string>();
  json one = json::array({{{"key", found_key}, {"known", known}}});
  add_actions(one, *current, nullptr);
  body["blocked_for"] = one[0]["blocked_for"];
  body["vendor_lists"] = one[0]["vendor_lists"];
  if (const report::Company* c = known ? current->find(found_key) : nullptr) {
    body["website"] = c->website;
    body["domains"] = c->domains;
  }
  body["since_ms"] = since / 1000;
  body["until_ms"] = until / 1000;
  body["attribution"] = kAttribution;
  return json_response(200, body);
}

Response ReportApi::fresh(const Request& r) {
  int64_t since = time_param(r, "since", now_us() - kDayUs);
  auto device = device_param(r);
  size_t limit = size_t(int_param(r, "limit", 50, 1, 1000));
  // Kept a minute like the overview (its "since" to the minute): a page
  // opened again, or its period picked back, does not read every device's
  // names again.
  std::string cache_key = "new|" + (device ? std::to_string(*device) : std::string("all")) + "|" +
                          std::to_string(limit) + "|" + std::to_string(since / kMinuteUs);
  if (auto cached = cache_.get(cache_key, now_us())) return json_response(200, *cached);
  std::string error;
  json contacts = json::array();
  report::ReportReader::NewContactTotals totals;
  auto current = map();
  with_reader(current, [&](report::ReportReader& reader) {
    for (const report::NewContact& n : reader.new_contacts(device, since, limit, error, &totals))
      contacts.push_back(report::to_json(n));
    return 0;
  });
  if (!error.empty()) throw std::runtime_error(error);
  // The list holds `limit` of each kind; the totals count them all.
  json body{{"since_ms", since / 1000},
            {"contacts", contacts},
            {"companies_total", totals.companies},
            {"names_total", totals.names},
            {"attribution", kAttribution}};
  cache_.put(cache_key, body, now_us());
  return json_response(200, body);
}

Response ReportApi::history(const Request& r) {
  int64_t since, until;
  std::tie(since, until) = period(r);
  std::string company = r.param("company");
  if (company.empty()) throw HttpError{400, "company: a company id, or site:DOMAIN"};
  auto device = device_param(r);
  std::string s = r.param("step", "auto");
  report::Step step;
  if (s == "hour") step = report::Step::Hour;
  else if (s == "day") step = report::Step::Day;
  else if (s == "auto") step = until - since <= 2 * kDayUs ? report::Step::Hour : report::Step::Day;
  else throw HttpError{400, "step: expected hour, day or auto"};
  auto current = map();
  check_company(*current, company);
  std::string error;
  json points = json::array();
  with_reader(current, [&](report::ReportReader& reader) {
    for (const report::SeriesPoint& p : reader.series(company, device, since, until, step, error))
      points.push_back({{"t", p.start_us / kSecondUs}, {"queries", p.queries}, {"blocked", p.blocked}});
    return 0;
  });
  if (!error.empty()) throw std::runtime_error(error);
  return json_response(200, json{{"company", company},
                                 {"step_s", step == report::Step::Hour ? 3600 : 86400},
                                 {"since_ms", since / 1000},
                                 {"until_ms", until / 1000},
                                 {"points", points}});
}

ReportApi::CompanyAction ReportApi::company_action(const json& body) {
  CompanyAction a;
  a.company = string_field(body, "company");
  a.target = target_field(body);
  a.map = map();
  if (a.company.empty() || !a.map->find(a.company)) throw HttpError{404, "no company '" + a.company + "' in the map"};
  check_device(a.target);
  return a;
}

Response ReportApi::block(const Request& r, bool block) {
  CompanyAction a = company_action(parse_body(r));
  report::BlockResult result;
  std::string error = block ? report::block_company(data_dir_, *a.map, a.company, a.target, &result)
                            : report::unblock_company(data_dir_, *a.map, a.company, a.target, &result);
  if (!error.empty()) throw HttpError{block ? 500 : 404, error};
  const report::Company* c = a.map->find(a.company);
  log::info("dashboard: ", block ? "blocked " : "unblocked ", c->name, " for group ", result.group);
  json out = report::to_json(result);
  out["company"] = c->id;
  out["applied"] = rebuild();
  return json_response(200, out);
}

Response ReportApi::subscribe(const Request& r) {
  json body = parse_body(r);
  CompanyAction a = company_action(body);
  report::SubscribeResult result;
  std::string error = report::subscribe_vendor(data_dir_, settings_, *a.map, a.company, a.target,
                                               string_field(body, "list"), string_field(body, "url"), &result);
  if (!error.empty()) throw HttpError{400, error};
  log::info("dashboard: subscribed group ", result.group, " to ", result.list);
  json out = report::to_json(result);
  out["applied"] = rebuild();
  return json_response(result.created ? 201 : 200, out);
}

// The undo of subscribe: the target's group leaves the list; a list left
// without groups is removed.
Response ReportApi::unsubscribe(const Request& r) {
  json body = parse_body(r);
  std::string list = string_field(body, "list");
  report::Target target = target_field(body);
  std::string group = target.device_id ? report::device_group(*target.device_id) : target.group;
  subs::Subscriptions& all = subscriptions();
  auto s = all.get(list);
  if (!s) throw HttpError{404, "no subscription '" + list + "'"};
  if (!has(s->groups, group)) throw HttpError{404, list + " does not apply to group " + group};
  std::vector<std::string> groups = s->groups;
  std::erase(groups, group);
  std::string error;
  bool removed = groups.empty();
  if (!(removed ? all.remove(list, error) : all.set_groups(list, groups, error))) throw HttpError{500, error};
  log::info("dashboard: group ", group, " left ", list, removed ? " (list removed)" : "");
  return json_response(200, json{{"list", list}, {"group", group}, {"removed", removed}, {"applied", rebuild()}});
}

Handler calling(std::shared_ptr<ReportApi> api, Response (ReportApi::*fn)(const Request&)) {
  return [api, fn](const Request& r) { return ((*api).*fn)(r); };
}

}  // namespace

// Devices against companies, for the picture on top of the phone-home page;
// kept a minute like the overview.
Response ReportApi::matrix(const Request& r) {
  int64_t since, until;
  std::tie(since, until) = period(r);
  size_t devices = size_t(int_param(r, "devices", 50, 1, 200));
  size_t companies = size_t(int_param(r, "companies", 12, 1, 50));
  size_t offset = size_t(int_param(r, "offset", 0, 0, 10000));
  // Hourly strips change within a day: the key holds the hour for them.
  std::string key = AnswerCache::key("matrix|" + std::to_string(devices) + "|" + std::to_string(companies) + "|" +
                                         std::to_string(offset) + "|" + std::to_string(since / kHourUs),
                                     since, until);
  if (auto cached = cache_.get(key, now_us())) return json_response(200, *cached);
  std::string error;
  report::Matrix m = with_reader(map(), [&](report::ReportReader& reader) {
    return reader.matrix(since, until, devices, companies, offset, error);
  });
  if (!error.empty()) throw std::runtime_error(error);
  json cols = json::array(), rows = json::array();
  for (const report::Matrix::Column& c : m.companies) {
    json strip = json::array();
    for (const report::Matrix::Cell& d : c.strip) strip.push_back({d.queries, d.blocked});
    cols.push_back({{"key", c.key}, {"company", c.name}, {"known", c.known}, {"devices", c.devices},
                    {"queries", c.queries}, {"blocked", c.blocked}, {"strip", strip}});
  }
  for (size_t i = 0; i < m.devices.size(); ++i) {
    json cells = json::array();
    for (const report::Matrix::Cell& c : m.cells[i]) cells.push_back({c.queries, c.blocked});
    rows.push_back({{"id", m.devices[i].device_id}, {"name", m.devices[i].device}, {"queries", m.devices[i].queries},
                    {"blocked", m.devices[i].blocked}, {"cells", cells}});
  }
  json body = {{"since_ms", since / 1000}, {"until_ms", until / 1000}, {"companies", cols}, {"devices", rows},
               {"companies_total", m.companies_total}, {"devices_total", m.devices_total},
               {"offset", offset}, {"strip_step_s", m.strip_step_us / kSecondUs},
               {"strip_since_ms", m.strip_start_us / 1000}};
  cache_.put(key, body, now_us());
  return json_response(200, body);
}

void install_report_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard) {
  auto api = std::make_shared<ReportApi>(rt, cfg);
  api->warm_up();
  s.get("/api/report", guard(false, calling(api, &ReportApi::device_or_overview)));
  s.get("/api/report/companies/([^/]{1,300})", guard(false, calling(api, &ReportApi::company)));
  s.get("/api/report/new", guard(false, calling(api, &ReportApi::fresh)));
  s.get("/api/report/history", guard(false, calling(api, &ReportApi::history)));
  s.get("/api/report/matrix", guard(false, calling(api, &ReportApi::matrix)));
  s.post("/api/report/block", guard(true, calling(api, &ReportApi::block_one)));
  s.post("/api/report/unblock", guard(true, calling(api, &ReportApi::unblock_one)));
  s.post("/api/report/subscribe", guard(true, calling(api, &ReportApi::subscribe)));
  s.post("/api/report/unsubscribe", guard(true, calling(api, &ReportApi::unsubscribe)));
}

}  // namespace hush::web

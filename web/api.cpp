#include "web/api.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <iostream>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "base/clock.hpp"
#include "base/address.hpp"
#include "base/qtype.hpp"
#include "web/account_api.hpp"
#include "web/assets.hpp"
#include "web/auth.hpp"
#include "web/http_server.hpp"
#include "web/json_api.hpp"
#include "base/log.hpp"
#include "querylog/reader.hpp"
#include "web/backup_api.hpp"
#include "web/controls_api.hpp"
#include "web/schedules_api.hpp"
#include "web/report_api.hpp"
#include "web/settings_api.hpp"
#include "web/groups_api.hpp"
#include "report/companies.hpp"
#include "web/request_checks.hpp"
#include "web/sync_api.hpp"
#include "sync/feed.hpp"
#include "policy/rules.hpp"
#include "clients/groups.hpp"
#include "hush/blocklists/data_dir.h"
#include "hush/blocklists/subscriptions/catalog.h"
#include "hush/blocklists/subscriptions/subscriptions.h"

namespace hush::web {

namespace {

using json = nlohmann::json;
namespace ql = querylog;
namespace subs = blocklists::subs;

constexpr int64_t kSecondUs = 1000000;
constexpr size_t kMaxStreams = 4;                     // live-tail connections at once
constexpr auto kStreamLifetime = std::chrono::minutes(5);  // then the browser reconnects
// Devices per /api/devices page, and per group in /api/groups: a network
// (or a spoofing flood) can hold any number of devices.
constexpr int64_t kDevicesPage = 100;
constexpr int64_t kDevicesPageMax = 500;

// Counting a device's new names reads at most this many index entries.
constexpr int64_t kNewNamesCountCap = 100000;

using hush::now_us;

// [since, until) from ?range=24h (default `fallback`) or ?since=&until=.
// Callers tie it to plain variables: clang 14 (the fuzz build) cannot
// capture structured bindings in lambdas.
std::pair<int64_t, int64_t> time_range(const Request& r, const std::string& fallback = "24h") {
  int64_t until = time_param(r, "until", now_us() + kSecondUs);
  std::string range = r.param("range", fallback);
  auto d = ql::parse_duration(range);
  if (!d) throw HttpError{400, "range: expected a duration such as 15m, 24h, 7d"};
  int64_t since = r.params.count("since") ? time_param(r, "since", 0) : now_us() - *d;
  if (since > until) throw HttpError{400, "since is after until"};
  return {since, until};
}

// A record type by name ("AAAA", "TYPE65") or by number ("28").
std::optional<uint16_t> parse_type(std::string_view text) {
  bool digits = !text.empty() && text.size() <= 5 &&
                std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) return qtype_from_name(text);
  unsigned long n = std::stoul(std::string(text));
  if (n == 0 || n > 65535) return std::nullopt;
  return uint16_t(n);
}

double ms(int64_t us) { return double(us / 1000); }

json entry_json(const ql::LogEntry& e) {
  json j{{"id", e.id},
         {"time_ms", ms(e.time_us)},
         {"device_id", e.device_id},
         {"device", e.device},
         {"client", e.client_ip},
         {"domain", e.domain},
         {"type", qtype_name(e.qtype)},
         {"transport", transport_name(e.transport)},
         {"status", ql::to_string(e.status)},
         {"rcode", e.rcode},
         {"reason", e.reason},
         {"upstream", e.upstream},
         {"answer", e.answer},
         {"latency_ms", e.latency_us / 1000.0}};
  // Why it was blocked, in parts: the log keeps "LIST: RULE".
  if (e.status == ql::Status::Blocked) {
    size_t at = e.reason.find(": ");
    j["list"] = e.reason.substr(0, at);
    j["rule"] = at == std::string::npos ? "" : e.reason.substr(at + 2);
  }
  return j;
}

json counts_json(const ql::StatusCounts& c) {
  json j = json::object();
  for (size_t i = 0; i < ql::kStatusCount; ++i) j[ql::to_string(ql::Status(i))] = c[i];
  return j;
}

json device_json(const ql::Device& d) {
  return json{{"id", d.id},
              {"key", d.key},
              {"mac", d.mac},
              {"name", d.name},
              {"discovered_name", d.discovered_name},
              {"custom_name", d.custom_name},
              {"groups", d.groups},
              {"addresses", d.addresses},
              {"first_seen_ms", ms(d.first_seen_us)},
              {"last_seen_ms", ms(d.last_seen_us)},
              {"queries", d.queries},
              {"blocked", d.blocked}};
}

json ranked_json(const std::vector<ql::Ranked>& v) {
  json items = json::array();
  for (const ql::Ranked& r : v)
    items.push_back({{"name", r.name}, {"id", r.id}, {"total", r.total}, {"blocked", r.blocked}});
  return json{{"items", items}};
}

json subscription_json(const subs::Subscription& s) {
  return json{{"name", s.name},
              {"url", s.url},
              {"catalog_id", s.catalog_id},
              {"groups", s.groups},
              {"subdomains", s.subdomains},
              {"interval_s", s.interval_s},
              {"added", s.added},
              {"last_attempt", s.last_attempt},
              {"last_success", s.last_success},
              {"last_changed", s.last_changed},
              {"next_update", s.next_update},
              {"failures", s.failures},
              {"last_error", s.last_error},
              {"entries", s.entries},
              {"invalid", s.invalid},
              {"bytes", s.bytes},
              {"has_copy", s.has_copy}};
}

// Midnight today, local time, in unix microseconds.
int64_t start_of_today_us() {
  time_t now = time(nullptr);
  struct tm local{};
  localtime_r(&now, &local);
  local.tm_hour = local.tm_min = local.tm_sec = 0;
  return int64_t(mktime(&local)) * kSecondUs;
}

std::vector<std::string> string_list(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key)) return out;
  const json& v = j[key];
  if (!v.is_array()) throw HttpError{400, std::string(key) + ": expected an array of strings"};
  for (const json& e : v) {
    if (!e.is_string()) throw HttpError{400, std::string(key) + ": expected an array of strings"};
    out.push_back(e.get<std::string>());
  }
  return out;
}

// The blocking switch; seconds_left lets the dashboard count down by its own
// clock, whatever the difference between the two clocks.
// The alert sinks' last deliveries: never their URLs or secrets.
json alerts_json(const std::vector<alerts::SinkStatus>& sinks) {
  json out = json::array();
  for (const alerts::SinkStatus& s : sinks)
    out.push_back({{"name", s.name}, {"kind", s.kind}, {"state", s.state}, {"last_attempt_ms", s.last_attempt_ms},
                   {"last_ok_ms", s.last_ok_ms}, {"last_error", s.last_error}, {"next_retry_ms", s.next_retry_ms},
                   {"sent", s.sent}, {"failed", s.failed}, {"dropped", s.dropped}, {"digests", s.digests},
                   {"pending", s.pending}});
  return {{"sinks", out}};
}

json blocking_json(const Runtime::Blocking& b) {
  int64_t left = b.until_unix ? std::max<int64_t>(0, b.until_unix - now_seconds()) : 0;
  return json{{"enabled", b.enabled}, {"until", b.until_unix}, {"seconds_left", left}};
}

// A list update started from the dashboard, for its progress bar.
struct UpdateJob {
  std::atomic<uint64_t> done{0}, total{0};
  std::atomic<bool> running{true};
  std::string outcome, error;  // set when finished, under Api::jobs_mu_
  int64_t finished = 0;
};

class Api {
 public:
  Api(const Runtime& rt, const Config& cfg)
      : rt_(rt),
        cfg_(cfg),
        db_path_(database_path(cfg.server.data_dir)),
        auth_(cfg.server.data_dir),
        accounts_(auth_, cfg.http.tls),
        rules_(cfg.server.data_dir) {}

  ~Api() {
    stop_ = true;
    std::lock_guard lock(threads_mu_);
    for (auto& [job, t] : threads_)
      if (t.joinable()) t.join();
  }

  AuthStore& auth() { return auth_; }
  // Ends live views and downloads soon; call before stopping the server.
  void begin_stop() { stop_ = true; }
  // Every route, in the order they are matched: the dashboard's catch-all last.
  void install(HttpServer& s);

 private:
  // install()'s groups of routes, by area.
  void install_stats_routes(HttpServer& s);
  void install_devices_routes(HttpServer& s);
  void install_lists_routes(HttpServer& s);
  void install_rules_routes(HttpServer& s);
  void install_blocking_routes(HttpServer& s);
  void install_tokens_routes(HttpServer& s);
  void install_static_routes(HttpServer& s);

  Handler guarded(bool changes_state, std::function<Response(const Request&, const Caller&)> h);

  // What a user knows a rule's groups and comment by: the device's name for
  // a device's own group ("device-7"), the company's name for a rule that
  // "block this company" added ("company:xiaomi"). Each looked up once.
  class RuleLabels {
   public:
    explicit RuleLabels(Api& api) : api_(api) {}
    json group(const std::string& g);
    json company(const std::string& comment);

   private:
    Api& api_;
    std::map<std::string, json> groups_, companies_;
  };

  // Runs `fn` with a Reader of the query log; nullopt when there is no log yet.
  template <class F>
  auto with_reader(F&& fn) -> std::optional<decltype(fn(std::declval<ql::Reader&>()))>;
  std::vector<int64_t> devices_param(const Request& r, ql::Reader& reader);
  subs::Subscriptions& subscriptions();
  void start_update(const std::string& name);
  bool apply_rules();

  Response summary(const Request& r);
  Response history(const Request& r);
  Response top(const Request& r, const std::string& what);
  Response log_page(const Request& r);
  Response log_stream(const Request& r);
  Response devices(const Request& r);
  Response device(const Request& r);
  Response update_device(const Request& r);
  Response groups(const Request& r);
  Response lists(const Request& r);
  Response catalog(const Request& r);
  Response add_list(const Request& r);
  Response settings(const Request& r);

  const Runtime& rt_;
  Config cfg_;
  std::string db_path_;
  AuthStore auth_;
  Accounts accounts_;
  policy::RulesStore rules_;

  std::mutex readers_mu_;
  std::vector<std::unique_ptr<ql::Reader>> readers_;  // idle ones, reused

  std::mutex subs_mu_;
  std::unique_ptr<subs::Subscriptions> subs_;

  std::mutex jobs_mu_;
  std::map<std::string, std::shared_ptr<UpdateJob>> jobs_;
  std::mutex threads_mu_;
  std::list<std::pair<std::shared_ptr<UpdateJob>, std::thread>> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> streams_{0};
};

Handler Api::guarded(bool changes_state, std::function<Response(const Request&, const Caller&)> h) {
  return [this, changes_state, h = std::move(h)](const Request& r) {
    try {
      Response denied;
      auto caller = accounts_.authenticate(r, changes_state, denied);
      if (!caller) return denied;
      // A replica's settings are its primary's: a change made here would be
      // overwritten by the next version, so it is refused (logging out is no change).
      if (changes_state && !cfg_.sync.primary.empty() && r.path != "/api/logout")
        return error_response(409, sync::replica_refusal(cfg_.sync.primary));
      return h(r, *caller);
    } catch (const HttpError& e) {
      return error_response(e.status, e.message);
    } catch (const std::exception& e) {
      log::warn("http ", r.method, " ", r.path, ": ", e.what());
      return error_response(500, std::string("internal error: ") + e.what());
    }
  };
}

template <class F>
auto Api::with_reader(F&& fn) -> std::optional<decltype(fn(std::declval<ql::Reader&>()))> {
  std::unique_ptr<ql::Reader> reader;
  {
    std::lock_guard lock(readers_mu_);
    if (!readers_.empty()) {
      reader = std::move(readers_.back());
      readers_.pop_back();
    }
  }
  if (!reader) {
    sqlite::Error err;
    reader = ql::Reader::open(db_path_, false, err);
    if (!reader) return std::nullopt;
  }
  auto result = fn(*reader);
  std::lock_guard lock(readers_mu_);
  if (readers_.size() < 8) readers_.push_back(std::move(reader));
  return result;
}

std::vector<int64_t> Api::devices_param(const Request& r, ql::Reader& reader) {
  std::vector<int64_t> out;
  for (auto [it, end] = r.params.equal_range("device"); it != end; ++it) {
    try {
      out.push_back(std::stoll(it->second));
    } catch (const std::exception&) {
      throw HttpError{400, "device: expected a device id"};
    }
  }
  std::string who = r.param("client");
  if (!who.empty()) {
    sqlite::Error err;
    auto found = reader.find_devices(who, err);
    if (err) throw std::runtime_error(err.message);
    if (found.empty()) found.push_back(-1);  // nobody: an empty result, not everybody
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

subs::Subscriptions& Api::subscriptions() {
  std::lock_guard lock(subs_mu_);
  if (!subs_) {
    std::string error;
    subs_ = subs::Subscriptions::open(cfg_.server.data_dir, cfg_.subscription_settings(), error);
    if (!subs_) throw HttpError{503, "subscriptions are not available: " + error};
  }
  return *subs_;
}

bool Api::apply_rules() { return rt_.request_policy_rebuild(std::chrono::seconds(30)); }

Response Api::summary(const Request& r) {
  int64_t since, until;
  std::tie(since, until) = time_range(r);
  auto s = with_reader([&](ql::Reader& reader) {
    sqlite::Error err;
    auto sum = reader.summary(devices_param(r, reader), since, until, err);
    if (err) throw std::runtime_error(err.message);
    return sum;
  });
  ql::Summary sum = s.value_or(ql::Summary{});
  auto blocking = rt_.blocking();
  int64_t blocked = sum.counts[size_t(ql::Status::Blocked)];
  return json_response(200, json{{"since_ms", ms(since)},
                                 {"until_ms", ms(until)},
                                 {"log_available", s.has_value()},
                                 {"total", sum.total()},
                                 {"blocked", blocked},
                                 {"blocked_percent", sum.total() ? 100.0 * double(blocked) / double(sum.total()) : 0.0},
                                 {"by_status", counts_json(sum.counts)},
                                 {"devices", sum.devices},
                                 {"dropped", sum.dropped},
                                 {"blocked_names", rt_.blocked_names()},
                                 {"lists", rt_.lists().size()},
                                 {"blocking", blocking_json(blocking)}});
}

Response Api::history(const Request& r) {
  int64_t since, until;
  std::tie(since, until) = time_range(r);
  std::string b = r.param("bucket", "auto");
  ql::Bucket bucket;
  if (b == "minute") bucket = ql::Bucket::Minute;
  else if (b == "hour") bucket = ql::Bucket::Hour;
  else if (b == "auto") bucket = until - since <= 6 * 3600 * kSecondUs ? ql::Bucket::Minute : ql::Bucket::Hour;
  else throw HttpError{400, "bucket: expected minute, hour or auto"};
  auto points = with_reader([&](ql::Reader& reader) {
                  sqlite::Error err;
                  auto p = reader.history(devices_param(r, reader), since, until, bucket, err);
                  if (err) throw std::runtime_error(err.message);
                  return p;
                }).value_or(std::vector<ql::Point>{});
  json out = json::array();
  for (const ql::Point& p : points) {
    int64_t blocked = p.counts[size_t(ql::Status::Blocked)];
    int64_t total = ql::total(p.counts);
    out.push_back({{"t", p.start_us / kSecondUs}, {"total", total}, {"blocked", blocked}, {"allowed", total - blocked}});
  }
  return json_response(200, json{{"bucket_s", bucket == ql::Bucket::Minute ? 60 : 3600},
                                 {"since_ms", ms(since)},
                                 {"until_ms", ms(until)},
                                 {"points", out}});
}

Response Api::top(const Request& r, const std::string& what) {
  int64_t since, until;
  std::tie(since, until) = time_range(r);
  size_t n = size_t(int_param(r, "n", 10, 1, 100));
  auto ranked = with_reader([&](ql::Reader& reader) {
                  sqlite::Error err;
                  std::vector<ql::Ranked> v;
                  if (what == "clients") v = reader.top_clients(since, until, n, err);
                  else v = reader.top_domains(devices_param(r, reader), since, until, n, what == "blocked", err);
                  if (err) throw std::runtime_error(err.message);
                  return v;
                }).value_or(std::vector<ql::Ranked>{});
  return json_response(200, ranked_json(ranked));
}

ql::QueryFilter filter_from(const Request& r) {
  ql::QueryFilter f;
  f.domain_contains = r.param("domain");
  if (f.domain_contains.size() > 253) throw HttpError{400, "domain: too long"};
  f.text_contains = r.param("q");
  if (f.text_contains.size() > 253) throw HttpError{400, "q: too long"};
  std::string status = r.param("status");
  if (!status.empty()) {
    ql::Status st;
    if (!ql::parse_status(status, st))
      throw HttpError{400, "status: expected forwarded, cached, blocked, local, refused or error"};
    f.status = st;
  }
  std::string type = r.param("type");
  if (!type.empty()) {
    f.qtype = parse_type(type);
    if (!f.qtype) throw HttpError{400, "type: expected a record type such as A or AAAA"};
  }
  f.since_us = time_param(r, "since", 0);
  f.until_us = time_param(r, "until", ql::kForever);
  f.before_id = int_param(r, "before", 0, 0, INT64_MAX);
  f.after_id = int_param(r, "after", 0, 0, INT64_MAX);
  f.limit = size_t(int_param(r, "limit", 100, 1, 1000));
  return f;
}

Response Api::log_page(const Request& r) {
  ql::QueryFilter f = filter_from(r);
  auto page = with_reader([&](ql::Reader& reader) {
    f.devices = devices_param(r, reader);
    sqlite::Error err;
    auto p = reader.queries(f, err);
    if (err) throw std::runtime_error(err.message);
    return p;
  });
  json rows = json::array();
  if (page)
    for (const ql::LogEntry& e : page->rows) rows.push_back(entry_json(e));
  return json_response(200, json{{"rows", rows}, {"next_before", page ? page->next_before_id : 0}, {"log_available", page.has_value()}});
}

// Server-sent events: one "query" event per new row (id: row id, so the
// browser's reconnect resumes with Last-Event-ID), a comment every 15 s to
// keep proxies from closing it. Bounded: kMaxStreams connections, each for
// kStreamLifetime, 200 rows a poll; a connection the client closed gives its
// slot back within 50 ms (StreamWrite::wait watches the socket between polls).
Response Api::log_stream(const Request& r) {
  ql::QueryFilter f = filter_from(r);
  std::string last = r.header("Last-Event-ID");
  if (!last.empty()) {
    try {
      f.after_id = std::stoll(last);
    } catch (const std::exception&) {
      throw HttpError{400, "Last-Event-ID: expected a row id"};
    }
  }
  if (streams_.fetch_add(1) >= kMaxStreams) {
    streams_.fetch_sub(1);
    return error_response(503, "too many live views open; close one");
  }
  // The stream function owns the slot, so it comes back when the function
  // is dropped unrun too (HEAD, or a client gone before the body).
  struct Slot {
    std::atomic<size_t>& n;
    ~Slot() { n.fetch_sub(1); }
  };
  std::shared_ptr<Slot> slot(new Slot{streams_});
  Response resp;
  resp.content_type = "text/event-stream";
  resp.headers.emplace("Cache-Control", "no-store");
  resp.headers.emplace("X-Accel-Buffering", "no");
  bool start_at_end = f.after_id == 0 && r.param("after").empty();
  resp.stream = [this, f, start_at_end, r, slot](const StreamWrite& write) mutable {
    sqlite::Error err;
    std::unique_ptr<ql::Reader> reader;
    auto deadline = std::chrono::steady_clock::now() + kStreamLifetime;
    auto next_ping = std::chrono::steady_clock::now();
    bool positioned = !start_at_end;
    bool filtered = false;  // device/client filters resolved (needs the log open)
    f.limit = 200;
    if (!write("retry: 2000\n\n")) return;
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      if (!reader) reader = ql::Reader::open(db_path_, false, err);
      if (reader && !filtered) {
        f.devices = devices_param(r, *reader);
        filtered = true;
      }
      if (reader) {
        if (!positioned) {
          // Only rows from now on: start after the newest one.
          ql::QueryFilter newest;
          newest.limit = 1;
          auto page = reader->queries(newest, err);
          f.after_id = page.rows.empty() ? 0 : page.rows.front().id;
          positioned = !err;
        } else {
          auto page = reader->queries(f, err);
          for (const ql::LogEntry& e : page.rows) {
            std::string msg = "id: " + std::to_string(e.id) + "\nevent: query\ndata: " +
                              entry_json(e).dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
            if (!write(msg)) return;
            f.after_id = e.id;
          }
          if (page.rows.size() == f.limit) continue;  // more waiting
        }
      }
      if (std::chrono::steady_clock::now() >= next_ping) {
        if (!write(": keep-alive\n\n")) return;
        next_ping = std::chrono::steady_clock::now() + std::chrono::seconds(15);
      }
      // A browser that left the page frees its slot here, not at the next keep-alive.
      if (!write.wait(std::chrono::milliseconds(500))) return;
    }
  };
  return resp;
}

// A page of /api/devices ends where the cursor says: "LASTSEEN_US.ID" of the
// page's last device, as `next` gave it.
std::optional<ql::DeviceCursor> device_cursor(const Request& r) {
  std::string text = r.param("after");
  if (text.empty()) return std::nullopt;
  ql::DeviceCursor c;
  size_t dot = text.find('.');
  try {
    size_t used = 0, used_id = 0;
    if (dot == std::string::npos) throw std::invalid_argument("no dot");
    c.last_seen_us = std::stoll(text.substr(0, dot), &used);
    c.id = std::stoll(text.substr(dot + 1), &used_id);
    if (used != dot || used_id != text.size() - dot - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw HttpError{400, "after: expected the `next` of the previous page"};
  }
  return c;
}

Response Api::devices(const Request& r) {
  int64_t since, until;
  std::tie(since, until) = time_range(r);
  (void)until;
  size_t limit = size_t(int_param(r, "limit", kDevicesPage, 1, kDevicesPageMax));
  auto after = device_cursor(r);
  auto page = with_reader([&](ql::Reader& reader) {
                sqlite::Error err;
                auto p = reader.device_page(since, limit, after, err);
                if (err) throw std::runtime_error(err.message);
                return p;
              }).value_or(ql::DevicePage{});
  json out = json::array();
  for (const ql::Device& d : page.devices) out.push_back(device_json(d));
  json next = page.next ? json(std::to_string(page.next->last_seen_us) + "." + std::to_string(page.next->id)) : json();
  return json_response(200, json{{"devices", out}, {"total", page.total}, {"next", next}});
}

Response Api::device(const Request& r) {
  int64_t id = std::stoll(r.matches.at(1));
  int64_t since, until;
  std::tie(since, until) = time_range(r);
  int64_t today = start_of_today_us();
  auto result = with_reader([&](ql::Reader& reader) -> std::optional<json> {
    sqlite::Error err;
    std::optional<ql::Device> found = reader.device(id, since, err);
    if (err) throw std::runtime_error(err.message);
    if (!found) return std::nullopt;
    json j = device_json(*found);
    auto sum = reader.summary({id}, since, until, err);
    int64_t blocked = sum.counts[size_t(ql::Status::Blocked)];
    j["summary"] = {{"total", sum.total()},
                    {"blocked", blocked},
                    {"blocked_percent", sum.total() ? 100.0 * double(blocked) / double(sum.total()) : 0.0},
                    {"by_status", counts_json(sum.counts)}};
    j["top_domains"] = ranked_json(reader.top_domains({id}, since, until, 10, false, err))["items"];
    j["top_blocked"] = ranked_json(reader.top_domains({id}, since, until, 10, true, err))["items"];
    json fresh = json::array();
    for (const ql::SeenDomain& s : reader.new_domains(id, today, 50, err))
      fresh.push_back({{"domain", s.domain}, {"first_seen_ms", ms(s.first_seen_us)}, {"last_seen_ms", ms(s.last_seen_us)}});
    j["new_domains_today"] = fresh;
    // The list stops at 50; the count does not (up to a bound on the work).
    int64_t count = reader.count_new_domains(id, today, kNewNamesCountCap, err);
    j["new_domains_today_total"] = count;
    j["new_domains_today_capped"] = count >= kNewNamesCountCap;
    if (err) throw std::runtime_error(err.message);
    return j;
  });
  if (!result || !*result) return error_response(404, "no such device");
  return json_response(200, **result);
}

// A device the log does not have is the client's mistake (404); anything
// else is the log's (500).
Response device_update_failed(const sqlite::Error& err) {
  if (!err || err.code == SQLITE_NOTFOUND) return error_response(404, "no such device");
  return error_response(500, err.message);
}

Response Api::update_device(const Request& r) {
  int64_t id = std::stoll(r.matches.at(1));
  json body = parse_body(r);
  std::vector<std::string> groups;
  if (body.contains("groups")) {
    groups = string_list(body, "groups");
    if (groups.empty()) throw HttpError{400, "groups: at least one group"};
    for (const std::string& g : groups)
      if (!clients::valid_group(g)) throw HttpError{400, "groups: names are 1 to 32 of a-z, 0-9, _ and -"};
  }
  sqlite::Error err;
  if (body.contains("name")) {
    std::string name = string_field(body, "name");
    if (name.size() > 64) throw HttpError{400, "name: at most 64 characters"};
    auto reader = ql::Reader::open(db_path_, true, err);
    if (!reader) return error_response(503, "the query log is not available: " + err.message);
    if (!reader->rename_device(id, name, err)) return device_update_failed(err);
  }
  if (groups.empty()) return json_response(200, json{{"ok", true}, {"applied", true}});
  auto devices = clients::DeviceGroups::open(cfg_.server.data_dir, true, err);
  if (!devices) return error_response(503, "the query log is not available: " + err.message);
  if (!devices->set(id, groups, err)) return device_update_failed(err);
  return json_response(200, json{{"ok", true}, {"applied", apply_rules()}});
}

Response Api::groups(const Request&) {
  std::map<std::string, json> g;
  auto entry = [&](const std::string& name) -> json& {
    auto [it, fresh] = g.try_emplace(name, json{{"name", name}, {"devices", json::array()}, {"lists", json::array()},
                                                {"clients", json::array()}, {"rules", 0}});
    return it->second;
  };
  entry("default");
  for (const auto& l : cfg_.lists)
    for (const auto& name : l.groups) entry(name)["lists"].push_back(l.name);
  for (const auto& c : cfg_.clients)
    for (const auto& name : c.groups) entry(name)["clients"].push_back(c.cidr_or_ip);
  for (const policy::Rule& r : rules_.list())
    for (const auto& name : r.groups) entry(name)["rules"] = entry(name)["rules"].get<int>() + 1;
  try {
    for (const subs::Subscription& s : subscriptions().list())
      for (const auto& name : s.groups) entry(name)["lists"].push_back(s.name);
  } catch (const HttpError&) {
  }
  std::map<std::string, int64_t> members;
  with_reader([&](ql::Reader& reader) {
    sqlite::Error err;
    reader.each_device_groups(
        [&](int64_t id, const std::string& device, const std::vector<std::string>& in) {
          for (const auto& name : in) {
            json& group = entry(name);
            if (++members[name] <= kDevicesPage) group["devices"].push_back({{"id", id}, {"name", device}});
          }
        },
        err);
    return 0;
  });
  json out = json::array();
  for (auto& [name, j] : g) {
    j["devices_total"] = members[name];
    out.push_back(std::move(j));
  }
  return json_response(200, json{{"groups", out}});
}

Response Api::lists(const Request&) {
  json configured = json::array();
  for (const metrics::ListInfo& l : rt_.lists())
    configured.push_back({{"name", l.name}, {"entries", l.entries}, {"modified", l.modified_unix}, {"ok", l.ok}});
  json subscribed = json::array();
  RuleLabels labels(*this);
  for (const subs::Subscription& s : subscriptions().list()) {
    json j = subscription_json(s);
    // What the user picked it as (the catalog's name; a vendor list that
    // "Phone home" added is named by its catalog id), and for whom.
    j["title"] = s.name;
    const std::string& id = s.catalog_id.empty() ? s.name : s.catalog_id;
    for (const subs::CatalogEntry& e : subs::catalog())
      if (e.id == id) j["title"] = e.name;
    json targets = json::array();
    for (const std::string& g : s.groups) targets.push_back(labels.group(g));
    j["targets"] = targets;
    std::lock_guard lock(jobs_mu_);
    auto it = jobs_.find(s.name);
    if (it != jobs_.end()) {
      const UpdateJob& job = *it->second;
      j["update"] = {{"running", job.running.load()},
                     {"done_bytes", job.done.load()},
                     {"total_bytes", job.total.load()},
                     {"outcome", job.outcome},
                     {"error", job.error},
                     {"finished", job.finished}};
    }
    subscribed.push_back(std::move(j));
  }
  return json_response(200, json{{"configured", configured}, {"subscriptions", subscribed}, {"blocked_names", rt_.blocked_names()}});
}

Response Api::catalog(const Request&) {
  std::set<std::string> taken;
  // A vendor list "Phone home" added from a given URL carries the catalog id as its name.
  for (const subs::Subscription& s : subscriptions().list()) taken.insert(s.catalog_id.empty() ? s.name : s.catalog_id);
  json out = json::array();
  for (const subs::CatalogEntry& e : subs::catalog())
    out.push_back({{"id", e.id},
                   {"name", e.name},
                   {"vendor", e.vendor},
                   {"category", e.category},
                   {"url", e.url},
                   {"format", e.format},
                   {"license", e.license},
                   {"homepage", e.homepage},
                   {"subscribed", taken.count(std::string(e.id)) > 0}});
  return json_response(200, json{{"entries", out}});
}

void Api::start_update(const std::string& name) {
  auto job = std::make_shared<UpdateJob>();
  {
    std::lock_guard lock(jobs_mu_);
    auto it = jobs_.find(name);
    if (it != jobs_.end() && it->second->running) throw HttpError{409, "an update of " + name + " is running"};
    jobs_[name] = job;
  }
  subs::Subscriptions& s = subscriptions();
  std::lock_guard lock(threads_mu_);
  // Join the updates that have ended, or a long run piles up finished threads.
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (it->first->running) {
      ++it;
      continue;
    }
    it->second.join();
    it = threads_.erase(it);
  }
  threads_.emplace_back(job, [this, &s, name, job] {
    subs::UpdateResult res = s.update(
        name,
        [job](uint64_t done, uint64_t total) {
          job->done = done;
          job->total = total;
          return true;
        },
        &stop_);
    std::lock_guard lock(jobs_mu_);
    job->outcome = subs::outcome_name(res.outcome);
    job->error = res.error;
    job->finished = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    job->running = false;
    // The server's list updater sees the new copy within seconds and rebuilds.
  });
}

Response Api::add_list(const Request& r) {
  json body = parse_body(r);
  subs::AddRequest req;
  req.url = string_field(body, "url");
  req.name = string_field(body, "name");
  req.groups = string_list(body, "groups");
  if (body.contains("subdomains")) {
    if (!body["subdomains"].is_boolean()) throw HttpError{400, "subdomains: expected true or false"};
    req.subdomains = body["subdomains"].get<bool>();
  }
  if (body.contains("interval_hours")) {
    if (!body["interval_hours"].is_number_integer() || body["interval_hours"].get<int64_t>() < 1 ||
        body["interval_hours"].get<int64_t>() > 8760)
      throw HttpError{400, "interval_hours: expected an integer from 1 to 8760"};
    req.interval_s = body["interval_hours"].get<int64_t>() * 3600;
  }
  if (req.url.empty()) throw HttpError{400, "url: a list URL or catalog:ID"};
  req.claim = true;
  std::string error;
  auto added = subscriptions().add(req, error);
  if (!added) return error_response(400, error);
  start_update(added->name);
  return json_response(201, subscription_json(*added));
}

Response Api::settings(const Request&) {
  json ups = json::array();
  for (const auto& a : cfg_.upstream_addrs) ups.push_back(format_address(a));
  json listen = json::array();
  for (const auto& a : cfg_.listen_addrs) listen.push_back(format_address(a));
  const auto& b = cfg_.blocking;
  return json_response(200, json{{"upstreams", ups},
                                 {"listen", listen},
                                 {"http_listen", cfg_.http.listen},
                                 {"data_dir", cfg_.server.data_dir},
                                 {"blocking",
                                  {{"mode", b.mode},
                                   {"ipv4", b.ipv4},
                                   {"ipv6", b.ipv6},
                                   {"ttl", b.ttl},
                                   {"special_names", b.special_names},
                                   {"cname_inspection", b.cname_inspection}}},
                                 {"cache", {{"max_entries", cfg_.cache.max_entries}, {"max_ttl", cfg_.cache.max_ttl}}},
                                 {"subscriptions", {{"interval_hours", cfg_.subscriptions.interval_hours}}},
                                 {"querylog",
                                  {{"enabled", cfg_.querylog.enabled},
                                   {"anonymous", cfg_.querylog.anonymous},
                                   {"raw_retention_s", int64_t(cfg_.querylog.retention_days) * 86400},
                                   {"aggregate_retention_s", int64_t(cfg_.querylog.aggregate_retention_days) * 86400}}},
                                 {"config_rules", {{"allow", cfg_.blocking.allow.size()}, {"deny", cfg_.blocking.deny.size()}}}});
}

void Api::install(HttpServer& s) {
  accounts_.install(s, [this](bool changes_state, CallerHandler h) { return guarded(changes_state, std::move(h)); });
  install_stats_routes(s);
  install_devices_routes(s);
  install_lists_routes(s);
  install_rules_routes(s);
  install_blocking_routes(s);
  s.get("/api/settings", guarded(false, [this](const Request& r, const Caller&) { return settings(r); }));
  Guard guard = [this](bool changes_state, Handler h) {
    return guarded(changes_state, [h = std::move(h)](const Request& r, const Caller&) { return h(r); });
  };
  install_report_routes(s, rt_, cfg_, guard);
  install_controls_routes(s, rt_, cfg_, guard);
  install_schedules_routes(s, rt_, cfg_, guard);
  install_backup_routes(s, rt_, cfg_, guard);
  install_settings_routes(s, rt_, cfg_, guard);
  install_groups_routes(s, rt_, cfg_, guard);
  install_sync_routes(s, rt_, cfg_, guard, stop_);
  install_tokens_routes(s);
  install_static_routes(s);
}

void Api::install_stats_routes(HttpServer& s) {
  s.get("/api/summary", guarded(false, [this](const Request& r, const Caller&) { return summary(r); }));
  s.get("/api/history", guarded(false, [this](const Request& r, const Caller&) { return history(r); }));
  s.get("/api/top/(domains|blocked|clients)",
        guarded(false, [this](const Request& r, const Caller&) { return top(r, r.matches.at(1)); }));
  s.get("/api/log", guarded(false, [this](const Request& r, const Caller&) { return log_page(r); }));
  s.get("/api/log/stream", guarded(false, [this](const Request& r, const Caller&) { return log_stream(r); }));
}

void Api::install_devices_routes(HttpServer& s) {
  s.get("/api/devices", guarded(false, [this](const Request& r, const Caller&) { return devices(r); }));
  s.get("/api/devices/([0-9]{1,18})", guarded(false, [this](const Request& r, const Caller&) { return device(r); }));
  s.put("/api/devices/([0-9]{1,18})", guarded(true, [this](const Request& r, const Caller&) { return update_device(r); }));
  s.get("/api/groups", guarded(false, [this](const Request& r, const Caller&) { return groups(r); }));
}

void Api::install_lists_routes(HttpServer& s) {
  s.get("/api/lists", guarded(false, [this](const Request& r, const Caller&) { return lists(r); }));
  s.get("/api/lists/catalog", guarded(false, [this](const Request& r, const Caller&) { return catalog(r); }));
  s.post("/api/lists", guarded(true, [this](const Request& r, const Caller&) { return add_list(r); }));
  s.del("/api/lists/([^/]+)", guarded(true, [this](const Request& r, const Caller&) {
          std::string error;
          if (!subscriptions().remove(r.matches.at(1), error)) return error_response(404, error);
          return json_response(200, json{{"ok", true}});
        }));
  s.post("/api/lists/([^/]+)/update", guarded(true, [this](const Request& r, const Caller&) {
           std::string name = r.matches.at(1);
           if (!subscriptions().get(name)) return error_response(404, "no subscription " + name);
           start_update(name);
           return json_response(202, json{{"started", true}});
         }));
}

json Api::RuleLabels::group(const std::string& g) {
  auto emplaced = groups_.try_emplace(g, json{{"group", g}, {"label", g}});
  json& entry = emplaced.first->second;
  constexpr std::string_view kDevice = "device-";
  if (!emplaced.second || g.rfind(kDevice, 0) != 0) return entry;
  int64_t id = 0;
  auto [end, ec] = std::from_chars(g.data() + kDevice.size(), g.data() + g.size(), id);
  if (ec != std::errc() || end != g.data() + g.size()) return entry;
  entry["device_id"] = id;
  api_.with_reader([&](ql::Reader& reader) {
    sqlite::Error err;
    if (auto d = reader.device(id, now_us(), err)) entry["label"] = d->name;
    return 0;
  });
  return entry;
}

json Api::RuleLabels::company(const std::string& comment) {
  constexpr std::string_view kCompany = "company:";
  if (comment.rfind(kCompany, 0) != 0) return nullptr;
  std::string id = comment.substr(kCompany.size());
  auto [it, fresh] = companies_.try_emplace(id, json{{"id", id}, {"name", id}});
  if (fresh)
    if (const report::Company* c = report::CompanyMap::builtin()->find(id)) it->second["name"] = c->name;
  return it->second;
}

void Api::install_rules_routes(HttpServer& s) {
  s.get("/api/rules", guarded(false, [this](const Request&, const Caller&) {
          std::string error;
          std::vector<policy::Rule> rules = rules_.list(&error);
          if (!error.empty()) return error_response(500, error);
          json out = json::array();
          RuleLabels labels(*this);
          for (const policy::Rule& r : rules) {
            json targets = json::array();
            for (const std::string& g : r.groups) targets.push_back(labels.group(g));
            out.push_back({{"id", r.id}, {"kind", r.kind}, {"pattern", r.pattern}, {"groups", r.groups},
                           {"targets", targets}, {"company", labels.company(r.comment)},
                           {"comment", r.comment}, {"added", r.added}});
          }
          return json_response(200, json{{"rules", out}});
        }));
  s.post("/api/rules", guarded(true, [this](const Request& r, const Caller&) {
           json body = parse_body(r);
           policy::Rule rule;
           rule.kind = string_field(body, "kind");
           rule.pattern = string_field(body, "pattern");
           rule.groups = string_list(body, "groups");
           rule.comment = string_field(body, "comment");
           std::string error;
           auto added = rules_.add(rule, error);
           if (!added) return error_response(400, error);
           bool applied = apply_rules();
           return json_response(201, json{{"id", added->id}, {"kind", added->kind}, {"pattern", added->pattern},
                                          {"groups", added->groups}, {"comment", added->comment},
                                          {"added", added->added}, {"applied", applied}});
         }));
  s.del("/api/rules/([0-9a-f]{1,32})", guarded(true, [this](const Request& r, const Caller&) {
          std::string error;
          if (!rules_.remove(r.matches.at(1), error)) return error_response(404, error);
          return json_response(200, json{{"ok", true}, {"applied", apply_rules()}});
        }));
}

void Api::install_blocking_routes(HttpServer& s) {
  auto blocking_state = [this] { return blocking_json(rt_.blocking()); };
  s.get("/api/blocking", guarded(false, [blocking_state](const Request&, const Caller&) {
          return json_response(200, blocking_state());
        }));
  auto set_blocking = guarded(true, [this, blocking_state](const Request& r, const Caller&) {
    json body = parse_body(r);
    if (!body.contains("enabled") || !body["enabled"].is_boolean()) throw HttpError{400, "enabled: expected true or false"};
    int64_t seconds = 0;
    if (body.contains("seconds")) {
      if (!body["seconds"].is_number_integer() || body["seconds"].get<int64_t>() < 0 ||
          body["seconds"].get<int64_t>() > 7 * 86400)
        throw HttpError{400, "seconds: expected an integer from 0 to 604800"};
      seconds = body["seconds"].get<int64_t>();
    }
    bool enabled = body["enabled"].get<bool>();
    rt_.set_blocking(enabled, seconds);
    log::info("dashboard: blocking ", enabled ? "on" : "off", !enabled && seconds ? " for " + std::to_string(seconds) + " s" : "");
    return json_response(200, blocking_state());
  });
  s.put("/api/blocking", set_blocking);
  s.post("/api/blocking", set_blocking);
  s.get("/api/alerts", guarded(false, [this](const Request&, const Caller&) {
          return json_response(200, alerts_json(rt_.alert_sinks()));
        }));
}

void Api::install_tokens_routes(HttpServer& s) {
  s.get("/api/tokens", guarded(false, [this](const Request&, const Caller&) {
          json out = json::array();
          for (const TokenInfo& t : auth_.tokens())
            out.push_back({{"id", t.id}, {"name", t.name}, {"created", t.created}, {"role", role_name(t.role)}, {"scope", t.scope}});
          return json_response(200, json{{"tokens", out}});
        }));
  s.post("/api/tokens", guarded(true, [this](const Request& r, const Caller&) {
           json body = parse_body(r);
           std::string error;
           auto role = parse_role(string_field(body, "role", "admin"));
           if (!role) throw HttpError{400, "role: expected admin or read-only"};
           std::string token = auth_.create_token(string_field(body, "name"), error, *role, string_field(body, "scope"));
           if (token.empty()) return error_response(400, error);
           return json_response(201, json{{"token", token}, {"id", token.substr(5, 12)}, {"role", role_name(*role)}});
         }));
  s.del("/api/tokens/([0-9a-f]{1,32})", guarded(true, [this](const Request& r, const Caller&) {
          std::string error;
          if (!auth_.remove_token(r.matches.at(1), error)) return error_response(404, error);
          return json_response(200, json{{"ok", true}});
        }));
}

// Whether an If-None-Match header names `etag` (a list, "*", or weak W/ tags).
bool if_none_match(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view tag = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.rfind("W/", 0) == 0) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

void Api::install_static_routes(HttpServer& s) {
  s.get("/metrics", [this](const Request&) {
    return Response{200, "text/plain; version=0.0.4; charset=utf-8", rt_.metrics_text(), {}, {}};
  });
  // Everything else: the dashboard's files, or a 404.
  s.get("/(.*)", [](const Request& r) {
    std::string path = r.path == "/" ? "/index.html" : r.path;
    if (path.rfind("/api/", 0) == 0) return error_response(404, "not found");
    const Asset* a = find_asset(path);
    if (!a) return Response{404, "text/plain; charset=utf-8", "not found\n", {}, {}};
    // A hashed name never changes content: kept a year, never asked again.
    // Anything else (index.html, which names the hashed files) is no-cache:
    // the browser asks each time whether its copy is current and gets a
    // bodiless 304, so a new binary's files are never mixed with old ones.
    bool current = if_none_match(r.header("If-None-Match"), a->etag);
    Response resp{current ? 304 : 200, std::string(a->content_type), current ? "" : std::string(a->bytes()), {}, {}};
    resp.headers.emplace("Cache-Control", a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    resp.headers.emplace("ETag", std::string(a->etag));
    return resp;
  });
}

}  // namespace

struct Dashboard::Impl {
  std::unique_ptr<Api> api;
  std::unique_ptr<HttpServer> server;
  tls::ServerContext tls;  // http.tls: the [tls] certificate, read again when it changes
};

Dashboard::Dashboard(const Runtime& rt, const Config& cfg) : impl_(std::make_unique<Impl>()) {
  impl_->api = std::make_unique<Api>(rt, cfg);
  // Enough threads for a few live views (each holds one) and the pages.
  impl_->server = std::make_unique<HttpServer>(kMaxStreams + kMaxSyncWaits + 4);
  std::multimap<std::string, std::string> headers{
      {"Content-Security-Policy",
       "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
  };
  // A browser that has seen the dashboard over HTTPS never asks it in clear
  // text again for a year (RFC 6797).
  if (cfg.http.tls) headers.emplace("Strict-Transport-Security", "max-age=31536000");
  impl_->server->set_default_headers(std::move(headers));
  std::vector<std::string> names{cfg.local.hostname, cfg.local.hostname + "." + cfg.local.domain};
  names.insert(names.end(), cfg.local.aliases.begin(), cfg.local.aliases.end());
  if (char host[256] = {}; gethostname(host, sizeof host - 1) == 0) names.push_back(host);
  auto checks = std::make_shared<RequestChecks>(std::move(names));
  impl_->server->set_gate([checks](const Request& r) {
    if (auto refusal = checks->check(r)) return error_response(refusal->status, refusal->message);
    return Response{0};
  });
  impl_->api->install(*impl_->server);
}

Dashboard::~Dashboard() {
  impl_->api->begin_stop();  // live views end within half a second
  impl_->server->stop();     // before the API it calls goes away
  impl_->server.reset();
}

HttpServer& Dashboard::server() { return *impl_->server; }
AuthStore& Dashboard::auth() { return impl_->api->auth(); }
tls::ServerContext& Dashboard::tls() { return impl_->tls; }

std::shared_ptr<void> start_dashboard(const Runtime& rt, const Config& cfg) {
  if (!cfg.http_addr) return nullptr;
  auto dashboard = std::make_shared<Dashboard>(rt, cfg);
  std::string error;
  if (auto password = dashboard->auth().ensure_password(error)) {
    std::cerr << "hush: dashboard password (shown once; change it with `hush passwd`): " << *password << std::endl;
  } else if (!error.empty()) {
    log::error("dashboard: cannot store a password: ", error);
  }
  if (cfg.http.tls) {
    // Read after hush has become server.user: the files must be readable by
    // it, as for every renewal of the DNS-over-TLS certificate.
    if (!dashboard->tls().load(cfg.tls.cert, cfg.tls.key, error)) {
      log::error("dashboard: ", error, "; the dashboard and /metrics are off");
      return nullptr;
    }
    dashboard->server().use_tls(&dashboard->tls());
  }
  if (!dashboard->server().start(*cfg.http_addr, error)) {
    // DNS matters more than the dashboard: say so and keep answering.
    log::warn(error, "; the dashboard and /metrics are off (change http.listen or --http; \"\" turns it off)");
    return nullptr;
  }
  log::info("dashboard on ", cfg.http.tls ? "https://" : "http://", format_address(*cfg.http_addr),
            "/ (metrics on /metrics)");
  return dashboard;
}

}  // namespace hush::web

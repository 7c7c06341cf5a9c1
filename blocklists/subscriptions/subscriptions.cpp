#include "hush/blocklists/subscriptions/subscriptions.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>

#include "base/clock.hpp"
#include "base/file.hpp"
#include "base/sqlite.hpp"
#include "hush/blocklists/data_dir.h"
#include "hush/blocklists/format.h"

namespace hush::blocklists::subs {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kSchemaVersion = 1;

// Table names start with "subscription": the query log, which shares
// hush.db, treats tables of that prefix as hush's own.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS subscription_meta(
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO subscription_meta(key, value) VALUES ('schema_version', 1), ('generation', 0);
CREATE TABLE IF NOT EXISTS subscriptions(
  name TEXT PRIMARY KEY,
  url TEXT NOT NULL UNIQUE,
  catalog_id TEXT NOT NULL DEFAULT '',
  groups TEXT NOT NULL DEFAULT 'default',   -- comma-separated
  subdomains INTEGER NOT NULL DEFAULT 0,
  interval_s INTEGER NOT NULL DEFAULT 0,    -- 0: the configured default
  added INTEGER NOT NULL,                   -- unix seconds, like every time here
  last_attempt INTEGER NOT NULL DEFAULT 0,
  last_success INTEGER NOT NULL DEFAULT 0,
  last_changed INTEGER NOT NULL DEFAULT 0,
  next_update INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  etag TEXT NOT NULL DEFAULT '',
  last_modified INTEGER NOT NULL DEFAULT 0,
  entries INTEGER NOT NULL DEFAULT 0,
  invalid INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  content_hash INTEGER NOT NULL DEFAULT 0,  -- FNV-1a of the local copy
  lease_owner TEXT NOT NULL DEFAULT '',     -- who is downloading it now
  lease_until INTEGER NOT NULL DEFAULT 0);
)sql";

constexpr const char* kColumns =
    "name, url, catalog_id, groups, subdomains, interval_s, added, last_attempt, last_success, "
    "last_changed, next_update, failures, last_error, etag, last_modified, entries, invalid, bytes";

std::vector<std::string> split_groups(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, ','))
    if (!cur.empty()) out.push_back(cur);
  if (out.empty()) out.push_back("default");
  return out;
}

std::string join_groups(const std::vector<std::string>& g) {
  std::string out;
  for (const std::string& s : g) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "default" : out;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64 || n[0] == '.' || n[0] == '-') return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

// "https://h/x/native.xiaomi.txt?x=1" -> "native.xiaomi"; "https://small.oisd.nl/" -> "small.oisd.nl".
std::string name_from_url(const std::string& url) {
  std::string rest = url.substr(url.find("://") + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));
  std::string host = rest.substr(0, rest.find('/'));
  std::string last = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find_last_of('/') + 1);
  for (const char* ext : {".txt", ".list", ".hosts", ".conf"}) {
    std::string e(ext);
    if (last.size() > e.size() && last.compare(last.size() - e.size(), e.size(), e) == 0)
      last.resize(last.size() - e.size());
  }
  std::string n = last.empty() ? host : last;
  std::string out;
  for (char c : n) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (std::isalnum(u) || c == '.' || c == '_' || c == '-') ? char(std::tolower(u)) : '-';
  }
  while (!out.empty() && (out[0] == '.' || out[0] == '-')) out.erase(0, 1);
  if (out.size() > 64) out.resize(64);
  return out.empty() ? "list" : out;
}

Subscription row_to_sub(const sqlite::Stmt& s, const std::string& data_dir) {
  Subscription r;
  int c = 0;
  r.name = s.text(c++);
  r.url = s.text(c++);
  r.catalog_id = s.text(c++);
  r.groups = split_groups(s.text(c++));
  r.subdomains = s.int64(c++) != 0;
  r.interval_s = s.int64(c++);
  r.added = s.int64(c++);
  r.last_attempt = s.int64(c++);
  r.last_success = s.int64(c++);
  r.last_changed = s.int64(c++);
  r.next_update = s.int64(c++);
  r.failures = int(s.int64(c++));
  r.last_error = s.text(c++);
  r.etag = s.text(c++);
  r.last_modified = s.int64(c++);
  r.entries = uint64_t(s.int64(c++));
  r.invalid = uint64_t(s.int64(c++));
  r.bytes = uint64_t(s.int64(c++));
  r.path = list_path(data_dir, r.name);
  std::error_code ec;
  r.has_copy = fs::is_regular_file(r.path, ec);
  return r;
}

sqlite::Db open_db(const std::string& path, int flags, std::string& error) {
  sqlite::Error err;
  sqlite::Db db = sqlite::Db::open(path, flags | SQLITE_OPEN_FULLMUTEX, err);
  if (!db) {
    error = path + ": " + err.message;
    return db;
  }
  // The server and the CLI use the file at the same time; writes are short.
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

}  // namespace

const char* outcome_name(UpdateResult::Outcome o) {
  switch (o) {
    case UpdateResult::Outcome::Updated: return "updated";
    case UpdateResult::Outcome::Unchanged: return "unchanged";
    case UpdateResult::Outcome::NotModified: return "not modified";
    case UpdateResult::Outcome::Failed: return "failed";
    case UpdateResult::Outcome::Busy: return "busy";
  }
  return "?";
}

std::string list_path(const std::string& data_dir, const std::string& name) {
  return data_dir + "/lists/" + name + ".txt";
}

struct Subscriptions::Impl {
  std::mutex mu;
  sqlite::Db db;
  std::string owner;  // lease owner token of this object
  std::string error;  // last SQLite error, for messages

  // Runs `sql` with `args`; calls `row` per result row. False on an error.
  template <class... A>
  bool run(const std::string& sql, const std::function<void(const sqlite::Stmt&)>& row, const A&... args) {
    sqlite::Error err;
    sqlite::Stmt s = db.prepare(sql, err);
    if (!s) {
      error = err.message;
      return false;
    }
    s.bind_all(args...);
    while (true) {
      int rc = s.step();
      if (rc == SQLITE_ROW) {
        if (row) row(s);
        continue;
      }
      if (rc == SQLITE_DONE) return true;
      error = db.last_error().message;
      return false;
    }
  }
  int changes() { return db.changes(); }
  bool bump_generation() {
    return run("UPDATE subscription_meta SET value = value + 1 WHERE key = 'generation'", nullptr);
  }
};

Subscriptions::Subscriptions(std::unique_ptr<Impl> impl, std::string data_dir, const Settings& settings,
                             Clock clock)
    : d_(std::move(impl)), data_dir_(std::move(data_dir)), settings_(settings), clock_(std::move(clock)),
      rng_(std::random_device{}()) {}

Subscriptions::~Subscriptions() = default;

int64_t Subscriptions::now() const { return clock_ ? clock_() : now_seconds(); }

int64_t Subscriptions::jittered(int64_t seconds) {
  if (settings_.jitter <= 0) return seconds;
  std::uniform_real_distribution<double> dist(-settings_.jitter, settings_.jitter);
  return std::max<int64_t>(1, int64_t(std::llround(double(seconds) * (1.0 + dist(rng_)))));
}

std::unique_ptr<Subscriptions> Subscriptions::open(const std::string& data_dir, const Settings& settings,
                                                   std::string& error, Clock clock) {
  std::error_code ec;
  fs::create_directories(data_dir + "/lists", ec);
  if (ec) {
    error = "cannot create " + data_dir + "/lists: " + ec.message();
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  const std::string db_path = database_path(data_dir);
  impl->db = open_db(db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, error);
  if (!impl->db) return nullptr;
  // WAL: the server reads while the CLI writes. A query log that opened the
  // file first has set WAL already; setting it again is harmless.
  if (!impl->run("PRAGMA journal_mode=WAL", [](const sqlite::Stmt&) {})) {
    error = db_path + ": " + impl->error;
    return nullptr;
  }
  // kSchema holds several statements; prepare() would compile the first only.
  if (sqlite::Error e = impl->db.exec(kSchema)) {
    error = db_path + ": " + e.message;
    return nullptr;
  }
  int64_t version = 0;
  impl->run("SELECT value FROM subscription_meta WHERE key = 'schema_version'",
            [&](const sqlite::Stmt& s) { version = s.int64(0); });
  if (version > kSchemaVersion) {
    error = db_path + ": the subscriptions were written by a newer hush (schema " +
            std::to_string(version) + ")";
    return nullptr;
  }
  std::random_device rd;
  impl->owner = std::to_string(::getpid()) + "-" + std::to_string(rd());
  return std::unique_ptr<Subscriptions>(new Subscriptions(std::move(impl), data_dir, settings, std::move(clock)));
}

std::optional<Subscription> Subscriptions::add(const AddRequest& req, std::string& error) {
  AddRequest r = req;
  std::string catalog_id;
  if (r.url.rfind("catalog:", 0) == 0) {
    catalog_id = r.url.substr(8);
    const CatalogEntry* e = find_catalog_entry(catalog_id);
    if (!e) {
      error = "no catalog entry '" + catalog_id + "' (see hush lists catalog)";
      return std::nullopt;
    }
    r.url = std::string(e->url);
    if (r.name.empty()) r.name = catalog_id;
  }
  bool scheme_ok = r.url.rfind("http://", 0) == 0 || r.url.rfind("https://", 0) == 0 ||
                   r.url.rfind("file://", 0) == 0;
  if (!scheme_ok || r.url.size() < 9) {
    error = "'" + r.url + "' is not an http://, https:// or file:// URL (or catalog:ID)";
    return std::nullopt;
  }
  if (r.name.empty()) r.name = name_from_url(r.url);
  if (!valid_name(r.name)) {
    error = "list name '" + r.name + "': use 1 to 64 letters, digits, '.', '_' or '-'";
    return std::nullopt;
  }
  // HaGeZi's "onlydomains" files mean each name and its subdomains; the
  // parser sees that in the file name, which a custom name would hide.
  if (r.url.find("onlydomains") != std::string::npos) r.subdomains = true;
  if (r.groups.empty()) r.groups = {"default"};
  int64_t t = now();
  std::lock_guard lock(d_->mu);
  bool taken = false;
  d_->run("SELECT name FROM subscriptions WHERE name = ? OR url = ?",
          [&](const sqlite::Stmt& s) {
            taken = true;
            error = s.text(0) == r.name ? "a list named '" + r.name + "' exists already (choose --name)"
                                             : "'" + r.url + "' is subscribed already as '" + s.text(0) + "'";
          },
          r.name, r.url);
  if (taken) return std::nullopt;
  // Inserted due now, with the lease held by this object: the caller is about
  // to download it (update()); if it never does, the lease runs out and the
  // server's updater takes the list.
  if (!d_->run("INSERT INTO subscriptions(name, url, catalog_id, groups, subdomains, interval_s, added, "
               "next_update, lease_owner, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               nullptr, r.name, r.url, catalog_id, join_groups(r.groups), int64_t(r.subdomains), r.interval_s,
               t, t, r.claim ? d_->owner : std::string(), r.claim ? t + settings_.total_timeout_s + 60 : 0)) {
    error = "cannot save the subscription: " + d_->error;
    return std::nullopt;
  }
  // A stale copy from an earlier subscription of the same name must not load.
  std::error_code ec;
  fs::remove(list_path(data_dir_, r.name), ec);
  d_->bump_generation();
  std::optional<Subscription> out;
  d_->run(std::string("SELECT ") + kColumns + " FROM subscriptions WHERE name = ?",
          [&](const sqlite::Stmt& s) { out = row_to_sub(s, data_dir_); }, r.name);
  return out;
}

bool Subscriptions::remove(const std::string& name, std::string& error) {
  std::lock_guard lock(d_->mu);
  if (!d_->run("DELETE FROM subscriptions WHERE name = ?", nullptr, name)) {
    error = "cannot remove: " + d_->error;
    return false;
  }
  if (d_->changes() == 0) {
    error = "no list named '" + name + "'";
    return false;
  }
  std::error_code ec;
  fs::remove(list_path(data_dir_, name), ec);
  d_->bump_generation();
  return true;
}

bool Subscriptions::set_groups(const std::string& name, const std::vector<std::string>& groups, std::string& error) {
  if (groups.empty()) {
    error = "a list needs at least one group";
    return false;
  }
  for (const std::string& g : groups)
    if (g.empty() || g.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos) {
      error = "group names use a-z, 0-9, '_' and '-': '" + g + "'";
      return false;
    }
  std::lock_guard lock(d_->mu);
  if (!d_->run("UPDATE subscriptions SET groups = ? WHERE name = ?", nullptr, join_groups(groups), name)) {
    error = "cannot change the groups: " + d_->error;
    return false;
  }
  if (d_->changes() == 0) {
    error = "no list named '" + name + "'";
    return false;
  }
  d_->bump_generation();
  return true;
}

std::vector<Subscription> Subscriptions::list() {
  std::vector<Subscription> out;
  std::lock_guard lock(d_->mu);
  d_->run(std::string("SELECT ") + kColumns + " FROM subscriptions ORDER BY name",
          [&](const sqlite::Stmt& s) { out.push_back(row_to_sub(s, data_dir_)); });
  return out;
}

std::optional<Subscription> Subscriptions::get(const std::string& name) {
  std::optional<Subscription> out;
  std::lock_guard lock(d_->mu);
  d_->run(std::string("SELECT ") + kColumns + " FROM subscriptions WHERE name = ?",
          [&](const sqlite::Stmt& s) { out = row_to_sub(s, data_dir_); }, name);
  return out;
}

int64_t Subscriptions::generation() {
  int64_t g = -1;
  std::lock_guard lock(d_->mu);
  d_->run("SELECT value FROM subscription_meta WHERE key = 'generation'",
          [&](const sqlite::Stmt& s) { g = s.int64(0); });
  return g;
}

int64_t Subscriptions::seconds_until_due() {
  int64_t next = -1;
  bool any = false;
  std::lock_guard lock(d_->mu);
  d_->run("SELECT min(max(next_update, lease_until)) FROM subscriptions", [&](const sqlite::Stmt& s) {
    if (!s.is_null(0)) {
      any = true;
      next = s.int64(0);
    }
  });
  if (!any) return -1;
  return std::max<int64_t>(0, next - now());
}

std::vector<UpdateResult> Subscriptions::update_due(const std::atomic<bool>* stop) {
  std::vector<std::string> due;
  {
    int64_t t = now();
    std::lock_guard lock(d_->mu);
    d_->run("SELECT name FROM subscriptions WHERE next_update <= ? AND (lease_until <= ? OR lease_owner = ?) "
            "ORDER BY next_update",
            [&](const sqlite::Stmt& s) { due.push_back(s.text(0)); }, t, t, d_->owner);
  }
  std::vector<UpdateResult> out;
  for (const std::string& n : due) {
    if (stop && stop->load()) break;
    out.push_back(update(n, {}, stop));
  }
  return out;
}

// One download of a list and what it gave, for record().
struct Subscriptions::Fetched {
  FetchResult fr;
  std::string error;  // why the list stays as it was; "" when it may be recorded as updated
  uint64_t entries = 0, invalid = 0, hash = 0;
  bool replaced = false;  // the new copy is in place of the old
};

UpdateResult Subscriptions::update(const std::string& name, std::function<bool(uint64_t, uint64_t)> progress,
                                   const std::atomic<bool>* stop) {
  UpdateResult res;
  res.name = name;
  uint64_t old_hash = 0;
  std::optional<Subscription> sub = claim(name, res, old_hash);
  if (!sub) return res;
  Fetched got = download(*sub, old_hash, std::move(progress), stop, res);
  return record(*sub, got, std::move(res));
}

std::optional<Subscription> Subscriptions::claim(const std::string& name, UpdateResult& res, uint64_t& old_hash) {
  const int64_t start = now();
  std::optional<Subscription> sub;
  std::lock_guard lock(d_->mu);
  // The lease: one download of a list at a time, across processes.
  d_->run("UPDATE subscriptions SET lease_owner = ?, lease_until = ? "
          "WHERE name = ? AND (lease_until <= ? OR lease_owner = ?)",
          nullptr, d_->owner, start + settings_.total_timeout_s + 60, name, start, d_->owner);
  bool claimed = d_->changes() == 1;
  d_->run(std::string("SELECT ") + kColumns + ", content_hash FROM subscriptions WHERE name = ?",
          [&](const sqlite::Stmt& s) {
            sub = row_to_sub(s, data_dir_);
            old_hash = uint64_t(s.int64(18));
          },
          name);
  if (!sub) {
    res.error = "no list named '" + name + "'";
    return std::nullopt;
  }
  res.entries = sub->entries;
  res.invalid = sub->invalid;
  if (!claimed) {
    res.outcome = UpdateResult::Outcome::Busy;
    res.error = "another process is updating this list";
    return std::nullopt;
  }
  return sub;
}

auto Subscriptions::download(const Subscription& sub, uint64_t old_hash,
                             std::function<bool(uint64_t, uint64_t)> progress, const std::atomic<bool>* stop,
                             UpdateResult& res) -> Fetched {
  FetchOptions fo;
  fo.max_bytes = settings_.max_bytes;
  fo.connect_timeout_s = settings_.connect_timeout_s;
  fo.total_timeout_s = settings_.total_timeout_s;
  fo.max_redirects = settings_.max_redirects;
  fo.progress = std::move(progress);
  fo.stop = stop;
  if (sub.has_copy) {  // without a copy, a 304 would leave nothing to use
    fo.etag = sub.etag;
    fo.last_modified = sub.last_modified;
  }
  const std::string tmp = data_dir_ + "/lists/." + sub.name + ".download-" + std::to_string(::getpid());
  Fetched got;
  got.fr = fetch(sub.url, tmp, fo);
  got.entries = sub.entries;
  got.invalid = sub.invalid;
  got.hash = old_hash;
  if (got.fr.status == FetchResult::Status::Failed) {
    got.error = got.fr.error;
  } else if (got.fr.status == FetchResult::Status::NotModified) {
    res.outcome = UpdateResult::Outcome::NotModified;
  } else {
    if (std::optional<std::string> text = read_file(tmp); !text) {
      got.error = "cannot read the download " + tmp;
    } else {
      got.hash = fnv1a(*text);
      text.reset();
      if (sub.has_copy && got.hash == old_hash) {
        res.outcome = UpdateResult::Outcome::Unchanged;  // same bytes: no re-parse, no rebuild
      } else {
        got.error = validate_list(tmp, sub.name, sub.subdomains, sub.has_copy ? sub.entries : 0,
                                  settings_.shrink_limit, got.entries, got.invalid);
        if (got.error.empty()) {
          std::error_code ec;
          fs::rename(tmp, sub.path, ec);
          if (ec)
            got.error = "cannot replace " + sub.path + ": " + ec.message();
          else
            got.replaced = true;
        }
      }
    }
  }
  std::error_code ec;
  fs::remove(tmp, ec);
  return got;
}

UpdateResult Subscriptions::record(const Subscription& sub, const Fetched& got, UpdateResult res) {
  const std::string& name = sub.name;
  const FetchResult& fr = got.fr;
  const int64_t t = now();
  const int64_t interval = sub.interval_s > 0 ? sub.interval_s : settings_.interval_s;
  std::lock_guard lock(d_->mu);
  if (!got.error.empty()) {
    // Back off: 5 min, 10, 20, ... up to the normal interval.
    int failures = sub.failures + 1;
    int64_t wait = settings_.retry_min_s;
    for (int i = 1; i < failures && wait < interval; ++i) wait *= 2;
    wait = std::min(wait, interval);
    d_->run("UPDATE subscriptions SET last_attempt = ?, failures = ?, last_error = ?, next_update = ?, "
            "lease_owner = '', lease_until = 0 WHERE name = ?",
            nullptr, t, failures, got.error, t + jittered(wait), name);
    res.outcome = UpdateResult::Outcome::Failed;
    res.error = got.error;
    return res;
  }
  std::string etag = fr.status == FetchResult::Status::NotModified && fr.etag.empty() ? sub.etag : fr.etag;
  int64_t last_modified = fr.last_modified ? fr.last_modified : sub.last_modified;
  if (fr.status == FetchResult::Status::Ok && !fr.last_modified) last_modified = 0;
  d_->run("UPDATE subscriptions SET last_attempt = ?, last_success = ?, failures = 0, last_error = '', "
          "next_update = ?, etag = ?, last_modified = ?, lease_owner = '', lease_until = 0 WHERE name = ?",
          nullptr, t, t, t + jittered(interval), etag, last_modified, name);
  bool still_there = d_->changes() == 1;
  if (got.replaced) {
    if (!still_there) {  // removed while downloading: do not leave a copy behind
      std::error_code ec;
      fs::remove(sub.path, ec);
      res.outcome = UpdateResult::Outcome::Failed;
      res.error = "the list was removed during the download";
      return res;
    }
    d_->run("UPDATE subscriptions SET entries = ?, invalid = ?, bytes = ?, content_hash = ?, last_changed = ? "
            "WHERE name = ?",
            nullptr, got.entries, got.invalid, fr.bytes, int64_t(got.hash), t, name);
    d_->bump_generation();
    res.outcome = UpdateResult::Outcome::Updated;
  }
  res.entries = got.entries;
  res.invalid = got.invalid;
  return res;
}

std::string validate_list(const std::string& path, const std::string& name, bool subdomains,
                          uint64_t old_entries, double shrink_limit, uint64_t& entries, uint64_t& invalid) {
  std::optional<std::string> read = read_file(path);
  if (!read) return "cannot read " + path;
  const std::string& text = *read;
  if (std::string why = sniff_body(text); !why.empty()) return why;
  ParseStats stats;
  ParseOptions opts;
  opts.subdomains = subdomains;
  opts.file_name = name;
  parse_list(text, opts, [](Rule&&) {}, stats);
  entries = stats.rules;
  invalid = stats.invalid;
  if (entries == 0)
    return "no rules in it (" + std::to_string(stats.lines) + " lines, " + std::to_string(stats.invalid) +
           " invalid); the previous copy stays";
  if (old_entries > 0 && double(entries) < double(old_entries) * (1.0 - shrink_limit)) {
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.0f%%", shrink_limit * 100);
    return "shrank from " + std::to_string(old_entries) + " to " + std::to_string(entries) +
           " rules (more than " + pct + ", subscriptions.shrink_limit); the previous copy stays";
  }
  return "";
}

std::vector<ListSource> subscribed_lists(const std::string& data_dir, std::string* error) {
  std::vector<ListSource> out;
  const std::string path = database_path(data_dir);
  std::error_code ec;
  if (!fs::exists(path, ec)) return out;
  std::string why;
  sqlite::Db db = open_db(path, SQLITE_OPEN_READONLY, why);
  if (!db) {
    if (error) *error = why;
    return out;
  }
  sqlite::Error err;
  sqlite::Stmt s = db.prepare("SELECT name, groups, subdomains FROM subscriptions ORDER BY name", err);
  if (!s) {
    // No table: nothing was ever subscribed here (the query log's file).
    if (error && err.message.find("no such table") == std::string::npos) *error = path + ": " + err.message;
    return out;
  }
  while (s.step() == SQLITE_ROW) {
    ListSource l;
    l.name = s.text(0);
    l.groups = split_groups(s.text(1));
    l.subdomains = s.int64(2) != 0;
    l.path = list_path(data_dir, l.name);
    if (fs::is_regular_file(l.path, ec)) out.push_back(std::move(l));
  }
  return out;
}

std::string fetch_to_file(const std::string& url, const std::string& dest, const Settings& s) {
  std::error_code ec;
  fs::create_directories(fs::path(dest).parent_path(), ec);
  FetchOptions fo;
  fo.max_bytes = s.max_bytes;
  fo.connect_timeout_s = s.connect_timeout_s;
  fo.total_timeout_s = s.total_timeout_s;
  fo.max_redirects = s.max_redirects;
  const std::string tmp = dest + ".download-" + std::to_string(::getpid());
  FetchResult fr = fetch(url, tmp, fo);
  if (fr.status != FetchResult::Status::Ok) {
    fs::remove(tmp, ec);
    return fr.error.empty() ? "no content" : fr.error;
  }
  uint64_t old_entries = 0, old_invalid = 0, entries = 0, invalid = 0;
  if (fs::is_regular_file(dest, ec))
    validate_list(dest, fs::path(dest).filename().string(), false, 0, 1.0, old_entries, old_invalid);
  std::string why = validate_list(tmp, fs::path(dest).filename().string(), false, old_entries, s.shrink_limit,
                                  entries, invalid);
  if (why.empty()) {
    fs::rename(tmp, dest, ec);
    if (ec) why = "cannot replace " + dest + ": " + ec.message();
  }
  fs::remove(tmp, ec);
  return why;
}

}  // namespace hush::blocklists::subs

// Checking a backup, the preview of a restore, and the restore itself.
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "backup/backup.hpp"
#include "backup/parts.hpp"
#include "base/clock.hpp"
#include "base/file.hpp"
#include "base/file_lock.hpp"
#include "base/sqlite.hpp"
#include "clients/groups.hpp"
#include "config/config.hpp"
#include "hush/blocklists/data_dir.h"
#include "hush/blocklists/subscriptions/subscriptions.h"
#include "local/load.hpp"
#include "policy/controls.hpp"
#include "policy/rules.hpp"
#include "policy/schedules.hpp"
#include "querylog/schema.hpp"

namespace hush::backup {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The shape of contents: which keys, of which JSON types. Values are
// checked by their own parsers in preview().
std::string check_shape(const json& c) {
  if (!c.is_object()) return "contents is not an object";
  if (!c.contains("config") || !(c["config"].is_null() || c["config"].is_string()))
    return "contents.config must be text or null";
  if (!c.contains("files") || !c["files"].is_object()) return "contents.files must be an object";
  for (const auto& item : c["files"].items()) {
    const std::string& name = item.key();
    if (std::find_if(kFiles.begin(), kFiles.end(), [&](const char* f) { return name == f; }) == kFiles.end())
      return "contents.files holds an unknown file " + name;
    if (!item.value().is_string()) return "contents.files." + name + " must be text";
  }
  if (!c.contains("devices") || !c["devices"].is_array()) return "contents.devices must be a list";
  for (const json& d : c["devices"]) {
    if (!d.is_object() || !d.value("key", json()).is_string() || !d.value("groups", json()).is_string() ||
        !d.value("custom_name", json()).is_string() || !d.value("addresses", json()).is_array())
      return "a device in contents.devices lacks key, custom_name, groups or addresses";
    for (const std::string& g : clients::split_groups(d["groups"]))
      if (!clients::valid_group(g)) return "device " + d["key"].get<std::string>() + ": bad group name " + g;
    for (const json& a : d["addresses"])
      if (!a.is_object() || !a.value("ip", json()).is_string()) return "a device address lacks its ip";
  }
  if (!c.contains("subscriptions") || !c["subscriptions"].is_array()) return "contents.subscriptions must be a list";
  for (const json& s : c["subscriptions"]) {
    if (!s.is_object()) return "a subscription is not an object";
    for (const Column& col : kSubscriptionColumns)
      if (!s.contains(col.name) || (col.text ? !s[col.name].is_string() : !s[col.name].is_number_integer()))
        return std::string("a subscription lacks ") + col.name;
    const std::string name = s["name"];
    if (name.empty() || name.find('/') != std::string::npos || name[0] == '.')
      return "subscription name '" + name + "' cannot be a file name";
  }
  if (!c.contains("lists") || !c["lists"].is_object()) return "contents.lists must be an object";
  for (const auto& [name, text] : c["lists"].items())
    if (!text.is_string() || !unbase64(text.get<std::string>())) return "contents.lists." + name + " is not base64";
  return "";
}

// A directory under the data directory for the files a restore writes aside
// (same file system, so each one is later renamed into place).
struct Staging {
  std::string dir;
  explicit Staging(const std::string& parent) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    std::string pattern = parent + "/.restore-XXXXXX";
    if (mkdtemp(pattern.data())) dir = pattern;
  }
  ~Staging() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
};

std::string file_part(const json& c, const char* name) {
  return c["files"].contains(name) ? c["files"][name].get<std::string>() : std::string();
}

size_t count_lines(const std::string& text) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find_first_not_of(" \t\r") != std::string::npos && line[line.find_first_not_of(" \t\r")] != '#') ++n;
  return n;
}

std::string counted(size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

// "a -> b" or "unchanged".
std::string from_to(const std::string& now, const std::string& then) {
  return now == then ? "unchanged" : now + " -> " + then;
}

// "unchanged", "a -> b", or "b, changed" when the counts agree but not the text.
std::string changed(bool differs, const std::string& now, const std::string& then) {
  if (!differs) return "unchanged";
  return now == then ? then + ", changed" : now + " -> " + then;
}

void preview_config(const json& c, const Place& to, Plan& p) {
  if (c["config"].is_null()) {
    p.changes.push_back({"configuration", "not in the backup; kept", ""});
    return;
  }
  const std::string text = c["config"];
  Config next;
  std::vector<std::string> errors;
  if (!load_config_text(text, "the backup's configuration", next, errors)) {
    for (const std::string& e : errors) p.errors.push_back(e);
    return;
  }
  if (to.config_file.empty()) {
    p.changes.push_back({"configuration", "in the backup, not restored here (hush restore --config FILE writes it)", ""});
    return;
  }
  std::optional<std::string> current = read_file(to.config_file);
  if (current && *current == text) {
    p.changes.push_back({"configuration", "unchanged", ""});
    return;
  }
  Config now;
  std::vector<std::string> ignored;
  if (current) load_config_text(*current, to.config_file, now, ignored);
  std::string live, restart;
  for (const KeyChange& k : differing_keys(now, next)) (k.live ? live : restart) += (k.live ? live : restart).empty() ? k.name : ", " + k.name;
  if (live.empty() && restart.empty()) live = "comments and layout";
  if (!live.empty()) p.changes.push_back({"configuration", live, "at the next reload (SIGHUP)"});
  if (!restart.empty()) p.changes.push_back({"configuration", restart, "applies after restart"});
}

// controls.json and schedules.json, each read by its own store as the
// server reads it (`check` holds the backup's copies).
void preview_timed(const json& c, const Place& to, const std::string& check, Plan& p) {
  const int64_t now = now_seconds();
  const std::string controls = file_part(c, "controls.json"), schedules = file_part(c, "schedules.json");
  write_file_atomic(check + "/controls.json", {controls});
  write_file_atomic(check + "/schedules.json", {schedules});
  std::string error;
  size_t controls_then = controls.empty() ? 0 : policy::ControlsStore(check).active(now, &error).size();
  if (!controls.empty() && !error.empty()) p.errors.push_back("controls.json: " + error);
  error.clear();
  size_t controls_now = policy::ControlsStore(to.data_dir).active(now, &error).size();
  p.changes.push_back({"timed exceptions, pauses and blocked services",
                       changed(read_file(to.data_dir + "/controls.json").value_or("") != controls,
                               counted(controls_now, "in force", "in force"), counted(controls_then, "in force", "in force")),
                       "at once"});
  error.clear();
  size_t schedules_then = schedules.empty() ? 0 : policy::ScheduleStore(check).all(&error).size();
  if (!schedules.empty() && !error.empty()) p.errors.push_back("schedules.json: " + error);
  error.clear();
  size_t schedules_now = policy::ScheduleStore(to.data_dir).all(&error).size();
  p.changes.push_back({"schedules",
                       changed(read_file(to.data_dir + "/schedules.json").value_or("") != schedules,
                               counted(schedules_now, "schedule", "schedules"),
                               counted(schedules_then, "schedule", "schedules")),
                       "at once"});
}

void preview_files(const json& c, const Place& to, Plan& p) {
  Staging check(fs::temp_directory_path().string());
  if (check.dir.empty()) {
    p.errors.push_back("cannot make a temporary directory to check the backup's files");
    return;
  }
  const std::string rules = file_part(c, "rules.json");
  std::string error;
  write_file_atomic(check.dir + "/rules.json", {rules});
  size_t rules_then = rules.empty() ? 0 : policy::RulesStore(check.dir).list(&error).size();
  if (!rules.empty() && !error.empty()) p.errors.push_back("rules.json: " + error);
  error.clear();
  size_t rules_now = policy::RulesStore(to.data_dir).list(&error).size();
  p.changes.push_back({"allow/deny entries",
                       changed(read_file(to.data_dir + "/rules.json").value_or("") != rules,
                               counted(rules_now, "entry", "entries"), counted(rules_then, "entry", "entries")),
                       "at once"});
  preview_timed(c, to, check.dir, p);
  const std::string records = file_part(c, "local.records");
  local::Settings s;
  s.records_file = check.dir + "/local.records";
  write_file_atomic(s.records_file, {records});
  std::vector<local::LoadError> bad;
  local::load(s, bad);
  for (const local::LoadError& e : bad) p.errors.push_back("local.records: " + e.describe());
  std::string records_now = read_file(to.data_dir + "/local.records").value_or("");
  p.changes.push_back({"local records",
                       changed(records_now != records, counted(count_lines(records_now), "record", "records"),
                               counted(count_lines(records), "record", "records")),
                       "at once"});
  const std::string auth = file_part(c, "web-auth.json");
  if (!auth.empty() && !json::accept(auth)) p.errors.push_back("web-auth.json is not JSON");
  bool auth_same = read_file(to.data_dir + "/web-auth.json").value_or("") == auth;
  p.changes.push_back({"dashboard password and API tokens", auth_same ? "unchanged" : "replaced", "at once"});
  bool overrides_same = read_file(to.data_dir + "/companies.txt").value_or("") == file_part(c, "companies.txt");
  p.changes.push_back({"report corrections", overrides_same ? "unchanged" : "replaced", "at once"});
}

// Names of the subscriptions and the named or grouped devices now.
void current_database(const std::string& data_dir, std::vector<std::string>& subs, size_t& devices) {
  sqlite::Error err;
  sqlite::Db db = sqlite::Db::open(database_path(data_dir), SQLITE_OPEN_READONLY, err);
  if (!db) return;
  sqlite3_busy_timeout(db.get(), 5000);
  auto st = db.prepare("SELECT name FROM subscriptions ORDER BY name", err);
  while (st && st.step() == SQLITE_ROW) subs.push_back(st.text(0));
  devices = size_t(db.scalar("SELECT count(*) FROM devices WHERE custom_name IS NOT NULL OR groups != 'default'")
                       .value_or(0));
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

std::string check_log(const std::string& path) {
  sqlite::Error err;
  sqlite::Db db = sqlite::Db::open(path, SQLITE_OPEN_READONLY, err);
  if (!db) return "the query log in the backup cannot be opened: " + err.message;
  // A data directory where only `hush lists` ran has the subscriptions'
  // tables and not yet the log's mark.
  if (db.scalar("PRAGMA application_id").value_or(0) != querylog::kApplicationId &&
      !db.scalar("SELECT 1 FROM sqlite_master WHERE name = 'subscriptions'"))
    return "the query log in the backup is not a hush database";
  auto st = db.prepare("PRAGMA quick_check", err);
  if (!st || st.step() != SQLITE_ROW || st.text(0) != "ok") return "the query log in the backup is damaged";
  return "";
}

void preview_database(const json& c, const std::shared_ptr<LogFile>& log, const Place& to, Plan& p) {
  std::vector<std::string> subs_now, subs_then;
  size_t devices_now = 0;
  current_database(to.data_dir, subs_now, devices_now);
  for (const json& s : c["subscriptions"]) subs_then.push_back(s["name"]);
  p.changes.push_back({"named or grouped devices",
                       from_to(std::to_string(devices_now), std::to_string(c["devices"].size())), "at once"});
  size_t copies = c["lists"].size();
  p.changes.push_back({"list subscriptions", from_to(joined(subs_now), joined(subs_then)),
                       copies == subs_then.size() ? "at once" : "at once; lists without a copy in the backup download again"});
  if (!log) return;
  if (fs::exists(database_path(to.data_dir))) {
    p.changes.push_back({"query log", "in the backup, not restored: the log is restored only into a data directory without one", ""});
    return;
  }
  if (log->path.empty()) {
    p.changes.push_back({"query log", "in the backup, not restored here: hush restore puts it into a data directory without one", ""});
    return;
  }
  if (!log->problem) log->problem = check_log(log->path);
  if (!log->problem->empty()) p.errors.push_back(*log->problem);
  p.changes.push_back({"query log", "restored from the backup (" + std::to_string(log->bytes >> 20) + " MiB)", "at start"});
}

// The devices and subscriptions in one transaction. Returns "" or why it rolled back.
std::string write_database(sqlite::Db& db, const json& c, const std::set<std::string>& keep_lists) {
  if (auto e = db.exec("BEGIN IMMEDIATE")) return e.message;
  auto fail = [&db](const std::string& why) {
    db.exec("ROLLBACK");
    return why;
  };
  if (auto e = db.exec("UPDATE devices SET custom_name = NULL, groups = 'default' "
                       "WHERE custom_name IS NOT NULL OR groups != 'default'"))
    return fail(e.message);
  sqlite::Error err;
  auto dev = db.prepare(
      "INSERT INTO devices(key, mac, custom_name, groups, first_seen, last_seen) VALUES(?, nullif(?, ''), nullif(?, ''), ?, ?, ?) "
      "ON CONFLICT(key) DO UPDATE SET custom_name = excluded.custom_name, groups = excluded.groups RETURNING id",
      err);
  auto addr = db.prepare(
      "INSERT INTO addresses(ip, device_id, first_seen, last_seen) VALUES(?, ?, ?, ?) "
      "ON CONFLICT(ip) DO UPDATE SET device_id = excluded.device_id",
      err);
  if (!dev || !addr) return fail(err.message);
  for (const json& d : c["devices"]) {
    dev.reset();
    dev.bind_all(d["key"].get<std::string>(), d.value("mac", std::string()), d["custom_name"].get<std::string>(),
                 d["groups"].get<std::string>(), d.value("first_seen", int64_t(0)), d.value("last_seen", int64_t(0)));
    if (dev.step() != SQLITE_ROW) return fail("devices: " + db.last_error().message);
    int64_t id = dev.int64(0);
    while (dev.step() == SQLITE_ROW) {}
    for (const json& a : d["addresses"]) {
      addr.reset();
      addr.bind_all(a["ip"].get<std::string>(), id, a.value("first_seen", int64_t(0)), a.value("last_seen", int64_t(0)));
      if (addr.step() != SQLITE_DONE) return fail("addresses: " + db.last_error().message);
    }
  }
  if (auto e = db.exec("DELETE FROM subscriptions")) return fail(e.message);
  std::string cols, marks;
  for (const Column& col : kSubscriptionColumns) {
    cols += std::string(cols.empty() ? "" : ", ") + col.name;
    marks += marks.empty() ? "?" : ", ?";
  }
  auto sub = db.prepare("INSERT INTO subscriptions(" + cols + ") VALUES(" + marks + ")", err);
  if (!sub) return fail(err.message);
  for (const json& s : c["subscriptions"]) {
    sub.reset();
    // A list without its copy in the backup is due at once, downloaded whole.
    bool copy = c["lists"].contains(s["name"].get<std::string>()) || keep_lists.count(s["name"].get<std::string>());
    for (size_t i = 0; i < kSubscriptionColumns.size(); ++i) {
      const Column& col = kSubscriptionColumns[i];
      std::string_view n = col.name;
      bool reset = !copy && (n == "next_update" || n == "content_hash" || n == "etag" || n == "last_modified");
      if (col.text) sub.bind(int(i + 1), reset ? std::string_view("") : std::string_view(s[n].get_ref<const std::string&>()));
      else sub.bind(int(i + 1), reset ? int64_t(0) : s[n].get<int64_t>());
    }
    if (sub.step() != SQLITE_DONE) return fail("subscriptions: " + db.last_error().message);
  }
  if (auto e = db.exec("UPDATE subscription_meta SET value = value + 1 WHERE key = 'generation'")) return fail(e.message);
  if (auto e = db.exec("COMMIT")) return fail(e.message);
  return "";
}

// Creates the tables a fresh data directory lacks, as `hush serve` would,
// around the backup's log when it has one.
std::string prepare_database(const std::string& data_dir, const std::shared_ptr<LogFile>& log) {
  std::string path = database_path(data_dir);
  if (log && !log->path.empty() && !fs::exists(path)) {
    // Put aside next to the data directory: moved, not copied again.
    std::error_code ec;
    fs::rename(log->path, path, ec);
    if (ec) {
      if (std::string e = copy_database(log->path, path); !e.empty()) return e;
    } else {
      log->path.clear();
    }
  }
  auto opened = querylog::open_for_writing(path, 0);
  if (!opened.db) return "cannot open " + path + ": " + opened.error.message;
  std::string error;
  if (!blocklists::subs::Subscriptions::open(data_dir, {}, error)) return error;
  return "";
}

// The files written aside, then renamed into place one by one under their locks.
struct FileMove {
  std::string staged;  // "" : remove `target`
  std::string target;
};

std::string stage_files(const json& c, const Place& to, const std::string& staging, std::vector<FileMove>& moves) {
  for (const char* name : kFiles) {
    std::string target = to.data_dir + "/" + name;
    if (!c["files"].contains(name)) {
      if (fs::exists(target)) moves.push_back({"", target});
      continue;
    }
    std::string staged = staging + "/" + name;
    mode_t mode = std::string_view(name) == "web-auth.json" ? 0600 : 0644;
    if (std::string e = write_file_atomic(staged, {c["files"][name].get<std::string>()}, mode); !e.empty()) return e;
    moves.push_back({staged, target});
  }
  std::error_code ec;
  fs::create_directories(staging + "/lists", ec);
  for (const auto& [name, text] : c["lists"].items()) {
    std::string staged = staging + "/lists/" + name + ".txt";
    if (std::string e = write_file_atomic(staged, {*unbase64(text.get<std::string>())}); !e.empty()) return e;
    moves.push_back({staged, blocklists::subs::list_path(to.data_dir, name)});
  }
  if (!c["config"].is_null() && !to.config_file.empty()) {
    std::string staged = to.config_file + ".restore";
    if (std::string e = write_file_atomic(staged, {c["config"].get<std::string>()}); !e.empty()) return e;
    moves.push_back({staged, to.config_file});
  }
  return "";
}

}  // namespace

LogFile::~LogFile() {
  std::error_code ec;
  if (!dir.empty()) fs::remove_all(dir, ec);
}

namespace {

// The document's format, version and checksum; "" or what is wrong.
std::string check_document(const json& doc) {
  if (!doc.is_object() || doc.value("format", json()) != kFormatName)
    return "not a hush backup (no \"format\": \"hush-backup\")";
  json version = doc.value("version", json());
  if (!version.is_number_integer() || version.get<int64_t>() < 1) return "the backup has no valid format version";
  if (version.get<int64_t>() > kFormatVersion)
    return "the backup was made by a newer hush (format version " + std::to_string(version.get<int64_t>()) +
           "; this hush reads up to version " + std::to_string(kFormatVersion) + "); update hush first";
  if (!doc.contains("contents") || !doc.value("sha256", json()).is_string() ||
      sha256_hex(doc["contents"].dump()) != doc["sha256"].get<std::string>())
    return "the backup's checksum does not match: the file was changed or damaged";
  return "";
}

// A new file for the log's bytes in a directory of its own under `parent`.
std::string open_log_file(const std::string& parent, LogFile& log, int& fd) {
  std::string pattern = parent + "/.restore-log-XXXXXX";
  if (!mkdtemp(pattern.data())) return "cannot make a directory in " + parent + ": " + strerror(errno);
  log.dir = pattern;
  log.path = log.dir + "/log.db";
  fd = open(log.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + log.path + ": " + strerror(errno);
  return "";
}

std::string write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return "cannot write " + path + ": " + strerror(errno);
    data.remove_prefix(size_t(n));
  }
  return "";
}

// Reads into `text` until it holds a newline (or, `to_end`, to the end);
// false with `error` on a read error or past kMaxDocumentBytes.
bool read_more(const ReadFn& in, std::string& text, bool to_end, bool& at_end, std::string& error) {
  std::string buf(kPiece, '\0');
  while (!at_end) {
    if (!to_end && text.find('\n') != std::string::npos) return true;
    if (text.size() > kMaxDocumentBytes) {
      error = "the backup's settings are larger than a backup can be";
      return false;
    }
    long n = in(buf.data(), buf.size());
    if (n < 0) {
      error = "cannot read the backup";
      return false;
    }
    if (n == 0) at_end = true;
    text.append(buf.data(), size_t(n));
  }
  return true;
}

// The log's bytes after the document: `rest`, then what `in` gives,
// hashed and, with `fd` >= 0, written to log.path.
std::string stream_log(const ReadFn& in, std::string_view rest, bool at_end, const LogEntry& entry, LogFile& log,
                       int fd) {
  Sha256 sum;
  int64_t got = 0;
  std::string buf(kPiece, '\0');
  auto take = [&](std::string_view piece) -> std::string {
    if (got + int64_t(piece.size()) > entry.bytes) return "the backup has bytes after its query log";
    got += int64_t(piece.size());
    sum.update(piece);
    return fd >= 0 ? write_all(fd, piece, log.path) : "";
  };
  if (std::string e = take(rest); !e.empty()) return e;
  while (!at_end) {
    long n = in(buf.data(), buf.size());
    if (n < 0) return "cannot read the backup";
    if (n == 0) break;
    if (std::string e = take(std::string_view(buf.data(), size_t(n))); !e.empty()) return e;
  }
  if (got < entry.bytes)
    return "the backup is cut short: its query log has " + std::to_string(got) + " of " + std::to_string(entry.bytes) +
           " bytes";
  if (sum.hex() != entry.sha256) return "the query log's checksum does not match: the file was changed or damaged";
  if (fd >= 0 && fsync(fd) != 0) return "cannot write " + log.path + ": " + strerror(errno);
  log.bytes = got;
  return "";
}

}  // namespace

std::optional<Backup> read(const ReadFn& in, const std::function<std::string(const json&)>& log_dir,
                           std::string& error) {
  // The first line is the whole document when a log follows it; an
  // indented document (no log, or format version 1) is read to the end.
  std::string text;
  bool at_end = false;
  if (!read_more(in, text, false, at_end, error)) return std::nullopt;
  json doc;
  std::string_view rest;
  size_t nl = text.find('\n');
  if (nl != std::string::npos) {
    doc = json::parse(std::string_view(text).substr(0, nl), nullptr, false);
    if (doc.is_object()) rest = std::string_view(text).substr(nl + 1);
  }
  if (!doc.is_object()) {
    if (!read_more(in, text, true, at_end, error)) return std::nullopt;
    doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) {
      error = "not a hush backup: the file is cut short or is not JSON";
      return std::nullopt;
    }
  }
  error = check_document(doc);
  if (!error.empty()) return std::nullopt;
  Backup b;
  b.contents = std::move(doc["contents"]);
  b.created = doc.value("created", int64_t(0));
  b.hush_version = doc.value("hush", std::string());
  const bool version1 = doc["version"].get<int64_t>() == 1;
  json log = b.contents.is_object() && b.contents.contains("log") ? b.contents["log"] : json();
  if (b.contents.is_object()) b.contents.erase("log");
  error = check_shape(b.contents);
  std::optional<std::string> v1_bytes;
  std::optional<LogEntry> entry;
  if (error.empty() && !log.is_null()) {
    if (version1 && !(log.is_string() && (v1_bytes = unbase64(log.get<std::string>()))))
      error = "contents.log is not base64";
    if (!version1 && !(entry = log_entry(log))) error = "contents.log lacks the log's bytes and sha256";
  }
  if (!error.empty()) {
    error = "the backup is malformed: " + error;
    return std::nullopt;
  }
  if (!entry && rest.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    error = "the backup has bytes after its settings";
    return std::nullopt;
  }
  if (log.is_null()) return b;
  b.log = std::make_shared<LogFile>();
  const std::string dir = log_dir ? log_dir(b.contents) : "";
  int fd = -1;
  if (!dir.empty()) error = open_log_file(dir, *b.log, fd);
  if (error.empty() && v1_bytes) {
    b.log->bytes = int64_t(v1_bytes->size());
    if (fd >= 0) error = write_all(fd, *v1_bytes, b.log->path);
  } else if (error.empty()) {
    error = stream_log(in, rest, at_end, *entry, *b.log, fd);
  }
  if (fd >= 0) close(fd);
  if (!error.empty()) return std::nullopt;
  return b;
}

std::optional<Backup> parse(std::string_view text, std::string& error,
                            const std::function<std::string(const json&)>& log_dir) {
  return read(
      [&text](char* buf, size_t n) {
        n = std::min(n, text.size());
        std::memcpy(buf, text.data(), n);
        text.remove_prefix(n);
        return long(n);
      },
      log_dir, error);
}

Plan preview(const Backup& b, const Place& to) {
  Plan p;
  preview_config(b.contents, to, p);
  preview_files(b.contents, to, p);
  preview_database(b.contents, b.log, to, p);
  return p;
}

std::string apply(const Backup& b, const Place& to) {
  Plan p = preview(b, to);
  if (!p.errors.empty()) return p.errors.front();
  Staging staging(to.data_dir);
  if (staging.dir.empty()) return "cannot make a directory in " + to.data_dir;
  std::vector<FileMove> moves;
  auto discard = [&moves] {
    std::error_code ec;
    for (const FileMove& m : moves)
      if (!m.staged.empty()) fs::remove(m.staged, ec);
  };
  const std::string db_path = database_path(to.data_dir);
  const bool fresh_db = !fs::exists(db_path);
  std::string error = stage_files(b.contents, to, staging.dir, moves);
  if (error.empty()) error = prepare_database(to.data_dir, b.log);
  if (error.empty()) {
    sqlite::Error err;
    sqlite::Db db = sqlite::Db::open(database_path(to.data_dir), SQLITE_OPEN_READWRITE, err);
    if (!db) error = err.message;
    else {
      sqlite3_busy_timeout(db.get(), 10000);
      error = write_database(db, b.contents, b.keep_lists);
    }
  }
  if (!error.empty()) {
    discard();
    std::error_code ec;
    if (fresh_db)
      for (const std::string& f : {db_path, db_path + "-wal", db_path + "-shm", to.data_dir + "/lists"}) fs::remove(f, ec);
    return error;
  }
  // The database has committed: from here only renames, which do not fail
  // on one file system short of a broken disk.
  std::error_code ec;
  fs::create_directories(to.data_dir + "/lists", ec);
  for (const FileMove& m : moves) {
    FileLock lock(m.target);
    if (m.staged.empty()) fs::remove(m.target, ec);
    else fs::rename(m.staged, m.target, ec);
    if (ec) error = "cannot replace " + m.target + ": " + ec.message();
  }
  std::set<std::string> kept;
  for (const json& s : b.contents["subscriptions"]) kept.insert(s["name"].get<std::string>() + ".txt");
  for (const auto& e : fs::directory_iterator(to.data_dir + "/lists", ec))
    if (e.path().extension() == ".txt" && !kept.count(e.path().filename().string())) fs::remove(e.path(), ec);
  return error;
}

std::string describe(const Plan& p) {
  std::ostringstream out;
  for (const Change& c : p.changes)
    out << c.part << ": " << c.what << (c.when.empty() || c.what == "unchanged" ? "" : " (" + c.when + ")") << "\n";
  for (const std::string& e : p.errors) out << "error: " << e << "\n";
  return out.str();
}

json to_json(const Plan& p) {
  json changes = json::array();
  for (const Change& c : p.changes) changes.push_back({{"part", c.part}, {"what", c.what}, {"when", c.when}});
  return {{"changes", changes}, {"errors", p.errors}};
}

}  // namespace hush::backup

#include "clients/groups.hpp"

#include <filesystem>

#include "hush/blocklists/data_dir.h"

namespace hush::clients {

std::vector<std::string> split_groups(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

bool valid_group(const std::string& g) {
  if (g.empty() || g.size() > 32) return false;
  for (char c : g)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

std::unique_ptr<DeviceGroups> DeviceGroups::open(const std::string& data_dir, bool writable, sqlite::Error& err) {
  const std::string path = database_path(data_dir);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    err = {SQLITE_CANTOPEN, "no database at " + path + " (has hush run with this data directory?)"};
    return nullptr;
  }
  sqlite::Db db = sqlite::Db::open(path, writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, err);
  if (!db) return nullptr;
  sqlite3_busy_timeout(db.get(), 2000);  // the log writer holds the write lock in short bursts
  return std::unique_ptr<DeviceGroups>(new DeviceGroups(std::move(db)));
}

std::vector<blocklists::ClientRule> DeviceGroups::rules(sqlite::Error& err) {
  std::vector<blocklists::ClientRule> out;
  sqlite::Stmt s = db_.prepare(
      "SELECT d.id, d.key, d.groups FROM devices d WHERE d.groups <> 'default' AND d.key LIKE 'id:%' "
      "UNION ALL SELECT d.id, a.ip, d.groups FROM devices d JOIN addresses a ON a.device_id = d.id "
      "WHERE d.groups <> 'default' AND d.key NOT LIKE 'id:%' ORDER BY 1, 2",
      err);
  if (!s) return out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    std::vector<std::string> groups = split_groups(s.text(2));
    if (!groups.empty()) out.push_back({s.text(1), std::move(groups), ""});
  }
  if (rc != SQLITE_DONE) {
    err = db_.last_error();
    return {};
  }
  return out;
}

std::vector<std::string> DeviceGroups::groups(int64_t device_id, sqlite::Error& err) {
  sqlite::Stmt s = db_.prepare("SELECT groups FROM devices WHERE id = ?1", err);
  if (!s) return {};
  s.bind(1, device_id);
  int rc = s.step();
  if (rc == SQLITE_ROW) {
    std::vector<std::string> out = split_groups(s.text(0));
    s.reset();
    return out;
  }
  err = rc == SQLITE_DONE ? sqlite::Error{SQLITE_NOTFOUND, "no device " + std::to_string(device_id)} : db_.last_error();
  return {};
}

bool DeviceGroups::set(int64_t device_id, const std::vector<std::string>& groups, sqlite::Error& err) {
  std::string joined;
  for (const std::string& g : groups) {
    if (!valid_group(g)) {
      err = {SQLITE_MISMATCH, "group names are 1 to 32 of a-z, 0-9, '_' and '-': '" + g + "'"};
      return false;
    }
    if (("," + joined + ",").find("," + g + ",") == std::string::npos) joined += (joined.empty() ? "" : ",") + g;
  }
  if (joined.empty()) {
    err = {SQLITE_MISMATCH, "a device needs at least one group"};
    return false;
  }
  sqlite::Stmt s = db_.prepare("UPDATE devices SET groups = ?2 WHERE id = ?1", err);
  if (!s) return false;
  s.bind(1, device_id).bind(2, joined);
  return db_.change_one(s, "no device " + std::to_string(device_id), err);
}

bool DeviceGroups::changed() {
  auto v = db_.scalar("PRAGMA data_version");
  if (!v || *v == data_version_) return false;
  data_version_ = *v;
  return true;
}

std::vector<blocklists::ClientRule> device_group_rules(const std::string& data_dir) {
  sqlite::Error err;
  auto db = DeviceGroups::open(data_dir, false, err);
  return db ? db->rules(err) : std::vector<blocklists::ClientRule>{};
}

GroupsWatch::GroupsWatch(std::string data_dir) : data_dir_(std::move(data_dir)) { changed(); }

bool GroupsWatch::changed() {
  if (!db_) {
    sqlite::Error err;
    db_ = DeviceGroups::open(data_dir_, false, err);
    if (!db_) return false;
    db_->changed();  // takes the file's version now, so the next call compares with it
  } else if (!db_->changed()) {
    return false;
  }
  sqlite::Error err;
  std::vector<blocklists::ClientRule> now = db_->rules(err);
  if (err || now == seen_) return false;
  seen_ = std::move(now);
  return true;
}

}  // namespace hush::clients

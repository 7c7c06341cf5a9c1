#include "backup/backup.hpp"

#include <openssl/evp.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "backup/parts.hpp"
#include "base/file.hpp"
#include "base/sqlite.hpp"
#include "hush/blocklists/data_dir.h"
#include "hush/blocklists/subscriptions/subscriptions.h"

namespace hush::backup {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), int(data.size()));
  out.resize(size_t(n));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), int(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t pad = text.empty() ? 0 : (text.back() == '=') + (text.size() > 1 && text[text.size() - 2] == '=');
  out.resize(size_t(n) - pad);
  return out;
}

std::string copy_database(const std::string& from, const std::string& to) {
  sqlite::Error err;
  sqlite::Db src = sqlite::Db::open(from, SQLITE_OPEN_READONLY, err);
  if (!src) return "cannot open " + from + ": " + err.message;
  sqlite::Db dst = sqlite::Db::open(to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err);
  if (!dst) return "cannot create " + to + ": " + err.message;
  sqlite3_busy_timeout(src.get(), 5000);
  sqlite3_backup* b = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
  if (!b) return "cannot copy " + from + ": " + sqlite3_errmsg(dst.get());
  int rc = SQLITE_OK;
  // One step for the whole file: one read transaction, so the copy is one
  // moment of a log the server goes on writing.
  for (int tries = 0; tries < 100; ++tries) {
    rc = sqlite3_backup_step(b, -1);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
    sqlite3_sleep(50);
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return "cannot copy " + from + ": " + sqlite3_errstr(rc);
  return "";
}

namespace {

json read_devices(sqlite::Db& db, std::string& error) {
  json out = json::array();
  sqlite::Error err;
  // What a user set: a name or groups. Their addresses come along, since
  // a device's groups apply to the addresses it was seen with.
  auto dev = db.prepare(
      "SELECT id, key, coalesce(mac, ''), coalesce(custom_name, ''), groups, first_seen, last_seen FROM devices "
      "WHERE custom_name IS NOT NULL OR groups != 'default' ORDER BY key",
      err);
  auto addr = db.prepare("SELECT ip, first_seen, last_seen FROM addresses WHERE device_id = ? ORDER BY ip", err);
  if (!dev || !addr) {
    error = "reading devices: " + err.message;
    return out;
  }
  while (dev.step() == SQLITE_ROW) {
    json addrs = json::array();
    addr.reset();
    addr.bind(1, dev.int64(0));
    while (addr.step() == SQLITE_ROW)
      addrs.push_back({{"ip", addr.text(0)}, {"first_seen", addr.int64(1)}, {"last_seen", addr.int64(2)}});
    out.push_back({{"key", dev.text(1)},
                   {"mac", dev.text(2)},
                   {"custom_name", dev.text(3)},
                   {"groups", dev.text(4)},
                   {"first_seen", dev.int64(5)},
                   {"last_seen", dev.int64(6)},
                   {"addresses", addrs}});
  }
  return out;
}

json read_subscriptions(sqlite::Db& db, std::string& error) {
  json out = json::array();
  sqlite::Error err;
  std::string sql = "SELECT ";
  for (size_t i = 0; i < kSubscriptionColumns.size(); ++i)
    sql += std::string(i ? ", " : "") + kSubscriptionColumns[i].name;
  auto st = db.prepare(sql + " FROM subscriptions ORDER BY name", err);
  if (!st) {
    error = "reading subscriptions: " + err.message;
    return out;
  }
  while (st.step() == SQLITE_ROW) {
    json row = json::object();
    for (size_t i = 0; i < kSubscriptionColumns.size(); ++i)
      row[kSubscriptionColumns[i].name] = kSubscriptionColumns[i].text ? json(st.text(int(i))) : json(st.int64(int(i)));
    out.push_back(row);
  }
  return out;
}

bool has_table(sqlite::Db& db, const char* name) {
  sqlite::Error err;
  auto st = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", err);
  return st && st.bind(1, std::string_view(name)).step() == SQLITE_ROW;
}

// Devices, subscriptions and, when asked, the lists' copies and the log.
std::string add_database_parts(const Place& from, const MakeOptions& opts, json& c) {
  c["devices"] = json::array();
  c["subscriptions"] = json::array();
  c["lists"] = json::object();
  std::string path = database_path(from.data_dir);
  if (!fs::exists(path)) return "";
  sqlite::Error err;
  sqlite::Db db = sqlite::Db::open(path, SQLITE_OPEN_READONLY, err);
  if (!db) return "cannot open " + path + ": " + err.message;
  sqlite3_busy_timeout(db.get(), 5000);
  std::string error;
  if (has_table(db, "devices")) c["devices"] = read_devices(db, error);
  if (error.empty() && has_table(db, "subscriptions")) c["subscriptions"] = read_subscriptions(db, error);
  if (!error.empty()) return error;
  if (opts.with_lists)
    for (const json& s : c["subscriptions"]) {
      std::string name = s["name"];
      if (auto text = read_file(blocklists::subs::list_path(from.data_dir, name))) c["lists"][name] = base64(*text);
    }
  if (!opts.with_log) return "";
  std::string copy = from.data_dir + "/.backup-log-" + std::to_string(getpid()) + ".db";
  error = copy_database(path, copy);
  std::optional<std::string> bytes = error.empty() ? read_file(copy) : std::nullopt;
  std::error_code ec;
  fs::remove(copy, ec);
  if (!error.empty()) return error;
  if (!bytes) return "cannot read the copy of the query log";
  c["log"] = base64(*bytes);
  return "";
}

}  // namespace

std::optional<std::string> make(const Place& from, const MakeOptions& opts, std::string& error) {
  json c = json::object();
  c["config"] = nullptr;
  if (!from.config_file.empty()) {
    auto text = read_file(from.config_file);
    if (!text) {
      error = "cannot read " + from.config_file;
      return std::nullopt;
    }
    c["config"] = *text;
  }
  c["files"] = json::object();
  for (const char* name : kFiles)
    if (auto text = read_file(from.data_dir + "/" + name)) c["files"][name] = *text;
  error = add_database_parts(from, opts, c);
  if (!error.empty()) return std::nullopt;
  try {
    return document(c, opts.hush_version, opts.now_unix);
  } catch (const json::exception& e) {
    error = std::string("a settings file is not UTF-8 text: ") + e.what();
    return std::nullopt;
  }
}

std::string document(const json& contents, const std::string& hush_version, int64_t now_unix) {
  json doc{{"format", kFormatName},
           {"version", kFormatVersion},
           {"hush", hush_version},
           {"created", now_unix},
           {"sha256", sha256_hex(contents.dump())},
           {"contents", contents}};
  return doc.dump(1) + "\n";
}

}  // namespace hush::backup

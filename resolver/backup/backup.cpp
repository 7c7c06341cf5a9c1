#include "backup/backup.hpp"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstring>
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
  Sha256 h;
  h.update(data);
  return h.hex();
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr); }

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(std::string_view data) { EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()); }

std::string Sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

std::optional<LogEntry> log_entry(const nlohmann::json& v) {
  if (!v.is_object() || !v.value("bytes", json()).is_number_integer() || !v.value("sha256", json()).is_string())
    return std::nullopt;
  LogEntry e{v["bytes"].get<int64_t>(), v["sha256"].get<std::string>()};
  if (e.bytes < 0 || e.sha256.size() != 64) return std::nullopt;
  return e;
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

// Devices, subscriptions and, when asked, the lists' copies and a copy of
// the log (`log_copy`, its size and checksum in c["log"]).
std::string add_database_parts(const Place& from, const MakeOptions& opts, json& c, Made* made) {
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
  if (!opts.with_log || !made) return "";
  made->log_copy = from.data_dir + "/.backup-log-" + std::to_string(getpid()) + ".db";
  if (std::string e = copy_database(path, made->log_copy); !e.empty()) return e;
  int fd = open(made->log_copy.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "cannot read the copy of the query log: " + std::string(strerror(errno));
  Sha256 sum;
  std::string buf(kPiece, '\0');
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) {
    sum.update(std::string_view(buf.data(), size_t(n)));
    made->log_bytes += n;
  }
  close(fd);
  if (n < 0) return "cannot read the copy of the query log: " + std::string(strerror(errno));
  c["log"] = {{"bytes", made->log_bytes}, {"sha256", sum.hex()}};
  return "";
}

// The settings parts (and with `made` and opts.with_log the log's entry).
std::optional<json> contents(const Place& from, const MakeOptions& opts, Made* made, std::string& error) {
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
  error = add_database_parts(from, opts, c, made);
  if (!error.empty()) return std::nullopt;
  return c;
}

std::string document_of(const json& contents, const std::string& hush_version, int64_t now_unix, int indent) {
  json doc{{"format", kFormatName},
           {"version", kFormatVersion},
           {"hush", hush_version},
           {"created", now_unix},
           {"sha256", sha256_hex(contents.dump())},
           {"contents", contents}};
  return doc.dump(indent) + "\n";
}

}  // namespace

std::optional<std::string> make(const Place& from, const MakeOptions& opts, std::string& error) {
  auto c = contents(from, opts, nullptr, error);
  if (!c) return std::nullopt;
  try {
    return document(*c, opts.hush_version, opts.now_unix);
  } catch (const json::exception& e) {
    error = std::string("a settings file is not UTF-8 text: ") + e.what();
    return std::nullopt;
  }
}

std::string document(const json& contents, const std::string& hush_version, int64_t now_unix) {
  return document_of(contents, hush_version, now_unix, 1);
}

Made::~Made() {
  std::error_code ec;
  if (!log_copy.empty())
    for (const std::string& f : {log_copy, log_copy + "-wal", log_copy + "-shm", log_copy + "-journal"}) fs::remove(f, ec);
}

std::unique_ptr<Made> make_file(const Place& from, const MakeOptions& opts, std::string& error) {
  auto m = std::make_unique<Made>();
  auto c = contents(from, opts, m.get(), error);
  if (!c) return nullptr;
  try {
    // With the log after it, the document is one line: the log starts
    // after the first newline.
    m->document = document_of(*c, opts.hush_version, opts.now_unix, m->log_copy.empty() ? 1 : -1);
  } catch (const json::exception& e) {
    error = std::string("a settings file is not UTF-8 text: ") + e.what();
    return nullptr;
  }
  return m;
}

namespace {

std::string write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return strerror(errno);
    data.remove_prefix(size_t(n));
  }
  return "";
}

}  // namespace

std::string write(const Made& m, int fd) {
  if (std::string e = write_all(fd, m.document); !e.empty()) return e;
  if (m.log_copy.empty()) return "";
  int in = open(m.log_copy.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return "cannot read the copy of the query log: " + std::string(strerror(errno));
  std::string buf(kPiece, '\0');
  int64_t left = m.log_bytes;
  std::string error;
  while (left > 0 && error.empty()) {
    ssize_t n = ::read(in, buf.data(), size_t(std::min<int64_t>(left, int64_t(buf.size()))));
    if (n <= 0) error = "the copy of the query log changed while it was written";
    else {
      error = write_all(fd, std::string_view(buf.data(), size_t(n)));
      left -= n;
    }
  }
  close(in);
  return error;
}

}  // namespace hush::backup

// Shared pieces of the query-log tests: a temporary directory that removes
// itself, records built from a few fields, and direct SQL on the result.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "querylog/queries_table.hpp"
#include "querylog/record.hpp"
#include "base/sqlite.hpp"

namespace hush::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hush-ql-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

constexpr int64_t kMinute = 60LL * 1000000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kT0 = 1767225600LL * 1000000;  // 2026-01-01 00:00:00 UTC

inline querylog::Record record(int64_t t, const std::string& ip, const std::string& name,
                               querylog::Status status = querylog::Status::Forwarded,
                               uint16_t qtype = 1) {
  querylog::Record r;
  r.time_us = t;
  r.qtype = qtype;
  r.status = status;
  if (inet_pton(AF_INET, ip.c_str(), r.addr) == 1)
    r.family = AF_INET;
  else if (inet_pton(AF_INET6, ip.c_str(), r.addr) == 1)
    r.family = AF_INET6;
  r.set_texts(name, status == querylog::Status::Blocked ? "ads: ||" + name + "^" : "forwarded",
              std::string_view("A\xc0\x00\x02\x01", 5),  // 192.0.2.1
              "9.9.9.9:53");
  r.latency_us = 1500;
  return r;
}

// A read-only connection for checking what was stored, with the raw rows
// readable as the `queries` table.
inline sqlite::Db peek(const std::string& path) {
  sqlite::Error e;
  sqlite::Db db = sqlite::Db::open(path, SQLITE_OPEN_READONLY, e);
  if (db) querylog::register_queries_table(db.get());
  return db;
}

inline int64_t count(sqlite::Db& db, const std::string& sql) { return db.scalar(sql).value_or(-1); }

}  // namespace hush::test

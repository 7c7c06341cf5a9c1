#include "base/sqlite.hpp"

namespace hush::sqlite {

int Stmt::step() {
  int rc = sqlite3_step(get());
  if (rc != SQLITE_ROW) sqlite3_reset(get());
  return rc;
}

Db Db::open(const std::string& path, int flags, Error& err) {
  sqlite3* raw = nullptr;
  if (!(flags & SQLITE_OPEN_FULLMUTEX)) flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db;
  db.db_.reset(raw);
  if (rc != SQLITE_OK) {
    err = {raw ? sqlite3_extended_errcode(raw) : rc,
           raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)};
    db.close();
    return db;
  }
  sqlite3_extended_result_codes(raw, 1);
  err = {};
  return db;
}

Error Db::exec(std::string_view sql) {
  std::string s(sql);
  char* msg = nullptr;
  int rc = sqlite3_exec(get(), s.c_str(), nullptr, nullptr, &msg);
  Error e;
  if (rc != SQLITE_OK) e = {sqlite3_extended_errcode(get()), msg ? msg : sqlite3_errstr(rc)};
  sqlite3_free(msg);
  return e;
}

Stmt Db::prepare(std::string_view sql, Error& err) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(get(), sql.data(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &s,
                              nullptr);
  if (rc != SQLITE_OK) {
    err = last_error();
    sqlite3_finalize(s);
    return Stmt();
  }
  err = {};
  return Stmt(s);
}

Error Db::last_error() const {
  return {sqlite3_extended_errcode(get()), sqlite3_errmsg(get())};
}

bool Db::change_one(Stmt& s, const std::string& missing, Error& err) {
  if (s.step() != SQLITE_DONE) {
    err = last_error();
    return false;
  }
  if (sqlite3_changes(db_.get()) == 0) {
    err = {SQLITE_NOTFOUND, missing};
    return false;
  }
  return true;
}

std::optional<int64_t> Db::scalar(std::string_view sql) {
  Error err;
  Stmt s = prepare(sql, err);
  if (!s || s.step() != SQLITE_ROW) return std::nullopt;
  int64_t v = s.int64(0);
  s.reset();
  return v;
}

Transaction::~Transaction() {
  if (open_) db_.exec("ROLLBACK");
}

Error Transaction::commit() {
  Error e = db_.exec("COMMIT");
  if (!e) open_ = false;
  return e;
}

}  // namespace hush::sqlite

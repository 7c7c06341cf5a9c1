// Thin RAII owners for sqlite3* and sqlite3_stmt*, so every early return
// closes and finalizes; expected failures (a locked, full or damaged file, a
// missing table) come back as values with SQLite's message, never as throws.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace hush::sqlite {

// A failure as SQLite reported it; false when there was none.
struct Error {
  int code = SQLITE_OK;  // extended result code
  std::string message;
  explicit operator bool() const { return code != SQLITE_OK; }
};

// Owns one compiled statement and finalizes it. The bind and column calls
// cannot fail on a statement prepare() returned (a wrong index or type is a
// bug; SQLite then binds or reads nothing).
class Stmt {
 public:
  Stmt() = default;
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  explicit operator bool() const { return s_ != nullptr; }
  sqlite3_stmt* get() const { return s_.get(); }

  Stmt& bind(int i, int64_t v) { sqlite3_bind_int64(get(), i, v); return *this; }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(get(), i, v.data(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // The bytes are not copied: they must stay put until the statement is stepped.
  Stmt& bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(get(), i, v.data(), int(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& bind_null(int i) { sqlite3_bind_null(get(), i); return *this; }
  // Binds the arguments to ?1, ?2, ... in order: text for what converts to
  // std::string_view, an integer for the rest.
  template <class... A>
  Stmt& bind_all(const A&... args) {
    [[maybe_unused]] int i = 0;
    (bind_one(++i, args), ...);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code; the statement is reset on DONE
  // and on errors so it can be reused.
  int step();
  void reset() { sqlite3_reset(get()); sqlite3_clear_bindings(get()); }

  int64_t int64(int col) const { return sqlite3_column_int64(get(), col); }
  bool is_null(int col) const { return sqlite3_column_type(get(), col) == SQLITE_NULL; }
  std::string text(int col) const {
    const unsigned char* p = sqlite3_column_text(get(), col);
    return p ? std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(get(), col)))
             : std::string();
  }

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  template <class T>
  void bind_one(int i, const T& v) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>)
      bind(i, std::string_view(v));
    else
      bind(i, int64_t(v));
  }
  std::unique_ptr<sqlite3_stmt, Finalize> s_;
};

// Owns one connection and closes it; a Stmt still alive keeps it open until
// that is finalized (sqlite3_close_v2), so the order of destruction is free.
class Db {
 public:
  Db() = default;
  // Opens `path` with `flags` (SQLITE_OPEN_*), in multi-thread mode unless
  // `flags` asks for SQLITE_OPEN_FULLMUTEX: each owner serialises its own
  // connection. On failure the returned Db is empty and `err` says why.
  static Db open(const std::string& path, int flags, Error& err);

  explicit operator bool() const { return db_ != nullptr; }
  sqlite3* get() const { return db_.get(); }

  // Runs one or more statements without results; stops at the first failure
  // and returns it.
  Error exec(std::string_view sql);
  // Compiles `sql`; on failure returns an empty Stmt and fills `err`.
  Stmt prepare(std::string_view sql, Error& err);
  // The connection's latest failure, for a step() that did not give ROW or DONE.
  Error last_error() const;
  // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  int changes() const { return sqlite3_changes(get()); }
  // Runs a single-value query ("PRAGMA user_version"); nullopt on error or no row.
  std::optional<int64_t> scalar(std::string_view sql);
  // Runs `s`, a change meant for exactly one row (an UPDATE by id). False
  // with `err` when it fails, or with SQLITE_NOTFOUND and `missing` as the
  // message when no row matched.
  bool change_one(Stmt& s, const std::string& missing, Error& err);
  void close() { db_.reset(); }

 private:
  struct Close {
    void operator()(sqlite3* d) const { sqlite3_close_v2(d); }
  };
  std::unique_ptr<sqlite3, Close> db_;
};

// Owns a write transaction (BEGIN IMMEDIATE): commits only on commit(), rolls
// back if destroyed first. begin() and commit() return SQLite's failure; a
// failed commit leaves the transaction open for the rollback.
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) {}
  ~Transaction();
  Error begin() { Error e = db_.exec("BEGIN IMMEDIATE"); open_ = !e; return e; }
  Error commit();

 private:
  Db& db_;
  bool open_ = false;
};

}  // namespace hush::sqlite

// What an SQLite failure means to the query log. The wrapper itself is
// base/sqlite.hpp; this adds only the log's own reading of its errors.
#pragma once

#include "base/sqlite.hpp"

namespace hush::querylog {

// The file is not a database or is damaged: the log moves it aside and starts
// a new one instead of retrying; every other failure is paused and retried.
inline bool file_damaged(const sqlite::Error& e) {
  int primary = e.code & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

}  // namespace hush::querylog

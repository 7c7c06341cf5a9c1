// A table-valued function over rows of integers the caller holds in memory:
//
//   INSERT INTO t SELECT c0, c1, c2 FROM hush_int_rows(?1) WHERE true ...
//
// with ?1 bound by bind_int_rows(). One statement then writes every row,
// and SQLite keeps its cursors on the target's B-trees from row to row: rows
// in key order are appended without a search from the root each, where one
// execution per row starts every search over. The per-day totals the log
// writer flushes cost about a third as much this way (flood of new names,
// see Store::put_aggregates).
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>

namespace hush::querylog {

struct IntRows {
  const int64_t* data = nullptr;  // row after row, `cols` values each
  size_t rows = 0;
  int cols = 0;  // at most kIntRowsMaxCols; columns past it read NULL
};
constexpr int kIntRowsMaxCols = 8;

// Makes hush_int_rows available on `db`; SQLITE_OK or an error code.
int register_int_rows(sqlite3* db);

// Binds `rows` (which must outlive the statement's steps) to parameter `i`.
int bind_int_rows(sqlite3_stmt* stmt, int i, const IntRows* rows);

}  // namespace hush::querylog

#include "querylog/int_rows.hpp"

#include <new>

namespace hush::querylog {

namespace {

constexpr const char* kPointerType = "hush_int_rows";
constexpr int kRowsColumn = kIntRowsMaxCols;  // the hidden argument

struct Cursor : sqlite3_vtab_cursor {
  const IntRows* rows = nullptr;
  size_t row = 0;
};

int connect(sqlite3* db, void*, int, const char* const*, sqlite3_vtab** out, char**) {
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(c0, c1, c2, c3, c4, c5, c6, c7, rows HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  auto* t = static_cast<sqlite3_vtab*>(sqlite3_malloc(sizeof(sqlite3_vtab)));
  if (!t) return SQLITE_NOMEM;
  *t = {};
  *out = t;
  return SQLITE_OK;
}

int disconnect(sqlite3_vtab* t) {
  sqlite3_free(t);
  return SQLITE_OK;
}

int best_index(sqlite3_vtab*, sqlite3_index_info* info) {
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (c.iColumn == kRowsColumn && c.op == SQLITE_INDEX_CONSTRAINT_EQ && c.usable) {
      info->aConstraintUsage[i].argvIndex = 1;
      info->aConstraintUsage[i].omit = 1;
      info->estimatedCost = 1;
      return SQLITE_OK;
    }
  }
  // Without its argument there is nothing to read.
  return SQLITE_CONSTRAINT;
}

int open(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  auto* c = new (std::nothrow) Cursor;
  if (!c) return SQLITE_NOMEM;
  *out = c;
  return SQLITE_OK;
}

int close(sqlite3_vtab_cursor* c) {
  delete static_cast<Cursor*>(c);
  return SQLITE_OK;
}

int filter(sqlite3_vtab_cursor* base, int, const char*, int argc, sqlite3_value** argv) {
  auto* c = static_cast<Cursor*>(base);
  c->rows = argc > 0 ? static_cast<const IntRows*>(sqlite3_value_pointer(argv[0], kPointerType)) : nullptr;
  c->row = 0;
  return SQLITE_OK;
}

int next(sqlite3_vtab_cursor* base) {
  ++static_cast<Cursor*>(base)->row;
  return SQLITE_OK;
}

int eof(sqlite3_vtab_cursor* base) {
  auto* c = static_cast<Cursor*>(base);
  return !c->rows || c->row >= c->rows->rows;
}

int column(sqlite3_vtab_cursor* base, sqlite3_context* ctx, int col) {
  auto* c = static_cast<Cursor*>(base);
  if (col < c->rows->cols)
    sqlite3_result_int64(ctx, c->rows->data[c->row * size_t(c->rows->cols) + size_t(col)]);
  else
    sqlite3_result_null(ctx);
  return SQLITE_OK;
}

int rowid(sqlite3_vtab_cursor* base, sqlite3_int64* out) {
  *out = sqlite3_int64(static_cast<Cursor*>(base)->row);
  return SQLITE_OK;
}

sqlite3_module make_module() {
  sqlite3_module m{};
  // No xCreate: eponymous only, used as hush_int_rows(?) without CREATE VIRTUAL TABLE.
  m.xConnect = connect;
  m.xBestIndex = best_index;
  m.xDisconnect = disconnect;
  m.xOpen = open;
  m.xClose = close;
  m.xFilter = filter;
  m.xNext = next;
  m.xEof = eof;
  m.xColumn = column;
  m.xRowid = rowid;
  return m;
}

const sqlite3_module kModule = make_module();

}  // namespace

int register_int_rows(sqlite3* db) { return sqlite3_create_module(db, "hush_int_rows", &kModule, nullptr); }

int bind_int_rows(sqlite3_stmt* stmt, int i, const IntRows* rows) {
  return sqlite3_bind_pointer(stmt, i, const_cast<IntRows*>(rows), kPointerType, nullptr);
}

}  // namespace hush::querylog

#include "querylog/queries_table.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "querylog/block.hpp"

namespace hush::querylog {

namespace {

enum Column { kId, kTime, kDevice, kAddress, kDomain, kQtype, kProto, kStatus, kRcode, kReason, kUpstream, kAnswer, kLatency };

// One letter per xFilter argument, in argument order, says what it bounds.
constexpr char kEq = 'E', kGt = 'G', kGe = 'g', kLt = 'L', kLe = 'l', kDeviceEq = 'D', kDeviceIn = 'I';
constexpr int kDescending = 1;  // idxNum bit

struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
  void reset(sqlite3_stmt* next) {
    sqlite3_finalize(s);
    s = next;
  }
};

struct Table : sqlite3_vtab {
  sqlite3* db = nullptr;
};

struct Cursor : sqlite3_vtab_cursor {
  int64_t lo = 0, hi = std::numeric_limits<int64_t>::max();  // ids in [lo, hi)
  bool descending = false;
  std::vector<int64_t> devices;  // sorted; empty: every device
  bool by_device = false;

  // Blocks to visit: either a range scan, or the ids block_devices gave.
  Stmt scan, fetch;
  std::vector<int64_t> block_ids;
  size_t next_block = 0;

  std::string blob;
  std::string scratch;  // a deflated block's body, which rows point into
  std::vector<Row> rows;
  size_t pos = 0;  // index into rows (counting from the end when descending)
  bool eof = true;
  std::string answer;
};

Table* table_of(sqlite3_vtab_cursor* c) { return static_cast<Table*>(c->pVtab); }

int fail(sqlite3_vtab_cursor* c, int rc, const std::string& message) {
  sqlite3_free(c->pVtab->zErrMsg);
  c->pVtab->zErrMsg = sqlite3_mprintf("%s", message.c_str());
  return rc;
}

int connect(sqlite3* db, void*, int, const char* const*, sqlite3_vtab** out, char**) {
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(id INTEGER, t INTEGER, device_id INTEGER, address_id INTEGER, "
                                "domain_id INTEGER, qtype INTEGER, proto INTEGER, status INTEGER, rcode INTEGER, "
                                "reason_id INTEGER, upstream_id INTEGER, answer TEXT, latency_us INTEGER)");
  if (rc != SQLITE_OK) return rc;
  auto* t = new Table();
  t->db = db;
  *out = t;
  return SQLITE_OK;
}

int disconnect(sqlite3_vtab* v) {
  delete static_cast<Table*>(v);
  return SQLITE_OK;
}

int best_index(sqlite3_vtab*, sqlite3_index_info* info) {
  std::string ops;
  int arg = 0;
  bool low = false, high = false, device = false;
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (!c.usable) continue;
    char op = 0;
    if (c.iColumn == kId || c.iColumn == -1) {
      switch (c.op) {
        case SQLITE_INDEX_CONSTRAINT_EQ: op = kEq; break;
        case SQLITE_INDEX_CONSTRAINT_GT: op = kGt; break;
        case SQLITE_INDEX_CONSTRAINT_GE: op = kGe; break;
        case SQLITE_INDEX_CONSTRAINT_LT: op = kLt; break;
        case SQLITE_INDEX_CONSTRAINT_LE: op = kLe; break;
        default: continue;
      }
      low = low || op == kEq || op == kGt || op == kGe;
      high = high || op == kEq || op == kLt || op == kLe;
    } else if (c.iColumn == kDevice && c.op == SQLITE_INDEX_CONSTRAINT_EQ && !device) {
      // Only a list or a literal: a device column of a joined table would
      // make SQLite run one block scan per device and sort the result.
      sqlite3_value* rhs = nullptr;
      if (sqlite3_vtab_in(info, i, -1)) {
        sqlite3_vtab_in(info, i, 1);
        op = kDeviceIn;
      } else if (sqlite3_vtab_rhs_value(info, i, &rhs) == SQLITE_OK) {
        op = kDeviceEq;
      } else {
        continue;
      }
      device = true;
    } else {
      continue;
    }
    ops.push_back(op);
    info->aConstraintUsage[i].argvIndex = ++arg;
    info->aConstraintUsage[i].omit = 1;
  }
  info->idxNum = 0;
  if (info->nOrderBy == 1 && (info->aOrderBy[0].iColumn == kId || info->aOrderBy[0].iColumn == -1)) {
    info->orderByConsumed = 1;
    if (info->aOrderBy[0].desc) info->idxNum |= kDescending;
  }
  double rows = low && high ? 1e4 : low || high ? 1e5 : 1e6;
  if (device) rows /= 10;
  info->estimatedRows = sqlite3_int64(rows);
  info->estimatedCost = rows;
  info->idxStr = sqlite3_mprintf("%s", ops.c_str());
  info->needToFreeIdxStr = 1;
  return SQLITE_OK;
}

int open_cursor(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  *out = new Cursor();
  return SQLITE_OK;
}

int close_cursor(sqlite3_vtab_cursor* c) {
  delete static_cast<Cursor*>(c);
  return SQLITE_OK;
}

// Reads the next block to visit into c->rows; false when there is none.
int load_next_block(Cursor* c, bool& loaded) {
  loaded = false;
  sqlite3* db = table_of(c)->db;
  int64_t first_id = 0, n = 0;
  if (!c->by_device) {
    int rc = sqlite3_step(c->scan.s);
    if (rc == SQLITE_DONE) return SQLITE_OK;
    if (rc != SQLITE_ROW) return fail(c, rc, sqlite3_errmsg(db));
    first_id = sqlite3_column_int64(c->scan.s, 0);
    n = sqlite3_column_int64(c->scan.s, 1);
    c->blob.assign(static_cast<const char*>(sqlite3_column_blob(c->scan.s, 2)),
                   size_t(sqlite3_column_bytes(c->scan.s, 2)));
  } else {
    for (;;) {
      if (c->next_block == c->block_ids.size()) return SQLITE_OK;
      first_id = c->block_ids[c->next_block++];
      sqlite3_bind_int64(c->fetch.s, 1, first_id);
      int rc = sqlite3_step(c->fetch.s);
      if (rc == SQLITE_ROW) {
        n = sqlite3_column_int64(c->fetch.s, 0);
        c->blob.assign(static_cast<const char*>(sqlite3_column_blob(c->fetch.s, 1)),
                       size_t(sqlite3_column_bytes(c->fetch.s, 1)));
        sqlite3_reset(c->fetch.s);
        break;
      }
      sqlite3_reset(c->fetch.s);
      if (rc != SQLITE_DONE) return fail(c, rc, sqlite3_errmsg(db));
      // Pruned between the two reads: nothing to show from it.
    }
  }
  if (!read_block(c->blob, first_id, n, c->rows, c->scratch))
    return fail(c, SQLITE_CORRUPT_VTAB, "query block " + std::to_string(first_id) + " is damaged");
  c->pos = 0;
  loaded = true;
  return SQLITE_OK;
}

const Row& current(const Cursor* c) {
  return c->descending ? c->rows[c->rows.size() - 1 - c->pos] : c->rows[c->pos];
}

bool wanted(const Cursor* c, const Row& r) {
  if (r.id < c->lo || r.id >= c->hi) return false;
  return !c->by_device || std::binary_search(c->devices.begin(), c->devices.end(), r.device_id);
}

// Moves to the first wanted row at or after the current position.
int settle(Cursor* c) {
  for (;;) {
    while (c->pos < c->rows.size()) {
      if (wanted(c, current(c))) {
        c->eof = false;
        return SQLITE_OK;
      }
      ++c->pos;
    }
    bool loaded = false;
    if (int rc = load_next_block(c, loaded); rc != SQLITE_OK) return rc;
    if (!loaded) {
      c->eof = true;
      return SQLITE_OK;
    }
  }
}

int filter(sqlite3_vtab_cursor* base, int idx_num, const char* idx_str, int argc, sqlite3_value** argv) {
  auto* c = static_cast<Cursor*>(base);
  sqlite3* db = table_of(c)->db;
  c->lo = 0;
  c->hi = std::numeric_limits<int64_t>::max();
  c->descending = idx_num & kDescending;
  c->devices.clear();
  c->by_device = false;
  c->rows.clear();
  c->pos = 0;
  c->block_ids.clear();
  c->next_block = 0;
  c->eof = true;

  const std::string ops = idx_str ? idx_str : "";
  for (int i = 0; i < argc && size_t(i) < ops.size(); ++i) {
    sqlite3_value* v = argv[i];
    if (ops[size_t(i)] == kDeviceIn) {
      c->by_device = true;
      sqlite3_value* item = nullptr;
      int rc;
      for (rc = sqlite3_vtab_in_first(v, &item); rc == SQLITE_OK && item; rc = sqlite3_vtab_in_next(v, &item))
        if (sqlite3_value_numeric_type(item) == SQLITE_INTEGER) c->devices.push_back(sqlite3_value_int64(item));
      if (rc != SQLITE_OK && rc != SQLITE_DONE) return fail(c, rc, sqlite3_errmsg(db));
      continue;
    }
    // A bound that is not an integer (NULL, text) matches no row, as
    // comparing an INTEGER column with it would.
    if (sqlite3_value_numeric_type(v) != SQLITE_INTEGER) return SQLITE_OK;
    int64_t x = sqlite3_value_int64(v);
    auto at_least = [&](int64_t b) { c->lo = std::max(c->lo, b); };
    auto below = [&](int64_t b) { c->hi = std::min(c->hi, b); };
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    switch (ops[size_t(i)]) {
      case kEq: at_least(x); below(x == kMax ? x : x + 1); break;
      case kGt: if (x == kMax) return SQLITE_OK; at_least(x + 1); break;
      case kGe: at_least(x); break;
      case kLt: below(x); break;
      case kLe: below(x == kMax ? x : x + 1); break;
      case kDeviceEq: c->by_device = true; c->devices.push_back(x); break;
    }
  }
  if (c->lo >= c->hi) return SQLITE_OK;
  std::sort(c->devices.begin(), c->devices.end());
  // A block holding id lo starts after lo - kMaxBlockRows.
  const int64_t from = c->lo > std::numeric_limits<int64_t>::min() + kMaxBlockRows ? c->lo - kMaxBlockRows : c->lo;
  sqlite3_stmt* s = nullptr;
  if (!c->by_device) {
    const char* sql = c->descending
                          ? "SELECT first_id, n, data FROM query_blocks WHERE first_id > ?1 AND first_id < ?2 "
                            "ORDER BY first_id DESC"
                          : "SELECT first_id, n, data FROM query_blocks WHERE first_id > ?1 AND first_id < ?2 "
                            "ORDER BY first_id";
    if (int rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr); rc != SQLITE_OK) return fail(c, rc, sqlite3_errmsg(db));
    c->scan.reset(s);
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, c->hi);
    return settle(c);
  }
  int rc = sqlite3_prepare_v2(
      db, "SELECT first_id FROM block_devices WHERE device_id = ?1 AND first_id > ?2 AND first_id < ?3", -1, &s,
      nullptr);
  if (rc != SQLITE_OK) return fail(c, rc, sqlite3_errmsg(db));
  Stmt ids;
  ids.reset(s);
  for (size_t i = 0; i < c->devices.size(); ++i) {
    if (i && c->devices[i] == c->devices[i - 1]) continue;
    sqlite3_bind_int64(s, 1, c->devices[i]);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, c->hi);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) c->block_ids.push_back(sqlite3_column_int64(s, 0));
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return fail(c, rc, sqlite3_errmsg(db));
  }
  std::sort(c->block_ids.begin(), c->block_ids.end());
  c->block_ids.erase(std::unique(c->block_ids.begin(), c->block_ids.end()), c->block_ids.end());
  if (c->descending) std::reverse(c->block_ids.begin(), c->block_ids.end());
  if ((rc = sqlite3_prepare_v2(db, "SELECT n, data FROM query_blocks WHERE first_id = ?1", -1, &s, nullptr)) !=
      SQLITE_OK)
    return fail(c, rc, sqlite3_errmsg(db));
  c->fetch.reset(s);
  return settle(c);
}

int next(sqlite3_vtab_cursor* base) {
  auto* c = static_cast<Cursor*>(base);
  ++c->pos;
  return settle(c);
}

int eof(sqlite3_vtab_cursor* base) { return static_cast<Cursor*>(base)->eof; }

int column(sqlite3_vtab_cursor* base, sqlite3_context* ctx, int col) {
  auto* c = static_cast<Cursor*>(base);
  const Row& r = current(c);
  auto id_or_null = [&](int64_t id) { id ? sqlite3_result_int64(ctx, id) : sqlite3_result_null(ctx); };
  switch (col) {
    case kId: sqlite3_result_int64(ctx, r.id); break;
    case kTime: sqlite3_result_int64(ctx, r.time_us); break;
    case kDevice: sqlite3_result_int64(ctx, r.device_id); break;
    case kAddress: sqlite3_result_int64(ctx, r.address_id); break;
    case kDomain: sqlite3_result_int64(ctx, r.domain_id); break;
    case kQtype: sqlite3_result_int(ctx, r.qtype); break;
    case kProto: sqlite3_result_int(ctx, int(r.transport)); break;
    case kStatus: sqlite3_result_int(ctx, int(r.status)); break;
    case kRcode: sqlite3_result_int(ctx, r.rcode); break;
    case kReason: id_or_null(r.reason_id); break;
    case kUpstream: id_or_null(r.upstream_id); break;
    case kAnswer:
      if (r.answer.empty()) {
        sqlite3_result_null(ctx);
      } else {
        c->answer = answer_text(r.answer);
        sqlite3_result_text(ctx, c->answer.data(), int(c->answer.size()), SQLITE_TRANSIENT);
      }
      break;
    case kLatency: sqlite3_result_int64(ctx, r.latency_us); break;
    default: sqlite3_result_null(ctx);
  }
  return SQLITE_OK;
}

int rowid(sqlite3_vtab_cursor* base, sqlite3_int64* out) {
  *out = current(static_cast<Cursor*>(base)).id;
  return SQLITE_OK;
}

sqlite3_module make_module() {
  sqlite3_module m{};
  m.iVersion = 0;
  m.xCreate = nullptr;  // eponymous only: there is nothing to CREATE
  m.xConnect = connect;
  m.xBestIndex = best_index;
  m.xDisconnect = disconnect;
  m.xDestroy = disconnect;
  m.xOpen = open_cursor;
  m.xClose = close_cursor;
  m.xFilter = filter;
  m.xNext = next;
  m.xEof = eof;
  m.xColumn = column;
  m.xRowid = rowid;
  return m;
}

const sqlite3_module kModule = make_module();

}  // namespace

int register_queries_table(sqlite3* db) { return sqlite3_create_module_v2(db, "queries", &kModule, nullptr, nullptr); }

}  // namespace hush::querylog

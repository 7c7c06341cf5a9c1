// The raw query rows as an SQL table again: `queries`, an eponymous
// read-only virtual table over query_blocks (block.hpp), with the columns of
// the table it replaced in schema 2:
//
//   id, t, device_id, address_id, domain_id, qtype, proto, status, rcode,
//   reason_id, upstream_id, answer (text), latency_us
//
// so SQL written against rows (the readers, the report, the tests) keeps
// working. Constraints on id (=, <, <=, >, >=) and on device_id (= a literal,
// or IN a list) choose the blocks to read; ORDER BY id in either direction
// costs nothing. Any other constraint is checked by SQLite on every row of
// the id range, so keep reads to an id range (minute_ids).
#pragma once

#include <sqlite3.h>

namespace hush::querylog {

// Makes `queries` available on `db`. Returns an SQLite result code.
int register_queries_table(sqlite3* db);

}  // namespace hush::querylog

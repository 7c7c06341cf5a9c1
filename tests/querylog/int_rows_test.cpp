// hush_int_rows: rows held in memory read as a table, one statement for all.
#include <catch2/catch.hpp>

#include <vector>

#include "querylog/int_rows.hpp"
#include "base/sqlite.hpp"

using namespace hush;
using namespace hush::querylog;

namespace {
sqlite::Db memory_db() {
  sqlite::Error err;
  sqlite::Db db = sqlite::Db::open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err);
  REQUIRE(db);
  REQUIRE(register_int_rows(db.get()) == SQLITE_OK);
  return db;
}
}  // namespace

TEST_CASE("hush_int_rows reads the bound rows in order, NULL past the last column") {
  sqlite::Db db = memory_db();
  sqlite::Error err;
  sqlite::Stmt s = db.prepare("SELECT rowid, c0, c1, c2 IS NULL FROM hush_int_rows(?1)", err);
  REQUIRE(s);
  const std::vector<int64_t> data = {7, -1, 8, 1LL << 40, 9, 0};
  IntRows rows{data.data(), 3, 2};
  REQUIRE(bind_int_rows(s.get(), 1, &rows) == SQLITE_OK);
  for (int64_t i = 0; i < 3; ++i) {
    REQUIRE(s.step() == SQLITE_ROW);
    CHECK(s.int64(0) == i);
    CHECK(s.int64(1) == data[size_t(2 * i)]);
    CHECK(s.int64(2) == data[size_t(2 * i + 1)]);
    CHECK(s.int64(3) == 1);
  }
  CHECK(s.step() == SQLITE_DONE);
}

TEST_CASE("hush_int_rows feeds an upsert: new rows inserted, existing ones updated") {
  sqlite::Db db = memory_db();
  REQUIRE(!db.exec("CREATE TABLE t(k INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO t VALUES(2, 10);"));
  sqlite::Error err;
  sqlite::Stmt s = db.prepare(
      "INSERT INTO t SELECT c0, c1 FROM hush_int_rows(?1) WHERE true ON CONFLICT DO UPDATE SET n = n + excluded.n",
      err);
  REQUIRE(s);
  const std::vector<int64_t> data = {1, 5, 2, 6, 3, 7};
  IntRows rows{data.data(), 3, 2};
  bind_int_rows(s.get(), 1, &rows);
  REQUIRE(s.step() == SQLITE_DONE);
  CHECK(db.scalar("SELECT count(*) FROM t") == 3);
  CHECK(db.scalar("SELECT n FROM t WHERE k = 1") == 5);
  CHECK(db.scalar("SELECT n FROM t WHERE k = 2") == 16);
  CHECK(db.scalar("SELECT n FROM t WHERE k = 3") == 7);
}

TEST_CASE("hush_int_rows without rows bound reads none, and without its argument does not prepare") {
  sqlite::Db db = memory_db();
  CHECK(db.scalar("SELECT count(*) FROM hush_int_rows(NULL)") == 0);
  sqlite::Error err;
  CHECK(!db.prepare("SELECT c0 FROM hush_int_rows", err));
  CHECK(err);
}

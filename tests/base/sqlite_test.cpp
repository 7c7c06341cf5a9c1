#include <catch2/catch.hpp>

#include <filesystem>

#include "base/sqlite.hpp"

using namespace hush;

namespace {
sqlite::Db memory_db() {
  sqlite::Error err;
  sqlite::Db db = sqlite::Db::open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err);
  REQUIRE(db);
  REQUIRE_FALSE(err);
  return db;
}
}  // namespace

TEST_CASE("sqlite: statements bind, step and read back") {
  sqlite::Db db = memory_db();
  REQUIRE_FALSE(db.exec("CREATE TABLE t(n INTEGER, s TEXT); CREATE TABLE u(x)"));
  sqlite::Error err;
  sqlite::Stmt ins = db.prepare("INSERT INTO t VALUES (?, ?)", err);
  REQUIRE(ins);
  CHECK(ins.bind_all(7, "seven").step() == SQLITE_DONE);
  CHECK(ins.bind_all(int64_t(1) << 40, std::string("big")).step() == SQLITE_DONE);
  CHECK(db.changes() == 1);
  CHECK(db.scalar("SELECT count(*) FROM t") == int64_t(2));
  sqlite::Stmt sel = db.prepare("SELECT n, s FROM t ORDER BY n", err);
  REQUIRE(sel.step() == SQLITE_ROW);
  CHECK(sel.int64(0) == 7);
  CHECK(sel.text(1) == "seven");
  REQUIRE(sel.step() == SQLITE_ROW);
  CHECK(sel.text(1) == "big");
  CHECK(sel.step() == SQLITE_DONE);
}

TEST_CASE("sqlite: failures come back as values with SQLite's message") {
  sqlite::Db db = memory_db();
  sqlite::Error err;
  sqlite::Stmt s = db.prepare("SELECT * FROM missing", err);
  CHECK_FALSE(s);
  REQUIRE(err);
  CHECK(err.message.find("no such table") != std::string::npos);

  sqlite::Error e = db.exec("CREATE TABLE t(n UNIQUE); INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)");
  REQUIRE(e);
  CHECK((e.code & 0xff) == SQLITE_CONSTRAINT);
  CHECK(e.message.find("UNIQUE") != std::string::npos);
  CHECK_FALSE(db.scalar("SELECT nothing FROM nowhere"));

  sqlite::Db none = sqlite::Db::open("/nonexistent-dir/x.db", SQLITE_OPEN_READONLY, err);
  CHECK_FALSE(none);
  CHECK((err.code & 0xff) == SQLITE_CANTOPEN);
  CHECK_FALSE(err.message.empty());
}

TEST_CASE("sqlite: a transaction rolls back unless committed") {
  sqlite::Db db = memory_db();
  REQUIRE_FALSE(db.exec("CREATE TABLE t(n)"));
  {
    sqlite::Transaction tx(db);
    REQUIRE_FALSE(tx.begin());
    REQUIRE_FALSE(db.exec("INSERT INTO t VALUES (1)"));
  }
  CHECK(db.scalar("SELECT count(*) FROM t") == int64_t(0));
  {
    sqlite::Transaction tx(db);
    REQUIRE_FALSE(tx.begin());
    REQUIRE_FALSE(db.exec("INSERT INTO t VALUES (1)"));
    REQUIRE_FALSE(tx.commit());
  }
  CHECK(db.scalar("SELECT count(*) FROM t") == int64_t(1));
}

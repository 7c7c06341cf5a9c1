// Raw rows packed in blocks, and read back through the `queries` table.
#include <catch2/catch.hpp>

#include "helpers.hpp"
#include "querylog/block.hpp"
#include "querylog/reader.hpp"
#include "querylog/store.hpp"

using namespace hush;
using namespace hush::querylog;
using namespace hush::test;

namespace {
Row row(int64_t id, int64_t t, int64_t device, std::string_view answer = {}) {
  Row r;
  r.id = id;
  r.time_us = t;
  r.device_id = device;
  r.address_id = device + 100;
  r.domain_id = 300000 + id;
  r.qtype = 28;
  r.transport = Transport::Tcp;
  r.status = Status::Blocked;
  r.rcode = 3;
  r.reason_id = 7;
  r.upstream_id = 0;
  r.latency_us = 123456;
  r.answer = answer;
  return r;
}
}  // namespace

TEST_CASE("a block reads back the rows written, ids following the first") {
  BlockWriter w;
  w.clear();
  const std::string_view a("A\x01\x02\x03\x04", 5);
  w.add(row(0, kT0, 1, a));
  w.add(row(0, kT0 - 5, 2));  // time may step back a little between workers
  w.add(row(0, kT0 + 7 * kDay, 1));
  std::vector<Row> out;
  std::string scratch;
  REQUIRE(read_block(w.bytes(), 500, 3, out, scratch));
  REQUIRE(out.size() == 3);
  CHECK(out[0].id == 500);
  CHECK(out[2].id == 502);
  CHECK(out[0].time_us == kT0);
  CHECK(out[1].time_us == kT0 - 5);
  CHECK(out[2].time_us == kT0 + 7 * kDay);
  CHECK(out[1].device_id == 2);
  CHECK(out[1].address_id == 102);
  CHECK(out[0].domain_id == 300000);
  CHECK(out[0].qtype == 28);
  CHECK(out[0].transport == Transport::Tcp);
  CHECK(out[0].status == Status::Blocked);
  CHECK(out[0].rcode == 3);
  CHECK(out[0].reason_id == 7);
  CHECK(out[0].upstream_id == 0);
  CHECK(out[0].latency_us == 123456);
  CHECK(out[0].answer == a);
  CHECK(out[1].answer.empty());
}

TEST_CASE("a damaged block is refused, never read past its end") {
  BlockWriter w;
  w.add(row(0, kT0, 1, "A\x01\x02\x03\x04"));
  w.add(row(0, kT0, 1));
  std::string good(w.bytes());
  std::vector<Row> out;
  std::string scratch;
  CHECK_FALSE(read_block(good, 1, 3, out, scratch));  // fewer rows than the count says
  CHECK(out.empty());
  CHECK_FALSE(read_block(good, 1, 1, out, scratch));  // bytes left over
  CHECK_FALSE(read_block(good.substr(0, good.size() - 1), 1, 2, out, scratch));
  std::string bad_format = good;
  bad_format[0] = 9;
  CHECK_FALSE(read_block(bad_format, 1, 2, out, scratch));
  CHECK_FALSE(read_block(std::string(40, '\xff'), 1, 2, out, scratch));
  CHECK(read_block(good, 1, 2, out, scratch));
}

TEST_CASE("blocks of format 1 (rows not deflated), written before format 2, still read") {
  // Two rows as schema 2-4 files hold them: format byte, first time, then
  // each row's time step, device, address, domain, qtype, flags, rcode,
  // reason, upstream, latency, answer length and answer.
  const std::string blob("\x01\x90\x4e"                                // format 1, time 10000
                         "\x00\x01\x02\x03\x01\x20\x00\x00\x00\x05\x00"  // device 1, blocked over UDP
                         "\x06\x02\x02\x04\x1c\x01\x03\x07\x01\x06\x02" "ab",  // 3 us later, TCP, forwarded
                         27);
  std::vector<Row> out;
  std::string scratch;
  REQUIRE(read_block(blob, 10, 2, out, scratch));
  CHECK(out[0].time_us == 10000);
  CHECK(out[1].time_us == 10003);
  CHECK(out[0].status == Status::Blocked);
  CHECK(out[1].domain_id == 4);
  CHECK(out[1].qtype == 28);
  CHECK(out[1].transport == Transport::Tcp);
  CHECK(out[1].rcode == 3);
  CHECK(out[1].upstream_id == 1);
  CHECK(out[1].answer == "ab");
  CHECK_FALSE(read_block(blob.substr(0, 26), 10, 2, out, scratch));
  CHECK_FALSE(read_block(blob + '\0', 10, 2, out, scratch));
}

TEST_CASE("a block of flood rows is stored in a few bytes a row") {
  // A random-subdomain flood: each row a new name, the rest alike. Format 1
  // took 21 bytes a row for these.
  BlockWriter w;
  const std::string_view a("A\xc0\x00\x02\x01", 5);
  for (int64_t i = 0; i < kMaxBlockRows; ++i) {
    Row r = row(0, kT0 + i * 86400, 1 + i % 50, a);
    r.domain_id = 1 + (i * 2654435761) % 1000000;
    w.add(r);
  }
  const size_t bytes = w.bytes().size();
  CHECK(double(bytes) / kMaxBlockRows < 8);
  std::vector<Row> out;
  std::string scratch;
  REQUIRE(read_block(w.bytes(), 1, kMaxBlockRows, out, scratch));
  CHECK(out[4095].domain_id == 1 + (4095 * 2654435761) % 1000000);
  CHECK(out[4095].device_id == 1 + 4095 % 50);
  CHECK(out[4095].answer == a);
  CHECK(out[4095].time_us == kT0 + 4095 * 86400);
  std::string tampered(w.bytes());
  tampered[tampered.size() / 2] ^= 0x55;
  CHECK_FALSE(read_block(tampered, 1, kMaxBlockRows, out, scratch));
}

TEST_CASE("the queries table: id ranges, both orders, devices, across blocks") {
  TempDir dir;
  Options opt;
  opt.path = dir.file("hush.db");
  Store store(opt);
  REQUIRE(store.open(kT0).error.code == SQLITE_OK);
  // 5000 rows in one batch: two blocks (4096 + 904); three devices.
  std::vector<Record> rows;
  const char* ips[] = {"192.168.1.10", "192.168.1.11", "192.168.1.12"};
  for (int i = 0; i < 5000; ++i)
    rows.push_back(record(kT0 + i * 1000, ips[i % 3], "n" + std::to_string(i % 50) + ".test",
                          i % 2 ? Status::Blocked : Status::Forwarded));
  REQUIRE(!store.write(rows, clients::Directory()));
  auto db = peek(opt.path);
  CHECK(count(db, "SELECT count(*) FROM query_blocks") == 2);
  CHECK(count(db, "SELECT count(*) FROM queries") == 5000);
  CHECK(count(db, "SELECT min(id) FROM queries") == 1);
  CHECK(count(db, "SELECT max(id) FROM queries") == 5000);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE id >= 4000 AND id < 4200") == 200);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE id > 4095 AND id <= 4097") == 2);
  CHECK(count(db, "SELECT t FROM queries WHERE id = 4097") == kT0 + 4096 * 1000);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE rowid BETWEEN 10 AND 19") == 10);
  CHECK(count(db, "SELECT id FROM queries ORDER BY id DESC LIMIT 1") == 5000);
  CHECK(count(db, "SELECT id FROM queries WHERE id < 4097 ORDER BY id DESC LIMIT 1") == 4096);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE id > 5000") == 0);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE id < NULL") == 0);
  // Ids in time order, and every column as stored.
  CHECK(count(db, "SELECT count(*) FROM queries a JOIN queries b ON b.id = a.id + 1 WHERE b.t < a.t") == 0);
  CHECK(count(db, "SELECT sum(status = 2) FROM queries") == 2500);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE answer = '192.0.2.1' AND latency_us = 1500 AND qtype = 1 "
                  "AND rcode = 0 AND proto = 0 AND reason_id IS NOT NULL AND upstream_id IS NOT NULL") == 5000);

  int64_t dev = count(db, "SELECT device_id FROM addresses WHERE ip = '192.168.1.11'");
  std::string one = std::to_string(dev);
  CHECK(count(db, "SELECT count(*) FROM block_devices WHERE device_id = " + one) == 2);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE device_id = " + one) == 1667);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE device_id IN (" + one + ", 999)") == 1667);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE device_id IN (SELECT device_id FROM addresses)") == 5000);
  CHECK(count(db, "SELECT min(id) FROM queries WHERE device_id = " + one + " AND id > 4096") == 4097);
  CHECK(count(db, "SELECT id FROM queries WHERE device_id = " + one + " ORDER BY id DESC LIMIT 1") == 5000);
  // A join on the device column still sees every row once.
  CHECK(count(db, "SELECT count(*) FROM queries q JOIN devices d ON d.id = q.device_id") == 5000);

  // The readers page through it as before.
  sqlite::Error err;
  auto reader = Reader::open(opt.path, false, err);
  REQUIRE(reader);
  QueryFilter f;
  f.devices = {dev};
  f.limit = 10;
  QueryPage page = reader->queries(f, err);
  REQUIRE(page.rows.size() == 10);
  CHECK(page.rows.front().id == 5000);
  CHECK(page.rows.front().client_ip == "192.168.1.11");
  CHECK(page.rows.front().answer == "192.0.2.1");
  CHECK(page.rows.front().reason == "ads: ||n49.test^");
  f.before_id = page.next_before_id;
  CHECK(reader->queries(f, err).rows.front().id == page.rows.back().id - 3);
}

TEST_CASE("rows of schema 1 are packed into blocks with their ids") {
  TempDir dir;
  const std::string path = dir.file("hush.db");
  {
    sqlite::Error e;
    auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, e);
    REQUIRE(!migrate(db, 0, 1));
    REQUIRE(!db.exec("INSERT INTO devices(id, key, first_seen, last_seen) VALUES(1, 'ip:192.168.1.5', 0, 0);"
                     "INSERT INTO addresses(id, ip, device_id, first_seen, last_seen) VALUES(1, '192.168.1.5', 1, 0, 0);"
                     "INSERT INTO domains(id, name) VALUES(1, 'old.test');"
                     "INSERT INTO strings(id, text) VALUES(1, 'forwarded');"));
    // Ids from 11 with a gap after 15, as pruning and rolled-back batches leave them.
    for (int id : {11, 12, 13, 14, 15, 21, 22})
      REQUIRE(!db.exec("INSERT INTO queries VALUES(" + std::to_string(id) + ", " + std::to_string(kT0 + id) +
                       ", 1, 1, 1, 1, 0, 0, 0, 1, NULL, '192.0.2.9, 192.0.2.10', 42)"));
  }
  Options opt;
  opt.path = path;
  Store store(opt);
  OpenResult r = store.open(kT0);
  REQUIRE(r.error.code == SQLITE_OK);
  CHECK(r.moved_aside.empty());
  sqlite::Error e;
  CHECK(store.pack_old_rows(5, e) == 5);
  REQUIRE(!e);
  CHECK(store.pack_old_rows(5, e) == 2);
  CHECK(store.pack_old_rows(5, e) == 0);
  auto db = peek(path);
  CHECK(count(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'queries_v1'") == 0);
  CHECK(count(db, "SELECT count(*) FROM query_blocks") == 2);  // the gap starts a block
  CHECK(count(db, "SELECT count(*) FROM queries") == 7);
  CHECK(count(db, "SELECT count(*) FROM queries WHERE id IN (11, 15, 21, 22) AND t = " + std::to_string(kT0) +
                  " + id AND answer = '192.0.2.9, 192.0.2.10' AND latency_us = 42 AND reason_id = 1") == 4);
  // New rows go after the old ones.
  REQUIRE(!store.write({record(kT0 + kMinute, "192.168.1.5", "new.test")}, clients::Directory()));
  CHECK(count(db, "SELECT max(id) FROM queries") == 23);
}

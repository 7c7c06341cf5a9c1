// The query-log database: its schema, its migrations and how it is opened.
//
// Layout, chosen for the questions people ask (see schema.cpp for the SQL):
//  - query_blocks: the raw rows, one per query, referencing devices,
//    addresses, domains and strings by id, packed by the thousand into
//    blocks (block.hpp); `queries` reads them as a table (queries_table.hpp).
//    block_devices says which blocks hold a device's queries. Time ranges
//    become id ranges through minute_ids, not a time index.
//  - minute_ids: first query id of each minute (time -> id).
//  - minute_stats / hour_stats: counts per status per device, upserted once
//    per batch, so charts never scan raw rows. device_id 0 counts queries
//    of no device: those the log had no room for, and all of them in
//    anonymous mode.
//  - domain_days: per device, day and domain counts, for top domains over
//    any span of days; device_id 0 holds the sum over all devices, so the
//    household's top list is one range read too.
//  - device_domains: first and last time each device asked for each domain
//    (a view of device_seen, which keeps the first time and the gap to the
//    last); no index on first_seen: "new since T" takes the device's
//    domain_days rows from T's day on as candidates (a row has a count on
//    the day of its last_seen, which is on or after its first_seen).
//    These two are summed in memory and written each second, or up to a
//    minute apart under a flood of distinct names (Writer).
//  - domains: names (a view of domain_names: a label, with its dot, under a
//    registrable domain of domain_parents, or the whole name), found by
//    hash (h) and kept while a count names them (last_day); parents go
//    once no name uses them. strings: block reasons and upstreams, kept
//    while a raw row names them (last_id). Pruning a day of counts removes that day's
//    first/last seen and names through the day's own rows: no index exists
//    only for pruning, since under a flood of new names every index is
//    another copy of each name's row.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "querylog/sqlite.hpp"

namespace hush::querylog {

constexpr int kSchemaVersion = 6;
// PRAGMA application_id: tells a hush database from any other SQLite file.
constexpr int kApplicationId = 0x48555348;  // "HUSH"

struct OpenResult {
  sqlite::Db db;
  sqlite::Error error;      // set when db is empty
  std::string moved_aside;  // the path a bad file was renamed to, if any
  std::string why_moved;    // what was wrong with it
};

// Opens (creating if needed) the log database at `path` for writing, in WAL
// mode, and migrates it to kSchemaVersion. A file that is corrupt, not a
// database, another application's database or from a newer hush is renamed
// to "<path>.bad-YYYYmmddTHHMMSS" (with its -wal and -shm) and a fresh one is
// created; it is never deleted. Storage failures (read-only, full, missing
// directory) leave the file alone and come back in `error`.
OpenResult open_for_writing(const std::string& path, int64_t now_us);

// Opens an existing database for the CLI and the dashboard. Fails (with a
// message) when there is none or it is not a current hush database.
sqlite::Db open_for_reading(const std::string& path, bool writable, sqlite::Error& error);

// The names device ?1 may have first asked for at ?2 (microseconds) or
// later, for "device_domains.domain_id IN (...)": its per-day counts from
// that day on. Every device_domains row has a count on the day of its
// last_seen, so this holds every name first seen since ?2; the caller still
// tests first_seen. (Schema 4 dropped the index on first_seen for it.)
constexpr const char* kSeenSinceCandidates =
    "SELECT domain_id FROM domain_days WHERE device_id = ?1 AND day >= ?2 / 86400000000";

// Runs the migrations that take `db` from schema `from` to schema `to`, each
// in its own transaction.
sqlite::Error migrate(sqlite::Db& db, int64_t from, int64_t to);

// domains.h: FNV-1a of the name as a signed 32-bit number (4 bytes in a
// record, where the UNIQUE index held the whole name again). Databases
// store it: never change it. SQL has it as hush_name_hash() while migrating.
int64_t name_hash(std::string_view name);

// Renames `path` and its -wal/-shm companions with a timestamp suffix.
// Returns the new name of the main file, or "" (and `why`) on failure.
std::string move_aside(const std::string& path, int64_t now_us, std::string& why);

}  // namespace hush::querylog

// Writes batches of records into the query-log database and prunes it. This
// is the log writer's work without its thread, so tests drive it directly
// and pass `now` in. Not thread-safe: one Store belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "clients/directory.hpp"
#include "querylog/options.hpp"
#include "querylog/record.hpp"
#include "querylog/schema.hpp"
#include "querylog/sqlite.hpp"

namespace hush::querylog {

class Store {
 public:
  explicit Store(Options opt);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // (Re)opens the database. Returns what open_for_writing() reported; the
  // store is usable when `is_open()`.
  OpenResult open(int64_t now_us);
  bool is_open() const { return bool(db_); }
  void close();

  // Writes `batch` in one transaction: raw rows (unless anonymous), names,
  // devices and every aggregate; adds `dropped` to the stored drop count.
  // Records from hidden clients or for hidden domains are skipped. On error
  // nothing of the batch is kept; a corrupt-file error also closes the store
  // (the next open() moves the file aside).
  sqlite::Error write(const std::vector<Record>& batch, const clients::Directory& dir,
                      uint64_t dropped = 0);

  // Deletes up to about `max_rows` expired rows per table in one transaction.
  // Returns the number deleted; 0 means nothing is left to prune.
  size_t prune_step(int64_t now_us, size_t max_rows, sqlite::Error& err);

  uint64_t written() const { return written_; }
  uint64_t hidden() const { return hidden_; }

 private:
  struct ClientIds {
    int64_t address_id = 0;
    int64_t device_id = 0;
    bool hidden = false;
  };
  struct Statements;

  sqlite::Error prepare();
  sqlite::Error client_ids(const Record& r, const clients::Directory& dir, ClientIds& out);
  sqlite::Error domain_id(std::string_view name, int64_t& id);
  sqlite::Error string_id(std::string_view text, int64_t& id);
  sqlite::Error fail(sqlite::Error e);

  Options opt_;
  Privacy privacy_;
  sqlite::Db db_;
  std::unique_ptr<Statements> st_;
  // Name -> id caches, so a batch looks up each name in SQLite once per
  // lifetime instead of once per row; -1 marks a hidden domain.
  std::unordered_map<std::string, ClientIds> clients_;
  uint64_t clients_generation_ = ~uint64_t(0);  // the directory clients_ was built from
  std::unordered_map<std::string, int64_t> domains_;
  std::unordered_map<std::string, int64_t> strings_;
  int64_t gc_cursor_ = 0;
  uint64_t written_ = 0;
  uint64_t hidden_ = 0;
};

}  // namespace hush::querylog

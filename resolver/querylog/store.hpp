// Writes batches of records into the query-log database and prunes it. This
// is the log writer's work without its thread, so tests drive it directly
// and pass `now` in. Not thread-safe: one Store belongs to one thread.
//
// Cost per query is what decides how busy a resolver can log everything, so
// the work is arranged to be per batch wherever it can: raw rows are packed
// into blocks (one SQLite row per up to 4096 queries), names, devices and
// strings are looked up in memory, per-minute and per-hour counts are summed
// per batch, and per-day counts and first/last seen are summed in memory
// over one or more batches before they touch SQLite (the writer decides).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "clients/directory.hpp"
#include "querylog/block.hpp"
#include "querylog/options.hpp"
#include "querylog/record.hpp"
#include "querylog/schema.hpp"
#include "querylog/sqlite.hpp"

namespace hush::querylog {

using StatusCounts64 = std::array<uint64_t, kStatusCount>;

// Queries that were answered but never reached the log.
struct Unlogged {
  uint64_t total = 0;          // added to the stored count of dropped queries
  StatusCounts64 by_status{};  // counted in minute_stats/hour_stats under device 0 ...
  int64_t time_us = 0;         // ... in the minute and hour of this time
};

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
  // Closes; per-day counts not yet written are kept for the next open.
  void close();

  // Writes `batch` in one transaction: raw rows (unless anonymous), names,
  // devices, per-minute and per-hour counts, and `unlogged`. Its per-day
  // counts and first/last seen join the totals that flush_aggregates()
  // writes. Records from hidden clients or for hidden domains are skipped.
  // On error nothing of the batch is kept; a corrupt-file error also closes
  // the store (the next open() moves the file aside).
  sqlite::Error write(const Batch& batch, const clients::Directory& dir, const Unlogged& unlogged = {});

  // The same for records at hand (tests, benchmarks, tools), followed by
  // flush_aggregates(), so every table is complete when it returns.
  sqlite::Error write(const std::vector<Record>& records, const clients::Directory& dir);

  // Writes the per-day counts and first/last seen summed since the last
  // flush: all of them, or with `max_keys`, that many (device, domain, day)
  // totals in one transaction, the rest on the next calls (so that a
  // writer thread can drain its queues in between). On error they stay for
  // the next call.
  sqlite::Error flush_aggregates(size_t max_keys = 0);
  // Distinct (device, domain, day) totals waiting for flush_aggregates().
  size_t pending_aggregates() const { return pending_.size() + (flushing_.size() - flushing_at_); }
  // A flush_aggregates(max_keys) has written only part of its totals.
  bool flushing() const { return flushing_at_ < flushing_.size(); }

  // The memory bound (server.memory_budget_mib's share): `table_bytes` for
  // the in-memory tables (name and client ids, per-day totals, the batch's
  // working vectors), `sqlite_cache_bytes` for this connection's page cache;
  // 0 and 0: the fixed bounds of before (entry counts, a 32 MiB page cache).
  // Past its share, a table spills: name ids are forgotten and looked up in
  // SQLite again, and a batch whose per-day totals would not fit writes them
  // in its own transaction instead of summing them in memory.
  void set_memory_limit(size_t table_bytes, size_t sqlite_cache_bytes);
  // What the in-memory tables hold, as counted against table_bytes.
  size_t memory_bytes() const;
  // The per-day totals fill half their share: time to flush_aggregates().
  bool aggregates_full() const { return day_cap_ && pending_.size() >= day_cap_ / 2; }
  // How many totals a flush_aggregates(max_keys) round may write within the
  // share (its sorting copies are counted too): at most `wanted`.
  size_t aggregate_round(size_t wanted) const;
  // Batches whose per-day totals went straight to SQLite for want of room.
  uint64_t spilled_batches() const { return spilled_batches_; }
  // Times a name-id table was over its share and started over.
  uint64_t name_resets() const { return domains_.resets() + strings_.resets(); }

  // Packs up to about `max_rows` rows left by schema 1 into blocks. Returns
  // how many; 0 once there are none.
  size_t pack_old_rows(size_t max_rows, sqlite::Error& err);

  // Flushes the aggregates, then deletes up to about `max_rows` expired rows
  // per table in one transaction (raw rows go by whole blocks). Returns the
  // number deleted; 0 means nothing is left to prune.
  size_t prune_step(int64_t now_us, size_t max_rows, sqlite::Error& err);

  // The size cap (Options::max_size_bytes). A pass of pruning for it starts
  // when the used size is over the cap and ends once it is under 90% of it,
  // so the cap does not cost a prune per batch; while a pass is under way,
  // prune_step() removes the oldest days first: raw rows, then (once only
  // today's are left) whole days of counts with their names, then today's
  // oldest raw rows and oldest names' counts; per-minute and per-hour counts
  // of today stay, so the day's totals stay exact.
  // Returns whether a pass is under way and has something left to remove.
  // Two PRAGMAs: cheap enough to ask after every batch.
  bool over_size_cap(int64_t now_us);
  // Once a pass has ended: hands up to `max_pages` of the pages it freed
  // back to the file system (PRAGMA incremental_vacuum; files created since
  // schema 4 only, older ones keep reusing them), so a file that grew past
  // a lowered cap shrinks to it. Returns the free pages there were before
  // the step; 0 once none are left (or the file cannot).
  int64_t reclaim_step(int64_t max_pages, sqlite::Error& err);
  // Bytes the database uses: pages in use, not free ones, times the page size.
  int64_t used_bytes();
  // One line for the log when a pass has ended (or has nothing left to
  // remove), else "".
  std::string take_size_note() { return std::exchange(size_note_, {}); }

  uint64_t written() const { return written_; }
  uint64_t hidden() const { return hidden_; }
  // New client addresses logged under the shared overflow device because
  // the log already holds `max_devices` devices.
  uint64_t over_device_cap() const { return over_device_cap_; }
  // The key and address of that shared device.
  static constexpr std::string_view kOverflowKey = "overflow";
  // Client addresses met since the last call that the directory had no name
  // for (candidates for a reverse lookup); none in anonymous mode.
  std::vector<std::string> take_unnamed() { return std::exchange(unnamed_, {}); }

  // Per (device, domain, day): the key of the in-memory totals.
  struct DayKey {
    int64_t device_id, domain_id, day;
    bool operator==(const DayKey&) const = default;
  };
  struct DayTotals {
    int64_t total = 0, blocked = 0, first = 0, last = 0;
    void add(const DayTotals& o);
  };

  // Open addressing, one cache line per entry, no erase. Per-day totals see
  // a lookup per query; with 100,000 names this took a third of the time per
  // query as std::unordered_map (a node allocation and two or three cache
  // misses each), see tests/bench/querylog_bench.cpp.
  class DayMap {
   public:
    static size_t hash(const DayKey& k);
    void add(const DayKey& k, const DayTotals& v) { add(k, v, hash(k)); }
    void add(const DayKey& k, const DayTotals& v, size_t hash);
    // Brings the line where add(k, ..., hash) starts looking into the cache:
    // with a table far larger than the CPU's caches, asking a few keys ahead
    // hides most of the miss each add would otherwise wait for.
    void prefetch(size_t hash) const {
      if (!slots_.empty()) __builtin_prefetch(&slots_[hash & (slots_.size() - 1)], 1);
    }
    bool contains(const DayKey& k) const;
    size_t size() const { return size_; }
    size_t bytes() const { return slots_.capacity() * sizeof(Slot); }
    static size_t slot_bytes() { return sizeof(Slot); }
    void clear();
    // clear(), and hands its slots back when they are more than `max_slots`.
    void clear_to(size_t max_slots);
    template <class F>
    void for_each(F&& f) const {
      for (const Slot& s : slots_)
        if (s.used) f(s.key, s.value);
    }

   private:
    struct Slot {
      DayKey key;
      DayTotals value;
      bool used = false;
    };
    void grow();
    std::vector<Slot> slots_;
    size_t size_ = 0;
  };

 private:
  struct ClientIds {
    int64_t address_id = 0;
    int64_t device_id = 0;
    bool hidden = false;
  };
  struct AddrKey {
    uint8_t family;
    uint8_t addr[16];
    bool operator==(const AddrKey& o) const { return family == o.family && std::memcmp(addr, o.addr, 16) == 0; }
  };
  struct AddrHash {
    size_t operator()(const AddrKey& k) const;
  };
  // Name -> id, open addressing over one buffer of names: for the same
  // reason as DayMap, one or two cache misses per lookup instead of three.
  class NameIds {
   public:
    static uint64_t hash(std::string_view name) { return std::hash<std::string_view>()(name); }
    const int64_t* find(std::string_view name) const { return find(name, hash(name)); }
    const int64_t* find(std::string_view name, uint64_t hash) const;
    void prefetch(uint64_t hash) const {  // as DayMap::prefetch
      if (!slots_.empty()) __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]);
    }
    // Once prefetch(hash) has brought the slot in: the name it points at,
    // which find() compares next (the second miss of a look-up).
    void prefetch_text(uint64_t hash) const {
      if (slots_.empty()) return;
      const Slot& s = slots_[hash & (slots_.size() - 1)];
      if (s.used) __builtin_prefetch(names_.data() + s.at);
    }
    void set(std::string_view name, int64_t id);  // adds or replaces
    void forget(std::string_view name);           // find() misses it until set() again
    size_t size() const { return size_; }
    void clear();
    // A new name that would take the table past `bytes` clears it first; 0: no bound.
    void set_limit(size_t bytes) { max_bytes_ = bytes; }
    size_t bytes() const { return slots_.capacity() * sizeof(Slot) + names_.capacity(); }
    uint64_t resets() const { return resets_; }

   private:
    struct Slot {
      uint64_t hash = 0;
      int64_t id = 0;
      uint32_t at = 0, len = 0;
      bool used = false, known = false;
    };
    Slot* slot(std::string_view name, uint64_t hash) const;
    void grow();
    bool room_for(size_t len) const;
    mutable std::vector<Slot> slots_;
    std::string names_;
    size_t size_ = 0;
    size_t max_bytes_ = 0;
    uint64_t resets_ = 0;
  };
  struct Statements;

  sqlite::Error prepare();
  sqlite::Error client_ids(const Batch::Entry& r, const clients::Directory& dir, ClientIds& out);
  // The device and address rows of a client not cached yet.
  sqlite::Error put_client(const RecordHead& r, std::string& ip, clients::Identity& who, ClientIds& out);
  // Past max_devices, turns a new device's identity into the shared one.
  sqlite::Error cap_devices(clients::Identity& who, std::string& ip);
  // `day`: of the row naming it, the name's last_day when it is new.
  sqlite::Error domain_id(std::string_view name, int64_t day, int64_t& id);
  sqlite::Error intern_new(std::string_view name, int64_t day, int64_t& id);
  // The name's split for domain_names: its label (with the dot) and its
  // parent's id (0: none, the label is the whole name).
  sqlite::Error split_name(std::string_view name, std::string_view& label, int64_t& parent);
  using Order = std::vector<std::pair<int64_t, uint32_t>>;  // (time, index in the batch)
  sqlite::Error resolve_ids(const Batch& batch, const Order& order, const clients::Directory& dir);
  sqlite::Error string_id(std::string_view text, int64_t& id) { return string_id(text, NameIds::hash(text), id); }
  sqlite::Error string_id(std::string_view text, uint64_t hash, int64_t& id);
  sqlite::Error put_block(int64_t first_id, BlockWriter& block, std::vector<int64_t>& devices);
  // write()'s steps, inside its transaction; errors are SQLite's, not yet fail()ed.
  struct BatchSums;
  sqlite::Error put_rows(const Batch& batch, const Order& order, BatchSums& sums);
  sqlite::Error put_sums(BatchSums& sums, const Unlogged& unlogged);
  void add_batch_days();  // after the commit: batch_days_ join pending_
  using DayItems = std::vector<std::pair<DayKey, DayTotals>>;
  // Writes totals given in (day, domain, device) order.
  sqlite::Error put_aggregates(DayItems items);
  // Inside write()'s transaction: the batch's per-day totals, when
  // pending_ has no room for them.
  sqlite::Error spill_batch_days();
  // How many keys of the batch's per-day totals pending_ lacks; sums the
  // totals by key first when they might not fit as they are.
  size_t new_batch_days();
  sqlite::Error fail(sqlite::Error e);
  // The page cache to ask SQLite for, in KiB.
  int64_t cache_kib() const;
  // Raises prune_step()'s cuts for a size pass: raw_cut (raw rows and
  // per-minute counts), block_cut (raw rows only) and agg_day, or sets
  // today_names (today's oldest names' counts go).
  sqlite::Error size_cuts(int64_t now_us, int64_t& raw_cut, int64_t& block_cut, int64_t& agg_day,
                          bool& today_names);
  // Removes the counts of `day`'s first `budget` names (by id) for every
  // device, the first/last seen of those last seen before `seen_before`,
  // and the names no later day counts (into `gone`); names in `keep`
  // (sorted ids) keep all of these.
  sqlite::Error remove_counts(int64_t day, int64_t seen_before, int64_t budget, const std::vector<int64_t>& keep,
                              size_t& deleted, std::vector<std::string>& gone);
  void forget_ids();
  // Whether `domain_id` was interned by this store on `day` or later, so its
  // last_day is at least `day` already.
  bool interned_on_or_after(int64_t domain_id, int64_t day) const;

  Options opt_;
  Privacy privacy_;
  sqlite::Db db_;
  std::unique_ptr<Statements> st_;
  // Name -> id caches, so a batch looks up each name in SQLite once per
  // lifetime instead of once per row; -1 marks a hidden domain.
  std::unordered_map<AddrKey, ClientIds, AddrHash> clients_;
  std::unordered_map<std::string, ClientIds> ided_clients_;  // by client ID + address
  uint64_t clients_generation_ = ~uint64_t(0);  // the directory clients_ was built from
  NameIds domains_;
  NameIds strings_;
  // Registrable domain -> domain_parents.id, for new names; emptied when
  // full and when unused parents are swept (their ids may come back).
  std::unordered_map<std::string, int64_t> parents_;
  size_t names_gone_since_sweep_ = 0;  // names pruned since the last sweep of domain_parents
  std::vector<std::pair<int64_t, int64_t>> interned_;  // (first domain id, day) of each run, ids growing
  DayMap pending_;  // written by flush_aggregates()
  std::vector<std::pair<DayKey, DayTotals>> flushing_;  // being written, from flushing_at_ on
  size_t flushing_at_ = 0;
  // Under a memory limit: the most (device, domain, day) totals pending_
  // holds (0: no limit), the most clients_ caches, the page cache asked for.
  size_t day_cap_ = 0;
  size_t max_clients_ = 0;
  size_t sqlite_cache_bytes_ = 0;
  uint64_t spilled_batches_ = 0;
  // The batch's per-day counts, one per row (neighbours with the same key
  // merged), join pending_ once committed: appending here and adding to
  // pending_ once is half the hash-table work of summing them in a map of
  // their own first.
  std::vector<std::pair<DayKey, DayTotals>> batch_days_;
  bool batch_days_sorted_ = false;  // by new_batch_days(), in put_aggregates() order
  // Per row of the batch being written, in time order (kept for their capacity).
  struct RowIds {
    ClientIds client;
    int64_t domain_id = 0;
  };
  std::vector<RowIds> row_ids_;
  std::vector<uint64_t> hashes_, reason_hashes_;
  BlockWriter block_;
  int64_t next_id_ = 1;
  bool old_rows_ = false;  // queries_v1 still has rows to pack
  std::vector<std::string> unnamed_;
  struct SizePass {
    bool active = false;
    int64_t retry_at = 0;      // nothing was left to remove: not before this
    int64_t raw_before = -1;   // raw rows removed before this day
    int64_t agg_before = -1;   // counts removed before this day
    bool today_raw = false;    // some of today's raw rows removed
    bool today_names = false;  // some of today's per-name counts removed
  } size_;
  std::string size_note_;
  bool reclaim_ = false;  // a size pass ended: reclaim_step() has work
  uint64_t written_ = 0;
  uint64_t hidden_ = 0;
  uint64_t over_device_cap_ = 0;
};

}  // namespace hush::querylog

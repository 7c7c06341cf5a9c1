#include "querylog/store.hpp"

#include <arpa/inet.h>

#include <libpsl.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <tuple>

#include "base/clock.hpp"
#include "base/memory.hpp"
#include "base/log.hpp"
#include "querylog/int_rows.hpp"

namespace hush::querylog {

namespace {
// The order per-day totals are written in (put_aggregates): by day, name,
// then device, so the upsert appends to the tables' B-trees.
constexpr auto in_aggregate_order = [](const auto& a, const auto& b) {
  return std::tie(a.first.day, a.first.domain_id, a.first.device_id) <
         std::tie(b.first.day, b.first.domain_id, b.first.device_id);
};

// Bounds on the writer's name caches; past them a cache starts over rather
// than grow with a flood of random names.
constexpr size_t kMaxCachedNames = 200000;
constexpr size_t kMaxCachedParents = 4096;
// Parents no name uses any more are swept (a scan of every name) once this
// many names were pruned since the last sweep: until then they take some
// room, never a wrong answer.
constexpr size_t kSweepParentsAfter = 50000;
constexpr size_t kMaxCachedClients = 20000;
// PRAGMA journal_size_limit: what the write-ahead log is cut back to after
// a checkpoint (docs/RELIABILITY.md).
constexpr int64_t kWalLimitBytes = 4 << 20;
// Runs of names interned on one day that put_aggregates() knows need no
// last_day update (a flood of new names: all of them); past this many the
// oldest half is forgotten, and those names get the update.
constexpr size_t kMaxInternedRuns = 64;
// What a cached client costs: the hash node with its key, ids and hash,
// malloc's own bytes, and its bucket.
constexpr size_t kClientBytes = 96;
// Without a memory limit: the page cache of the writer's connection, KiB.
constexpr int64_t kDefaultCacheKib = 32768;
// Hash-table slots are prefetched 2 * kAhead rows before their look-up and
// the names they point at kAhead rows before: enough rows to cover a
// memory access, few enough that the lines are still cached when used.
constexpr size_t kAhead = 8;

using Counts = std::array<int64_t, kStatusCount>;

size_t mix(size_t h, uint64_t v) { return h ^ (std::hash<uint64_t>()(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)); }

// Calls emit(key, sum) once per run of neighbours that `same` puts together,
// with the first key of the run and the run's totals added up.
template <class Item, class Same, class Emit>
void sum_runs(const std::vector<Item>& items, Same same, Emit emit) {
  for (size_t i = 0; i < items.size();) {
    auto all = items[i].second;
    size_t j = i + 1;
    for (; j < items.size() && same(items[j].first, items[i].first); ++j) all.add(items[j].second);
    emit(items[i].first, all);
    i = j;
  }
}

}  // namespace

void Store::DayTotals::add(const DayTotals& o) {
  first = total ? std::min(first, o.first) : o.first;
  last = total ? std::max(last, o.last) : o.last;
  total += o.total;
  blocked += o.blocked;
}

size_t Store::AddrHash::operator()(const AddrKey& k) const {
  uint64_t a, b;
  std::memcpy(&a, k.addr, 8);
  std::memcpy(&b, k.addr + 8, 8);
  return mix(mix(k.family, a), b);
}

size_t Store::DayMap::hash(const DayKey& k) {
  return mix(mix(std::hash<uint64_t>()(uint64_t(k.domain_id)), uint64_t(k.device_id)), uint64_t(k.day));
}

void Store::DayMap::add(const DayKey& k, const DayTotals& v, size_t h) {
  if (2 * (size_ + 1) > slots_.size()) grow();
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (!s.used) {
      s = {k, v, true};
      ++size_;
      return;
    }
    if (s.key == k) {
      s.value.add(v);
      return;
    }
  }
}

bool Store::DayMap::contains(const DayKey& k) const {
  if (slots_.empty()) return false;
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash(k) & mask;; i = (i + 1) & mask) {
    if (!slots_[i].used) return false;
    if (slots_[i].key == k) return true;
  }
}

void Store::DayMap::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(std::max<size_t>(1024, old.size() * 2), Slot{});
  size_ = 0;
  for (const Slot& s : old)
    if (s.used) add(s.key, s.value);
}

void Store::DayMap::clear() {
  if (size_ == 0) return;
  std::fill(slots_.begin(), slots_.end(), Slot{});
  size_ = 0;
}

void Store::DayMap::clear_to(size_t max_slots) {
  if (slots_.size() <= max_slots) return clear();
  std::vector<Slot>().swap(slots_);
  size_ = 0;
}

Store::NameIds::Slot* Store::NameIds::slot(std::string_view name, uint64_t hash) const {
  if (slots_.empty()) return nullptr;
  size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (!s.used || (s.hash == hash && s.len == name.size() && names_.compare(s.at, s.len, name) == 0)) return &s;
  }
}

const int64_t* Store::NameIds::find(std::string_view name, uint64_t hash) const {
  const Slot* s = slot(name, hash);
  return s && s->used && s->known ? &s->id : nullptr;
}

bool Store::NameIds::room_for(size_t len) const {
  // What the next growth of either buffer would take it to (std::string
  // doubles its capacity, as grow() does the slots).
  size_t slots = 2 * (size_ + 1) > slots_.size() ? std::max<size_t>(1024, slots_.size() * 2) : slots_.size();
  size_t text = names_.size() + len > names_.capacity() ? std::max(names_.size() + len, 2 * names_.capacity())
                                                         : names_.capacity();
  return slots * sizeof(Slot) + text <= max_bytes_;
}

void Store::NameIds::set(std::string_view name, int64_t id) {
  uint64_t h = hash(name);
  Slot* s = slot(name, h);
  if (!s || !s->used) {
    if (max_bytes_ && size_ && !room_for(name.size())) {
      clear();
      ++resets_;
    }
    if (2 * (size_ + 1) > slots_.size()) grow();
    s = slot(name, h);
    *s = {h, id, uint32_t(names_.size()), uint32_t(name.size()), true, true};
    names_.append(name);
    ++size_;
  }
  s->id = id;
  s->known = true;
}

void Store::NameIds::forget(std::string_view name) {
  Slot* s = slot(name, hash(name));
  if (s && s->used) s->known = false;
}

void Store::NameIds::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(std::max<size_t>(1024, old.size() * 2), Slot{});
  size_t mask = slots_.size() - 1;
  for (const Slot& o : old) {
    if (!o.used) continue;
    size_t i = o.hash & mask;
    while (slots_[i].used) i = (i + 1) & mask;
    slots_[i] = o;
  }
}

void Store::NameIds::clear() {
  size_ = 0;
  // Within its share the buffers are kept: under a flood of new names the
  // table starts over every few hundred thousand names, and growing back
  // through every size took 3% of the writer's time (hush_querylog_bench
  // unique, perf). Past it (the share was lowered) they are handed back,
  // not kept. (Swaps: assigning an empty vector or string keeps the buffer.)
  if (!slots_.empty() && (max_bytes_ == 0 || bytes() <= max_bytes_)) {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    names_.clear();
    return;
  }
  std::vector<Slot>().swap(slots_);
  std::string().swap(names_);
}

struct Store::Statements {
  sqlite::Stmt insert_block, block_device, first_id, minute_stats, hour_stats, domain_day, device_domain,
      device_seen, address_seen, find_domain, insert_domain, domain_last_day, find_string, insert_string,
      string_last_id, upsert_device, upsert_address, add_dropped, next_id, find_device, count_devices, find_parent,
      insert_parent;
};

Store::Store(Options opt)
    : opt_(std::move(opt)), privacy_(opt_.ignore_clients, opt_.ignore_domains) {
  // Raw rows must not outlive the aggregates that name their domains.
  opt_.aggregate_retention_s = std::max(opt_.aggregate_retention_s, opt_.raw_retention_s);
}

Store::~Store() = default;

int64_t Store::cache_kib() const {
  return sqlite_cache_bytes_ ? std::max<int64_t>(256, int64_t(sqlite_cache_bytes_ >> 10)) : kDefaultCacheKib;
}

void Store::set_memory_limit(size_t table_bytes, size_t sqlite_cache_bytes) {
  // Of the share: a fifth for the names of domains (the table a flood of
  // new names grows), a sixteenth for the few reasons and upstreams, a
  // sixteenth for clients, a fifth for the per-day totals (their flushing
  // copies take about half as much again); the rest, about a third, is left
  // to the batches, which the writer sizes for it.
  domains_.set_limit(table_bytes / 5);
  strings_.set_limit(table_bytes / 16);
  max_clients_ = table_bytes ? std::max<size_t>(64, table_bytes / 16 / kClientBytes) : 0;
  day_cap_ = 0;
  if (table_bytes) {
    size_t slots = 1024;
    while (slots * 2 * DayMap::slot_bytes() <= table_bytes / 5) slots *= 2;
    day_cap_ = slots / 2;  // DayMap grows past half full
  }
  if (day_cap_ && pending_.size() == 0) pending_.clear_to(2 * day_cap_);
  if (clients_.size() > max_clients_ && max_clients_) clients_.clear();
  if (ided_clients_.size() > max_clients_ && max_clients_) ided_clients_.clear();
  if (sqlite_cache_bytes != sqlite_cache_bytes_) {
    sqlite_cache_bytes_ = sqlite_cache_bytes;
    if (db_) db_.exec("PRAGMA cache_size=-" + std::to_string(cache_kib()));
  }
}

size_t Store::aggregate_round(size_t wanted) const {
  // A round copies its totals twice and turns them into two arrays of rows.
  return day_cap_ ? std::max<size_t>(256, std::min(wanted, day_cap_ / 2)) : wanted;
}

size_t Store::memory_bytes() const {
  using Item = std::pair<DayKey, DayTotals>;
  return domains_.bytes() + strings_.bytes() + pending_.bytes() + flushing_.capacity() * sizeof(Item) +
         batch_days_.capacity() * sizeof(Item) + clients_.size() * kClientBytes +
         ided_clients_.size() * (kClientBytes + kMaxClientId + sizeof(AddrKey)) +
         clients_.bucket_count() * sizeof(void*) + row_ids_.capacity() * sizeof(RowIds) +
         (hashes_.capacity() + reason_hashes_.capacity()) * sizeof(uint64_t) + block_.capacity() +
         parents_.size() * (sizeof(std::pair<std::string, int64_t>) + 2 * sizeof(void*) + 32);
}

void Store::forget_ids() {
  clients_.clear();
  ided_clients_.clear();
  domains_.clear();
  strings_.clear();
  parents_.clear();
  // A rolled-back transaction may hand its ids out again.
  interned_.clear();
}

bool Store::interned_on_or_after(int64_t domain_id, int64_t day) const {
  // Every id from a run's first on was interned by this store (it is the
  // only writer) with that run's day, up to the next run's first.
  auto after = std::upper_bound(interned_.begin(), interned_.end(), std::pair{domain_id, INT64_MAX});
  return after != interned_.begin() && std::prev(after)->second >= day;
}

void Store::close() {
  st_.reset();
  db_.close();
  forget_ids();
  // Their ids mean nothing in whatever file is opened next.
  pending_.clear();
  flushing_.clear();
  flushing_at_ = 0;
}

OpenResult Store::open(int64_t now_us) {
  close();
  OpenResult r = open_for_writing(opt_.path, now_us);
  if (!r.db) return r;
  db_ = std::move(r.db);
  // The aggregate upserts land on random pages of tables that outgrow
  // SQLite's default 2 MiB cache within days; 32 MiB (or the memory
  // budget's share) keeps their hot part in memory instead of re-reading it
  // from the OS on every flush.
  // The write-ahead log grows by a transaction's pages between checkpoints
  // and, without a limit, keeps the largest size it ever had on top of
  // querylog.max_size_mib; with one it is cut back after each checkpoint.
  sqlite::Error e = db_.exec("PRAGMA cache_size=-" + std::to_string(cache_kib()) +
                             "; PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=" +
                             std::to_string(kWalLimitBytes) + ";");
  if (!e && register_int_rows(db_.get()) != SQLITE_OK) e = db_.last_error();
  if (!e) e = prepare();
  if (!e) {
    old_rows_ = db_.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'queries_v1'").value_or(0) > 0;
    // Ids only grow, even when every block was pruned, so a reader's
    // "after id N" never skips new rows.
    int64_t next = db_.scalar("SELECT value FROM meta WHERE key = 'next_id'").value_or(1);
    next = std::max(next, db_.scalar("SELECT first_id + n FROM query_blocks ORDER BY first_id DESC LIMIT 1").value_or(1));
    if (old_rows_) next = std::max(next, db_.scalar("SELECT coalesce(max(id), 0) + 1 FROM queries_v1").value_or(1));
    // Strings named by rows of schema 1 stay until those rows are pruned.
    if (old_rows_) e = db_.exec("UPDATE strings SET last_id = max(last_id, " + std::to_string(next) + ")");
    next_id_ = next;
  }
  if (e) {
    r.error = e;
    close();
  }
  return r;
}

sqlite::Error Store::prepare() {
  auto st = std::make_unique<Statements>();
  sqlite::Error err;
  auto p = [&](sqlite::Stmt& s, const char* sql) {
    if (!err) s = db_.prepare(sql, err);
  };
  p(st->insert_block, "INSERT INTO query_blocks(first_id, n, data) VALUES(?,?,?)");
  p(st->block_device, "INSERT OR IGNORE INTO block_devices(device_id, first_id) VALUES(?,?)");
  // The first batch to reach a minute holds its smallest id: ids only grow.
  p(st->first_id, "INSERT INTO minute_ids(minute, first_id) VALUES(?,?) ON CONFLICT DO NOTHING");
  const char* add_counts =
      " VALUES(?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET forwarded=forwarded+excluded.forwarded,"
      " cached=cached+excluded.cached, blocked=blocked+excluded.blocked, local=local+excluded.local,"
      " refused=refused+excluded.refused, error=error+excluded.error";
  std::string ms = std::string("INSERT INTO minute_stats") + add_counts;
  std::string hs = std::string("INSERT INTO hour_stats") + add_counts;
  p(st->minute_stats, ms.c_str());
  p(st->hour_stats, hs.c_str());
  // "WHERE true" tells SQLite's parser that ON CONFLICT is the upsert's.
  p(st->domain_day,
    "INSERT INTO domain_days SELECT c0, c1, c2, c3, c4 FROM hush_int_rows(?1) WHERE true ON CONFLICT DO UPDATE SET "
    "total=total+excluded.total, blocked=blocked+excluded.blocked");
  p(st->device_domain,
    "INSERT INTO device_seen SELECT c0, c1, c2, c3 - c2 FROM hush_int_rows(?1) WHERE true ON CONFLICT DO UPDATE SET "
    "first_seen=min(first_seen, excluded.first_seen), last_gap=max(first_seen + last_gap, excluded.first_seen + "
    "excluded.last_gap) - min(first_seen, excluded.first_seen)");
  p(st->device_seen, "UPDATE devices SET last_seen=max(last_seen, ?2) WHERE id=?1");
  p(st->address_seen, "UPDATE addresses SET last_seen=max(last_seen, ?2) WHERE id=?1");
  p(st->find_domain, "SELECT id, name FROM domains WHERE h=?1");
  p(st->insert_domain, "INSERT INTO domain_names(label, parent, h, last_day) VALUES(?1,?2,?3,?4)");
  p(st->domain_last_day,
    "UPDATE domain_names SET last_day=r.c1 FROM hush_int_rows(?1) r WHERE domain_names.id=r.c0 AND "
    "domain_names.last_day<r.c1");
  p(st->find_parent, "SELECT id FROM domain_parents WHERE name=?1");
  p(st->insert_parent, "INSERT INTO domain_parents(name) VALUES(?1)");
  p(st->string_last_id, "UPDATE strings SET last_id=r.c1 FROM hush_int_rows(?1) r WHERE strings.id=r.c0");
  p(st->find_string, "SELECT id FROM strings WHERE text=?");
  p(st->insert_string, "INSERT INTO strings(text) VALUES(?)");
  p(st->upsert_device,
    "INSERT INTO devices(key, mac, name, first_seen, last_seen) VALUES(?1,?2,?3,?4,?4) "
    "ON CONFLICT(key) DO UPDATE SET mac=coalesce(excluded.mac, mac), name=coalesce(excluded.name, name) "
    "RETURNING id, custom_name");
  p(st->find_device, "SELECT 1 FROM devices WHERE key=?1");
  p(st->count_devices, "SELECT count(*) FROM devices");
  p(st->upsert_address,
    "INSERT INTO addresses(ip, device_id, first_seen, last_seen) VALUES(?1,?2,?3,?3) "
    "ON CONFLICT(ip) DO UPDATE SET device_id=excluded.device_id RETURNING id");
  p(st->add_dropped,
    "INSERT INTO meta VALUES('dropped', ?1) ON CONFLICT DO UPDATE SET value=value+excluded.value");
  p(st->next_id, "INSERT INTO meta VALUES('next_id', ?1) ON CONFLICT DO UPDATE SET value=excluded.value");
  if (!err) st_ = std::move(st);
  return err;
}

sqlite::Error Store::fail(sqlite::Error e) {
  // A failed statement may leave cached ids that the rolled-back
  // transaction never stored; forget them all.
  forget_ids();
  if (file_damaged(e)) close();
  return e;
}

namespace {
// Looks `text` up with `find`, inserting with `insert` when absent.
sqlite::Error intern(sqlite::Db& db, sqlite::Stmt& find, sqlite::Stmt& insert, std::string_view text,
                     int64_t& id) {
  find.bind(1, text);
  int rc = find.step();
  if (rc == SQLITE_ROW) {
    id = find.int64(0);
    find.reset();
    return {};
  }
  if (rc != SQLITE_DONE) return db.last_error();
  insert.bind(1, text);
  if (insert.step() != SQLITE_DONE) return db.last_error();
  id = sqlite3_last_insert_rowid(db.get());
  return {};
}
}  // namespace

sqlite::Error Store::intern_new(std::string_view name, int64_t day, int64_t& id) {
  // The hash index holds 4 bytes per name where a UNIQUE index held the
  // name again; the rare names sharing a hash are told apart here.
  const int64_t h = name_hash(name);
  sqlite::Stmt& find = st_->find_domain;
  find.bind(1, h);
  int rc;
  while ((rc = find.step()) == SQLITE_ROW) {
    const char* text = reinterpret_cast<const char*>(sqlite3_column_text(find.get(), 1));
    if (std::string_view(text ? text : "", size_t(sqlite3_column_bytes(find.get(), 1))) == name) {
      id = find.int64(0);
      find.reset();
      return {};
    }
  }
  if (rc != SQLITE_DONE) return db_.last_error();
  std::string_view label;
  int64_t parent = 0;
  if (auto e = split_name(name, label, parent)) return e;
  sqlite::Stmt& insert = st_->insert_domain;
  insert.bind(1, label);
  if (parent)
    insert.bind(2, parent);
  else
    sqlite3_bind_null(insert.get(), 2);
  insert.bind(3, h).bind(4, day);
  if (insert.step() != SQLITE_DONE) return db_.last_error();
  id = sqlite3_last_insert_rowid(db_.get());
  if (!interned_.empty() && id <= interned_.back().first) interned_.clear();  // ids reused: start over
  if (interned_.empty() || interned_.back().second != day) {
    if (interned_.size() >= kMaxInternedRuns) interned_.erase(interned_.begin(), interned_.begin() + kMaxInternedRuns / 2);
    interned_.emplace_back(id, day);
  }
  return {};
}

sqlite::Error Store::split_name(std::string_view name, std::string_view& label, int64_t& parent) {
  label = name;
  parent = 0;
  // A random-subdomain flood asks for new labels under one registrable
  // domain: stored once, it leaves each name its label (11 of 24 bytes in
  // tests/bench's flood). A name that is its registrable domain (or a
  // public suffix) stays whole: a parent for it alone would be larger.
  char buf[kMaxName + 1];
  if (name.size() > kMaxName) return {};
  std::memcpy(buf, name.data(), name.size());
  buf[name.size()] = 0;
  const char* reg = psl_registrable_domain(psl_builtin(), buf);
  if (!reg || reg == buf) return {};
  const size_t at = size_t(reg - buf);
  const std::string_view registrable = name.substr(at);
  if (auto it = parents_.find(std::string(registrable)); it != parents_.end()) {
    parent = it->second;
  } else {
    if (auto e = intern(db_, st_->find_parent, st_->insert_parent, registrable, parent)) return e;
    if (parents_.size() >= kMaxCachedParents) parents_.clear();
    parents_.emplace(registrable, parent);
  }
  label = name.substr(0, at);
  return {};
}

sqlite::Error Store::domain_id(std::string_view name, int64_t day, int64_t& id) {
  if (const int64_t* known = domains_.find(name)) {
    id = *known;
    return {};
  }
  if (privacy_.hides_domain(name)) {
    id = -1;
  } else if (opt_.anonymous) {
    id = 0;
  } else if (auto e = intern_new(name, day, id)) {
    return e;
  }
  if (domains_.size() >= kMaxCachedNames) domains_.clear();
  domains_.set(name, id);
  return {};
}

sqlite::Error Store::string_id(std::string_view text, uint64_t hash, int64_t& id) {
  if (const int64_t* known = strings_.find(text, hash)) {
    id = *known;
    return {};
  }
  if (auto e = intern(db_, st_->find_string, st_->insert_string, text, id)) return e;
  if (strings_.size() >= kMaxCachedNames) strings_.clear();
  strings_.set(text, id);
  return {};
}

sqlite::Error Store::client_ids(const Batch::Entry& r, const clients::Directory& dir, ClientIds& out) {
  const RecordHead& h = r.head;
  const std::string_view id = r.texts.client_id();
  AddrKey key{h.family, {}};
  std::memcpy(key.addr, h.addr, sizeof key.addr);
  // A device that names itself (DoT client ID) is that device from any
  // address, and several behind one address stay apart.
  std::string id_key;
  if (!id.empty()) {
    id_key.assign(id).append(reinterpret_cast<const char*>(&key), sizeof key);
    if (auto it = ided_clients_.find(id_key); it != ided_clients_.end()) {
      out = it->second;
      return {};
    }
  } else if (auto it = clients_.find(key); it != clients_.end()) {
    out = it->second;
    return {};
  }
  char buf[INET6_ADDRSTRLEN] = "";
  if (h.family == AF_INET || h.family == AF_INET6) inet_ntop(h.family, h.addr, buf, sizeof buf);
  std::string ip = buf;
  clients::Identity who = id.empty() ? dir.lookup(ip) : clients::Identity{"id:" + std::string(id), "", std::string(id)};
  if (auto e = put_client(h, ip, who, out)) return e;
  const size_t cap = max_clients_ ? max_clients_ : kMaxCachedClients;
  if (!id.empty()) {
    if (ided_clients_.size() >= cap) ided_clients_.clear();
    ided_clients_.emplace(std::move(id_key), out);
    return {};
  }
  if (clients_.size() >= cap) clients_.clear();
  clients_.emplace(key, out);
  return {};
}

sqlite::Error Store::put_client(const RecordHead& r, std::string& ip, clients::Identity& who, ClientIds& out) {
  out = {};
  if (privacy_.hides_client(ip, who.mac, who.name)) {
    out.hidden = true;
  } else if (!opt_.anonymous) {
    if (auto e = cap_devices(who, ip)) return e;
    sqlite::Stmt& d = st_->upsert_device;
    d.bind(1, who.key).bind(4, r.time_us);
    who.mac.empty() ? d.bind_null(2) : d.bind(2, who.mac);
    who.name.empty() ? d.bind_null(3) : d.bind(3, who.name);
    if (d.step() != SQLITE_ROW) return db_.last_error();
    out.device_id = d.int64(0);
    std::string custom = d.text(1);
    d.reset();
    if (!custom.empty() && privacy_.hides_client("", "", custom)) out.hidden = true;
    if (!out.hidden && who.name.empty() && unnamed_.size() < 4096) unnamed_.push_back(ip);
    sqlite::Stmt& a = st_->upsert_address;
    a.bind(1, ip).bind(2, out.device_id).bind(3, r.time_us);
    if (a.step() != SQLITE_ROW) return db_.last_error();
    out.address_id = a.int64(0);
    a.reset();
  }
  return {};
}

sqlite::Error Store::cap_devices(clients::Identity& who, std::string& ip) {
  // Only addresses new to this writer get here (clients_ caches the rest),
  // so the two lookups cost nothing per query.
  sqlite::Stmt& known = st_->find_device;
  known.bind(1, who.key);
  int rc = known.step();
  known.reset();
  if (rc == SQLITE_ROW) return {};
  if (rc != SQLITE_DONE) return db_.last_error();
  sqlite::Stmt& count = st_->count_devices;
  if (count.step() != SQLITE_ROW) return db_.last_error();
  int64_t devices = count.int64(0);
  count.reset();
  if (size_t(devices) < opt_.max_devices) return {};
  if (over_device_cap_++ == 0)
    hush::log::warn("query log: ", devices, " devices, the limit (querylog.max_devices); "
                    "further new addresses are logged as \"other devices\"");
  who = {};
  who.key = std::string(kOverflowKey);
  who.name = "other devices";
  ip = std::string(kOverflowKey);
  return {};
}

sqlite::Error Store::resolve_ids(const Batch& batch, const Order& order, const clients::Directory& dir) {
  // Names are looked up a few rows ahead of their use (see DayMap::prefetch);
  // the ones the cache misses are interned afterwards in hash order, so
  // their look-ups and inserts walk the hash index forward instead of all
  // over it.
  const size_t n = order.size();
  row_ids_.assign(n, RowIds{});
  hashes_.resize(n);
  reason_hashes_.resize(n);
  for (size_t j = 0; j < n; ++j) {
    const Texts texts = batch[order[j].second].texts;
    hashes_[j] = NameIds::hash(texts.name());
    // Blocked answers name their list and rule: as many distinct reasons
    // as blocked names, looked up ahead in write() the same way.
    reason_hashes_[j] = NameIds::hash(texts.reason());
  }
  struct Miss {
    int64_t h;
    std::string_view name;
    uint32_t j;
    bool operator<(const Miss& o) const { return std::tie(h, name) < std::tie(o.h, o.name); }
  };
  std::vector<Miss> misses;
  for (size_t j = 0; j < n; ++j) {
    if (j + 2 * kAhead < n) domains_.prefetch(hashes_[j + 2 * kAhead]);
    if (j + kAhead < n) domains_.prefetch_text(hashes_[j + kAhead]);
    const Batch::Entry r = batch[order[j].second];
    RowIds& ids = row_ids_[j];
    if (auto e = client_ids(r, dir, ids.client)) return e;
    if (ids.client.hidden) continue;
    if (const int64_t* known = domains_.find(r.texts.name(), hashes_[j])) {
      ids.domain_id = *known;
    } else {
      misses.push_back({name_hash(r.texts.name()), r.texts.name(), uint32_t(j)});
    }
  }
  std::sort(misses.begin(), misses.end());
  for (size_t k = 0; k < misses.size(); ++k) {
    int64_t& dom = row_ids_[misses[k].j].domain_id;
    if (k > 0 && misses[k].name == misses[k - 1].name)
      dom = row_ids_[misses[k - 1].j].domain_id;
    else if (auto e = domain_id(misses[k].name, order[misses[k].j].first / kDayUs, dom))
      return e;
  }
  return {};
}

sqlite::Error Store::put_block(int64_t first_id, BlockWriter& block, std::vector<int64_t>& devices) {
  sqlite::Stmt& b = st_->insert_block;
  b.bind(1, first_id).bind(2, int64_t(block.rows())).bind_blob(3, block.bytes());
  if (b.step() != SQLITE_DONE) return db_.last_error();
  std::sort(devices.begin(), devices.end());
  devices.erase(std::unique(devices.begin(), devices.end()), devices.end());
  for (int64_t d : devices) {
    st_->block_device.bind(1, d).bind(2, first_id);
    if (st_->block_device.step() != SQLITE_DONE) return db_.last_error();
  }
  devices.clear();
  return {};
}

// What a batch adds up besides its rows, written in the same transaction.
struct Store::BatchSums {
  std::map<std::pair<int64_t, int64_t>, Counts> minutes, hours;  // (minute or hour, device) -> by status
  std::map<int64_t, int64_t> minute_first;                       // minute -> its first id
  std::unordered_map<int64_t, int64_t> device_last, address_last;  // id -> last time
  std::vector<int64_t> block_devices;  // devices in the block being filled
  // (string id, the last row naming it): strings.last_id, which prune_step()
  // reads to remove strings with the raw rows that name them.
  std::vector<std::pair<int64_t, int64_t>> string_rows;
  void string_row(int64_t string, int64_t row) {
    if (!string) return;
    if (string_rows.size() >= 2 && string_rows[string_rows.size() - 2].first == string)
      string_rows[string_rows.size() - 2].second = row;
    else if (!string_rows.empty() && string_rows.back().first == string)
      string_rows.back().second = row;
    else
      string_rows.emplace_back(string, row);
  }
  int64_t next_id = 0;
  uint64_t stored = 0, hidden = 0;

  void count(int64_t time, int64_t device, size_t status) {
    if (minute_key_ != std::pair{time / kMinuteUs, device}) {
      minute_key_ = {time / kMinuteUs, device};
      minute_counts_ = &minutes[minute_key_];
    }
    if (hour_key_ != std::pair{time / kHourUs, device}) {
      hour_key_ = {time / kHourUs, device};
      hour_counts_ = &hours[hour_key_];
    }
    ++(*minute_counts_)[status];
    ++(*hour_counts_)[status];
    ++stored;
  }

  // Rows come in time order: the first id of a minute is the first met, and
  // the last time of a device or address the last met.
  void seen(int64_t id, int64_t time, int64_t device, int64_t address) {
    if (block_devices.empty() || block_devices.back() != device) block_devices.push_back(device);
    if (time / kMinuteUs != last_minute_) {
      last_minute_ = time / kMinuteUs;
      minute_first.try_emplace(last_minute_, id);
    }
    if (device != last_device_) {
      device_time_ = &device_last[device];
      last_device_ = device;
    }
    if (address != last_address_) {
      address_time_ = &address_last[address];
      last_address_ = address;
    }
    *device_time_ = *address_time_ = time;
  }

 private:
  // Neighbouring rows mostly share their minute, device and address: look
  // those up again only when they change. (Pointers into the maps stay valid.)
  std::pair<int64_t, int64_t> minute_key_{-1, -1}, hour_key_{-1, -1};
  Counts *minute_counts_ = nullptr, *hour_counts_ = nullptr;
  int64_t last_minute_ = -1, last_device_ = -1, last_address_ = -1;
  int64_t *device_time_ = nullptr, *address_time_ = nullptr;
};

sqlite::Error Store::write(const Batch& batch, const clients::Directory& dir, const Unlogged& unlogged) {
  if (!db_) return {SQLITE_MISUSE, "the query log is not open"};
  if (dir.generation() != clients_generation_) {
    clients_.clear();
    clients_generation_ = dir.generation();
  }
  // Rows go in time order so that ids grow with time, which is what lets
  // minute_ids turn a time range into an id range.
  Order order(batch.size());
  for (uint32_t i = 0; i < batch.size(); ++i) order[i] = {batch[i].head.time_us, i};
  // One worker's records arrive in order already.
  if (!std::is_sorted(order.begin(), order.end())) std::sort(order.begin(), order.end());
  batch_days_.clear();
  batch_days_sorted_ = false;
  BatchSums sums;
  sums.next_id = next_id_;

  sqlite::Transaction tx(db_);
  if (auto e = tx.begin()) return fail(e);
  if (auto e = resolve_ids(batch, order, dir)) return fail(e);
  if (auto e = put_rows(batch, order, sums)) return fail(e);
  if (auto e = put_sums(sums, unlogged)) return fail(e);
  const bool spill = day_cap_ && pending_.size() + new_batch_days() > day_cap_;
  if (spill)
    if (auto e = spill_batch_days()) return fail(e);
  if (auto e = tx.commit()) return fail(e);
  next_id_ = sums.next_id;
  if (spill)
    ++spilled_batches_;
  else
    add_batch_days();
  written_ += sums.stored;
  hidden_ += sums.hidden;
  return {};
}

sqlite::Error Store::put_rows(const Batch& batch, const Order& order, BatchSums& sums) {
  int64_t& id = sums.next_id;
  int64_t block_first = id;
  block_.clear();
  for (size_t j = 0; j < order.size(); ++j) {
    const auto [time, i] = order[j];
    const Batch::Entry r = batch[i];
    const RecordHead& h = r.head;
    const ClientIds& c = row_ids_[j].client;
    const int64_t dom = row_ids_[j].domain_id;
    if (c.hidden || dom < 0) {
      ++sums.hidden;
      continue;
    }
    size_t s = size_t(h.status) < kStatusCount ? size_t(h.status) : size_t(Status::Error);
    sums.count(time, c.device_id, s);
    if (opt_.anonymous) continue;

    Row row;
    row.id = id;
    row.time_us = time;
    row.device_id = c.device_id;
    row.address_id = c.address_id;
    row.domain_id = dom;
    row.qtype = h.qtype;
    row.transport = h.transport;
    row.status = Status(s);
    row.rcode = h.rcode;
    row.latency_us = h.latency_us;
    row.answer = r.texts.answer();
    if (j + 2 * kAhead < order.size()) strings_.prefetch(reason_hashes_[j + 2 * kAhead]);
    if (j + kAhead < order.size()) strings_.prefetch_text(reason_hashes_[j + kAhead]);
    if (h.reason_len)
      if (auto e = string_id(r.texts.reason(), reason_hashes_[j], row.reason_id)) return e;
    if (h.upstream_len)
      if (auto e = string_id(r.texts.upstream(), row.upstream_id)) return e;
    block_.add(row);
    sums.seen(id, time, c.device_id, c.address_id);
    sums.string_row(row.reason_id, id);
    sums.string_row(row.upstream_id, id);
    DayKey day{c.device_id, dom, time / kDayUs};
    DayTotals once{1, s == size_t(Status::Blocked), time, time};
    if (!batch_days_.empty() && batch_days_.back().first == day)
      batch_days_.back().second.add(once);
    else
      batch_days_.emplace_back(day, once);
    ++id;
    if (int64_t(block_.rows()) == kMaxBlockRows) {
      if (auto e = put_block(block_first, block_, sums.block_devices)) return e;
      block_.clear();
      block_first = id;
    }
  }
  if (block_.rows())
    if (auto e = put_block(block_first, block_, sums.block_devices)) return e;
  return {};
}

sqlite::Error Store::put_sums(BatchSums& sums, const Unlogged& unlogged) {
  for (const auto& [minute, first] : sums.minute_first) {
    st_->first_id.bind(1, minute).bind(2, first);
    if (st_->first_id.step() != SQLITE_DONE) return db_.last_error();
  }
  for (size_t i = 0; i < kStatusCount; ++i)
    if (unlogged.by_status[i]) {
      sums.minutes[{unlogged.time_us / kMinuteUs, 0}][i] += int64_t(unlogged.by_status[i]);
      sums.hours[{unlogged.time_us / kHourUs, 0}][i] += int64_t(unlogged.by_status[i]);
    }
  auto put_counts = [&](sqlite::Stmt& s, const auto& table) -> sqlite::Error {
    for (const auto& [k, n] : table) {
      s.bind(1, k.first).bind(2, k.second);
      for (size_t i = 0; i < kStatusCount; ++i) s.bind(int(3 + i), n[i]);
      if (s.step() != SQLITE_DONE) return db_.last_error();
    }
    return {};
  };
  if (auto e = put_counts(st_->minute_stats, sums.minutes)) return e;
  if (auto e = put_counts(st_->hour_stats, sums.hours)) return e;
  for (auto [stmt, table] : {std::pair{&st_->device_seen, &sums.device_last},
                             std::pair{&st_->address_seen, &sums.address_last}})
    for (const auto& [key, t] : *table) {
      stmt->bind(1, key).bind(2, t);
      if (stmt->step() != SQLITE_DONE) return db_.last_error();
    }
  if (!sums.string_rows.empty()) {
    auto& uses = sums.string_rows;
    std::sort(uses.begin(), uses.end());
    std::vector<int64_t> last;
    last.reserve(uses.size() * 2);
    for (size_t i = 0; i < uses.size(); ++i)
      if (i + 1 == uses.size() || uses[i + 1].first != uses[i].first) last.insert(last.end(), {uses[i].first, uses[i].second});
    IntRows rows{last.data(), last.size() / 2, 2};
    bind_int_rows(st_->string_last_id.get(), 1, &rows);
    if (st_->string_last_id.step() != SQLITE_DONE) return db_.last_error();
  }
  if (unlogged.total) {
    st_->add_dropped.bind(1, int64_t(unlogged.total));
    if (st_->add_dropped.step() != SQLITE_DONE) return db_.last_error();
  }
  if (sums.next_id != next_id_) {
    st_->next_id.bind(1, sums.next_id);
    if (st_->next_id.step() != SQLITE_DONE) return db_.last_error();
  }
  return {};
}

void Store::add_batch_days() {
  hashes_.resize(batch_days_.size());
  for (size_t j = 0; j < batch_days_.size(); ++j) hashes_[j] = DayMap::hash(batch_days_[j].first);
  for (size_t j = 0; j < batch_days_.size(); ++j) {
    if (j + kAhead < batch_days_.size()) pending_.prefetch(hashes_[j + kAhead]);
    pending_.add(batch_days_[j].first, batch_days_[j].second, hashes_[j]);
  }
}

sqlite::Error Store::write(const std::vector<Record>& records, const clients::Directory& dir) {
  Batch batch;
  for (const Record& r : records) batch.add(r);
  if (auto e = write(batch, dir)) return e;
  return flush_aggregates();
}

size_t Store::new_batch_days() {
  if (pending_.size() + batch_days_.size() <= day_cap_) return batch_days_.size();
  // A batch holds about one item per row (only neighbours are merged), so a
  // batch larger than pending_'s room would spill even when it asks for the
  // same few hundred names all along. Summed by key, it takes one item per
  // name and device, and only those pending_ lacks need room. Sorted in the
  // order put_aggregates() wants, should it spill after all.
  std::sort(batch_days_.begin(), batch_days_.end(), in_aggregate_order);
  size_t kept = 0;
  for (size_t i = 0; i < batch_days_.size(); ++i)
    if (kept && batch_days_[kept - 1].first == batch_days_[i].first)
      batch_days_[kept - 1].second.add(batch_days_[i].second);
    else
      batch_days_[kept++] = batch_days_[i];
  batch_days_.resize(kept);
  batch_days_sorted_ = true;
  size_t fresh = 0;
  for (const auto& [key, totals] : batch_days_) fresh += !pending_.contains(key);
  return fresh;
}

sqlite::Error Store::spill_batch_days() {
  DayItems items(batch_days_);
  if (!batch_days_sorted_) std::sort(items.begin(), items.end(), in_aggregate_order);
  return put_aggregates(std::move(items));
}

sqlite::Error Store::put_aggregates(DayItems items) {
  using Item = DayItems::value_type;
  // Device 0 holds every device's (day, domain) summed. Its rows go first
  // and each device's in key order, so the one statement below appends to
  // the tables' B-trees instead of searching them for every row. (A
  // (day, domain) split between two parts is summed by the upsert.)
  std::vector<int64_t> days;
  days.reserve(items.size() * 2 * 5);
  std::vector<std::pair<int64_t, int64_t>> last_days;  // (domain, day)
  sum_runs(
      items, [](const DayKey& a, const DayKey& b) { return a.day == b.day && a.domain_id == b.domain_id; },
      [&](const DayKey& k, const DayTotals& all) {
        days.insert(days.end(), {int64_t(0), k.day, k.domain_id, all.total, all.blocked});
        if (!interned_on_or_after(k.domain_id, k.day)) last_days.emplace_back(k.domain_id, k.day);
      });
  // A name counted on a later day than its last_day stays until that day's
  // counts go; one row per name (the newest day), so the update is defined.
  std::sort(last_days.begin(), last_days.end());
  std::vector<int64_t> newest;
  newest.reserve(last_days.size() * 2);
  for (size_t i = 0; i < last_days.size(); ++i)
    if (i + 1 == last_days.size() || last_days[i + 1].first != last_days[i].first)
      newest.insert(newest.end(), {last_days[i].first, last_days[i].second});
  if (!newest.empty()) {
    IntRows newest_rows{newest.data(), newest.size() / 2, 2};
    bind_int_rows(st_->domain_last_day.get(), 1, &newest_rows);
    if (st_->domain_last_day.step() != SQLITE_DONE) return db_.last_error();
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    const DayKey &x = a.first, &y = b.first;
    return std::tie(x.device_id, x.day, x.domain_id) < std::tie(y.device_id, y.day, y.domain_id);
  });
  for (const auto& [k, v] : items) days.insert(days.end(), {k.device_id, k.day, k.domain_id, v.total, v.blocked});
  IntRows day_rows{days.data(), days.size() / 5, 5};
  bind_int_rows(st_->domain_day.get(), 1, &day_rows);
  if (st_->domain_day.step() != SQLITE_DONE) return db_.last_error();

  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    const DayKey &x = a.first, &y = b.first;
    return std::tie(x.device_id, x.domain_id, x.day) < std::tie(y.device_id, y.domain_id, y.day);
  });
  std::vector<int64_t> seen;
  seen.reserve(items.size() * 4);
  sum_runs(
      items, [](const DayKey& a, const DayKey& b) { return a.device_id == b.device_id && a.domain_id == b.domain_id; },
      [&](const DayKey& k, const DayTotals& all) {
        seen.insert(seen.end(), {k.device_id, k.domain_id, all.first, all.last});
      });
  IntRows seen_rows{seen.data(), seen.size() / 4, 4};
  bind_int_rows(st_->device_domain.get(), 1, &seen_rows);
  if (st_->device_domain.step() != SQLITE_DONE) return db_.last_error();
  return {};
}

sqlite::Error Store::flush_aggregates(size_t max_keys) {
  if (!db_) return {SQLITE_MISUSE, "the query log is not open"};
  do {
    if (flushing_at_ == flushing_.size()) {
      if (pending_.size() == 0) return {};
      // The totals to write move out of pending_, which sums the rows of
      // later batches meanwhile; a key in both is written twice, and the
      // upserts add up.
      flushing_.clear();
      flushing_at_ = 0;
      flushing_.reserve(pending_.size());
      pending_.for_each([this](const DayKey& k, const DayTotals& v) { flushing_.emplace_back(k, v); });
      if (day_cap_)
        pending_.clear_to(2 * day_cap_);
      else
        pending_.clear();
      std::sort(flushing_.begin(), flushing_.end(), in_aggregate_order);
    }
    size_t end = max_keys ? std::min(flushing_.size(), flushing_at_ + max_keys) : flushing_.size();
    sqlite::Transaction tx(db_);
    if (auto e = tx.begin()) return fail(e);
    if (auto e = put_aggregates(DayItems(flushing_.begin() + long(flushing_at_), flushing_.begin() + long(end))))
      return fail(e);
    if (auto e = tx.commit()) return fail(e);
    flushing_at_ = end;
  } while (max_keys == 0);
  return {};
}

size_t Store::pack_old_rows(size_t max_rows, sqlite::Error& err) {
  err = {};
  if (!db_ || !old_rows_) return 0;
  sqlite::Transaction tx(db_);
  if ((err = tx.begin())) return 0;
  sqlite::Stmt s = db_.prepare(
      "SELECT id, t, device_id, address_id, domain_id, qtype, proto, status, rcode, reason_id, upstream_id, "
      "answer, latency_us FROM queries_v1 ORDER BY id LIMIT ?1",
      err);
  if (!s) return 0;
  s.bind(1, int64_t(max_rows));
  block_.clear();
  std::vector<int64_t> devices;
  int64_t first = 0, last = 0;
  size_t n = 0;
  std::string answer;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    Row r;
    r.id = s.int64(0);
    // A block's ids have no gaps; the rows of schema 1 may.
    if (block_.rows() && (r.id != last + 1 || int64_t(block_.rows()) == kMaxBlockRows)) {
      if ((err = put_block(first, block_, devices))) return 0;
      block_.clear();
    }
    if (!block_.rows()) first = r.id;
    r.time_us = s.int64(1);
    r.device_id = s.int64(2);
    r.address_id = s.int64(3);
    r.domain_id = s.int64(4);
    r.qtype = uint16_t(s.int64(5));
    r.transport = Transport(std::clamp<int64_t>(s.int64(6), 0, int64_t(Transport::Doh)));
    r.status = Status(std::clamp<int64_t>(s.int64(7), 0, int64_t(kStatusCount) - 1));
    r.rcode = uint16_t(s.int64(8));
    r.reason_id = s.int64(9);
    r.upstream_id = s.int64(10);
    std::string text = s.text(11).substr(0, 255);
    answer.clear();
    if (!text.empty()) answer = std::string("T") + char(text.size()) + text;
    r.answer = answer;
    r.latency_us = uint32_t(s.int64(12));
    block_.add(r);
    devices.push_back(r.device_id);
    last = r.id;
    ++n;
  }
  if (rc != SQLITE_DONE) {
    err = db_.last_error();
    return 0;
  }
  if (block_.rows())
    if ((err = put_block(first, block_, devices))) return 0;
  sqlite::Stmt del = db_.prepare(n < max_rows ? "DROP TABLE queries_v1" : "DELETE FROM queries_v1 WHERE id <= ?1", err);
  if (!del) return 0;
  if (n == max_rows) del.bind(1, last);
  if (del.step() != SQLITE_DONE) {
    err = db_.last_error();
    return 0;
  }
  if ((err = tx.commit())) return 0;
  if (n < max_rows) old_rows_ = false;
  return n;
}

size_t Store::prune_step(int64_t now_us, size_t max_rows, sqlite::Error& err) {
  err = {};
  if (!db_) {
    err = {SQLITE_MISUSE, "the query log is not open"};
    return 0;
  }
  // Counts only in memory so far would be written after their names went.
  if ((err = flush_aggregates())) return 0;
  int64_t raw_cut = now_us - opt_.raw_retention_s * 1000000;
  // Aggregates go by whole days, and first/last-seen rows and names with
  // them, so a domain is never forgotten while a kept domain_days row still
  // names it.
  int64_t agg_day = (now_us - opt_.aggregate_retention_s * 1000000) / kDayUs;
  int64_t block_cut = raw_cut;
  bool today_names = false;
  const bool for_size = over_size_cap(now_us);
  if (for_size && (err = size_cuts(now_us, raw_cut, block_cut, agg_day, today_names))) return 0;
  const int64_t agg_cut = agg_day * kDayUs;
  const int64_t n = int64_t(max_rows);
  size_t deleted = 0;
  std::vector<std::string> gone, gone_strings;

  sqlite::Transaction tx(db_);
  if ((err = tx.begin())) return 0;
  auto run = [&](const char* sql, std::initializer_list<int64_t> args, std::vector<std::string>* names = nullptr) {
    sqlite::Stmt s = db_.prepare(sql, err);
    if (!s) return false;
    int i = 1;
    for (int64_t a : args) s.bind(i++, a);
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      if (names) names->push_back(s.text(0));
    if (rc != SQLITE_DONE) {
      err = db_.last_error();
      return false;
    }
    deleted += size_t(sqlite3_changes(db_.get()));
    return true;
  };

  // Whole blocks whose every row is older than the raw retention, oldest
  // first, about max_rows rows' worth (at least one block).
  // The lowest first id of the minutes kept, not the earliest minute's:
  // after the clock went back, a later id holds an earlier minute, and the
  // rows below it are not older. Read in first id order, it passes only
  // the minutes older than the cut that minute_ids still holds (those this
  // step and the next few remove), whatever the retention.
  int64_t cut_id = next_id_;
  {
    sqlite::Stmt c = db_.prepare(
        "SELECT first_id FROM minute_ids INDEXED BY minute_ids_first WHERE minute >= ?1 ORDER BY first_id LIMIT 1",
        err);
    if (!c) return 0;
    c.bind(1, block_cut / kMinuteUs);
    int rc = c.step();
    if (rc == SQLITE_ROW) cut_id = c.int64(0);
    else if (rc != SQLITE_DONE) {
      err = db_.last_error();
      return 0;
    }
    c.reset();
  }
  int64_t last_block = -1;
  {
    // For the size cap a block goes with the day of its first row: one that
    // spans midnight would otherwise keep its older day from going.
    sqlite::Stmt b = db_.prepare(
        "SELECT first_id, n FROM query_blocks WHERE first_id < ?1 AND (?3 OR first_id + n <= ?1) "
        "ORDER BY first_id LIMIT ?2",
        err);
    if (!b) return 0;
    b.bind(1, cut_id).bind(2, n).bind(3, int64_t(for_size));
    int64_t rows = 0;
    int rc;
    while ((rc = b.step()) == SQLITE_ROW) {
      if (last_block >= 0 && rows + b.int64(1) > n) break;
      last_block = b.int64(0);
      rows += b.int64(1);
    }
    b.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      err = db_.last_error();
      return 0;
    }
    if (last_block >= 0) {
      if (!run("DELETE FROM query_blocks WHERE first_id <= ?1", {last_block}) ||
          !run("DELETE FROM block_devices WHERE device_id IN (SELECT id FROM devices) AND first_id <= ?1",
               {last_block}))
        return 0;
      // Rows, not SQLite rows, are what callers count.
      deleted = size_t(rows);
    }
  }
  bool ok =
      run("DELETE FROM minute_ids WHERE minute < ?1 AND minute < (SELECT min(minute) FROM minute_ids) + ?2",
          {raw_cut / kMinuteUs, n}) &&
      run("DELETE FROM minute_stats WHERE minute < min(?1, (SELECT min(minute) FROM minute_stats) + 60)",
          {raw_cut / kMinuteUs}) &&
      run("DELETE FROM hour_stats WHERE hour < min(?1, (SELECT min(hour) FROM hour_stats) + 24)",
          {agg_cut / kHourUs});
  if (!ok) return 0;
  if (auto oldest = db_.scalar("SELECT min(day) FROM domain_days WHERE device_id = 0"); oldest && *oldest < agg_day) {
    if ((err = remove_counts(*oldest, (*oldest + 1) * kDayUs, n, {}, deleted, gone))) return 0;
  } else if (today_names) {
    // Names the raw rows left still name stay, and their counts with them.
    // Only once few rows are left: the rows go first.
    std::vector<int64_t> keep;
    if (db_.scalar("SELECT coalesce(sum(n), 0) FROM query_blocks").value_or(INT64_MAX) <= kMaxBlockRows * 4) {
      sqlite::Stmt b = db_.prepare("SELECT first_id, n, data FROM query_blocks", err);
      if (!b) return 0;
      std::vector<Row> rows;
      std::string scratch;
      int rc;
      while ((rc = b.step()) == SQLITE_ROW) {
        std::string_view blob(static_cast<const char*>(sqlite3_column_blob(b.get(), 2)),
                              size_t(sqlite3_column_bytes(b.get(), 2)));
        if (read_block(blob, b.int64(0), b.int64(1), rows, scratch))
          for (const Row& r : rows) keep.push_back(r.domain_id);
      }
      if (rc != SQLITE_DONE) {
        err = db_.last_error();
        return 0;
      }
      std::sort(keep.begin(), keep.end());
      keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
      if ((err = remove_counts(now_us / kDayUs, INT64_MAX, n, keep, deleted, gone))) return 0;
    }
  }
  // Strings no kept raw row names. (Rows of schema 1 not yet packed name
  // strings that last_id does not know of.)
  if (!old_rows_) {
    const int64_t first_kept = db_.scalar("SELECT min(first_id) FROM query_blocks").value_or(next_id_);
    if (!run("DELETE FROM strings WHERE id IN (SELECT id FROM strings WHERE last_id < ?1 LIMIT ?2) RETURNING text",
             {first_kept, n}, &gone_strings))
      return 0;
  }
  names_gone_since_sweep_ += gone.size();
  bool swept = false;
  if (names_gone_since_sweep_ >= kSweepParentsAfter) {
    if (!run("DELETE FROM domain_parents WHERE id NOT IN (SELECT parent FROM domain_names WHERE parent IS NOT NULL)",
             {}))
      return 0;
    swept = true;
  }
  if ((err = tx.commit())) return 0;
  if (swept) {
    names_gone_since_sweep_ = 0;
    parents_.clear();
  }
  for (const std::string& name : gone) domains_.forget(name);
  for (const std::string& text : gone_strings) strings_.forget(text);
  if (!gone.empty()) interned_.clear();  // their ids may be handed out again
  return deleted;
}

sqlite::Error Store::remove_counts(int64_t day, int64_t seen_before, int64_t budget,
                                   const std::vector<int64_t>& keep, size_t& deleted,
                                   std::vector<std::string>& gone) {
  // Oldest names first: the day's next `budget` names by id (ids grow with
  // time), for every device that was around that day, then the all-devices
  // rows and the names no later day counts. Each delete is a range of a
  // primary key: no index exists only for this.
  sqlite::Error err;
  auto m = db_.scalar("SELECT max(domain_id) FROM (SELECT domain_id FROM domain_days WHERE device_id = 0 AND day = " +
                      std::to_string(day) + " ORDER BY domain_id LIMIT " + std::to_string(budget) + ")");
  if (!m) return {};
  sqlite::Stmt devices = db_.prepare(
"SELECT id FROM devices WHERE last_seen >= ?1", err);
  sqlite::Stmt seen = db_.prepare(
      "DELETE FROM device_seen WHERE device_id = ?1 AND first_seen + last_gap < ?4 AND domain_id IN "
      "(SELECT domain_id FROM domain_days WHERE device_id = ?1 AND day = ?2 AND domain_id <= ?3) "
      "AND domain_id NOT IN (SELECT c0 FROM hush_int_rows(?5))",
      err);
  sqlite::Stmt counts = db_.prepare(
      "DELETE FROM domain_days WHERE device_id = ?1 AND day = ?2 AND domain_id <= ?3 "
      "AND domain_id NOT IN (SELECT c0 FROM hush_int_rows(?4))",
      err);
  sqlite::Stmt names = db_.prepare(
      "DELETE FROM domain_names WHERE last_day <= ?1 AND id IN "
      "(SELECT domain_id FROM domain_days WHERE device_id = 0 AND day = ?1 AND domain_id <= ?2) "
      "AND id NOT IN (SELECT c0 FROM hush_int_rows(?3)) "
      "RETURNING label || coalesce((SELECT p.name FROM domain_parents p WHERE p.id = domain_names.parent), '')",
      err);
  if (err) return err;
  const IntRows kept{keep.data(), keep.size(), 1};
  std::vector<int64_t> ids;
  devices.bind(1, day * kDayUs);
  int rc;
  while ((rc = devices.step()) == SQLITE_ROW) ids.push_back(devices.int64(0));
  if (rc != SQLITE_DONE) return db_.last_error();
  for (int64_t d : ids) {
    seen.bind(1, d).bind(2, day).bind(3, *m).bind(4, seen_before);
    bind_int_rows(seen.get(), 5, &kept);
    if (seen.step() != SQLITE_DONE) return db_.last_error();
    deleted += size_t(sqlite3_changes(db_.get()));
    counts.bind(1, d).bind(2, day).bind(3, *m);
    bind_int_rows(counts.get(), 4, &kept);
    if (counts.step() != SQLITE_DONE) return db_.last_error();
    deleted += size_t(sqlite3_changes(db_.get()));
  }
  names.bind(1, day).bind(2, *m);
  bind_int_rows(names.get(), 3, &kept);
  while ((rc = names.step()) == SQLITE_ROW) gone.push_back(names.text(0));
  if (rc != SQLITE_DONE) return db_.last_error();
  deleted += size_t(sqlite3_changes(db_.get()));
  counts.bind(1, 0).bind(2, day).bind(3, *m);
  bind_int_rows(counts.get(), 4, &kept);
  if (counts.step() != SQLITE_DONE) return db_.last_error();
  deleted += size_t(sqlite3_changes(db_.get()));
  return {};
}

namespace {
std::string date_of(int64_t day) {
  time_t t = time_t(day * 86400);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[16];
  strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}
}  // namespace

int64_t Store::used_bytes() {
  if (!db_) return 0;
  int64_t pages = db_.scalar("PRAGMA page_count").value_or(0);
  int64_t free = db_.scalar("PRAGMA freelist_count").value_or(0);
  return (pages - free) * db_.scalar("PRAGMA page_size").value_or(4096);
}

int64_t Store::reclaim_step(int64_t max_pages, sqlite::Error& err) {
  err = {};
  if (!reclaim_ || !db_) return 0;
  const int64_t free = db_.scalar("PRAGMA freelist_count").value_or(0);
  if (free == 0 || db_.scalar("PRAGMA auto_vacuum").value_or(0) != 2) {
    reclaim_ = false;
    return 0;
  }
  if ((err = db_.exec("PRAGMA incremental_vacuum(" + std::to_string(max_pages) + ")"))) reclaim_ = false;
  return free;
}

bool Store::over_size_cap(int64_t now_us) {
  const int64_t cap = opt_.max_size_bytes;
  if (cap <= 0 || !db_) return false;
  const int64_t used = used_bytes();
  if (!size_.active && used > cap) {
    size_ = {};
    size_.active = true;
  } else if (size_.active && used <= cap / 10 * 9) {
    std::string what;
    if (size_.raw_before >= 0) what += "raw rows before " + date_of(size_.raw_before);
    if (size_.agg_before >= 0) what += (what.empty() ? "" : ", ") + std::string("counts before ") + date_of(size_.agg_before);
    if (size_.today_raw) what += (what.empty() ? "" : ", ") + std::string("today's oldest raw rows");
    if (size_.today_names) what += (what.empty() ? "" : ", ") + std::string("today's oldest names' counts");
    size_note_ = "over querylog.max_size_mib (" + memory::mib_text(double(cap)) + "): removed " + (what.empty() ? "nothing" : what) +
                 "; " + memory::mib_text(double(used)) + " used now";
    size_ = {};
    reclaim_ = true;
  }
  return size_.active && now_us >= size_.retry_at;
}

sqlite::Error Store::size_cuts(int64_t now_us, int64_t& raw_cut, int64_t& block_cut, int64_t& agg_day,
                               bool& today_names) {
  const int64_t today = now_us / kDayUs;
  sqlite::Error err;
  // The oldest day of raw rows (the first row of the first block) or of
  // per-minute counts, which go with them.
  int64_t raw_day = -1;
  {
    sqlite::Stmt s = db_.prepare("SELECT first_id, n, data FROM query_blocks ORDER BY first_id LIMIT 1", err);
    if (!s) return err;
    int rc = s.step();
    if (rc == SQLITE_ROW) {
      std::string_view blob(static_cast<const char*>(sqlite3_column_blob(s.get(), 2)),
                            size_t(sqlite3_column_bytes(s.get(), 2)));
      std::vector<Row> rows;
      std::string scratch;
      // A damaged block counts as today's: it goes last, with today's.
      raw_day = read_block(blob, s.int64(0), s.int64(1), rows, scratch) ? rows.front().time_us / kDayUs : today;
      s.reset();
    } else if (rc != SQLITE_DONE) {
      return db_.last_error();
    }
  }
  const int64_t today_raw = raw_day;
  const int64_t minute = db_.scalar("SELECT coalesce(min(m), -1) FROM (SELECT min(minute) AS m FROM minute_stats "
                                    "UNION ALL SELECT min(minute) FROM minute_ids)")
                             .value_or(-1);
  if (minute >= 0) {
    const int64_t day = minute / (kDayUs / kMinuteUs);
    raw_day = raw_day < 0 ? day : std::min(raw_day, day);
  }
  if (raw_day >= 0 && raw_day < today) {
    raw_cut = block_cut = std::max(raw_cut, (raw_day + 1) * kDayUs);
    size_.raw_before = std::max(size_.raw_before, raw_day + 1);
    return {};
  }
  // Then whole days of counts, oldest first; a day's names and first/last
  // seen go with its counts (prune_step).
  const int64_t oldest = db_.scalar("SELECT coalesce(min(d), -1) FROM (SELECT min(day) AS d FROM domain_days "
                                    "WHERE device_id = 0 UNION ALL SELECT min(hour) / 24 FROM hour_stats)")
                             .value_or(-1);
  if (oldest >= 0 && oldest < today) {
    agg_day = std::max(agg_day, oldest + 1);
    size_.agg_before = std::max(size_.agg_before, oldest + 1);
    raw_cut = block_cut = std::max(raw_cut, agg_day * kDayUs);
    return {};
  }
  // Only today is left: its oldest raw rows and its oldest names' counts,
  // side by side, since a flood adds both while a pass runs. The per-minute
  // and per-hour counts stay, so the day's totals stay exact.
  const bool names_left = db_.scalar("SELECT EXISTS(SELECT 1 FROM domain_days WHERE device_id = 0 AND day = " +
                                     std::to_string(today) + ")")
                              .value_or(0) != 0;
  if (today_raw >= 0 || names_left) {
    if (today_raw >= 0) {
      block_cut = std::max(block_cut, (today + 1) * kDayUs);
      size_.today_raw = true;
    }
    if (names_left) {
      today_names = true;
      size_.today_names = true;
    }
    return {};
  }
  // Only today's totals are left: nothing more to remove for now.
  size_.retry_at = now_us + 3600LL * 1000000;
  size_note_ = "over querylog.max_size_mib (" + memory::mib_text(double(opt_.max_size_bytes)) + ") with only today's totals left; " +
               memory::mib_text(double(used_bytes())) + " used";
  return {};
}

}  // namespace hush::querylog

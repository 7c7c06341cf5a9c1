#include "querylog/writer.hpp"

#include <pthread.h>

#include <chrono>

namespace hush::querylog {

namespace {
constexpr int64_t kSecond = 1000000;
constexpr int64_t kMessageEvery = 60 * kSecond;
constexpr int64_t kReopenEvery = 10 * kSecond;
constexpr int64_t kPruneEvery = 60 * kSecond;
constexpr int64_t kClientsEvery = 60 * kSecond;
// Per-day counts and first/last seen are summed in memory and written with
// one upsert per distinct (device, domain, day): each second while that is
// at most kAggregateKeysPerSecond upserts per second since the last write
// (a home network's traffic, so the dashboard stays current), else once
// their number is, and at least every minute, or at once when this many
// wait. A flood of distinct names then costs a bounded share of a core.
constexpr int64_t kAggregateEvery = 60 * kSecond;
constexpr int64_t kAggregateKeysPerSecond = 2000;
constexpr size_t kMaxPendingAggregates = 200000;
// Totals written per round: about 70 ms of a core under a flood of new
// names, so the queues (which hold about 0.1 s of such a flood) are drained
// between parts instead of overflowing during one flush of them all.
constexpr size_t kAggregatesPerRound = 20000;
constexpr size_t kPruneRows = 5000;
constexpr size_t kPackRows = 20000;
// Free pages handed back per round after a size pass: 4 MiB of 4 KiB
// pages, what the write-ahead log is cut back to, so a step stays short.
constexpr int64_t kReclaimPages = 1024;
constexpr size_t kMaxUnnamed = 4096;  // addresses kept as reverse-lookup candidates
constexpr auto kPoll = std::chrono::milliseconds(50);
// A round that drained this many records polls again after kBusyPoll: at
// 150,000 queries a second a worker's ring (8192 records) fills in 55 ms,
// so a full kPoll of sleep under such load drops records.
constexpr size_t kBusyRound = 1024;
constexpr auto kBusyPoll = std::chrono::milliseconds(5);
// What a record of a batch holds while it is written: its head and texts
// here (about 110 bytes), its ids, hashes and per-day totals in the store
// (about 100). Batches get a third of the share: fewer, larger commits
// rewrite far fewer index pages per record when names are new.
constexpr size_t kBytesPerBatchRecord = 256;
constexpr size_t kMinBatch = 1024;
}  // namespace

Writer::Writer(Options opt, LogQueue& queue, WriterHooks hooks)
    : opt_(opt), queue_(queue), hooks_(std::move(hooks)), store_(std::move(opt)),
      clients_(std::make_shared<clients::Directory>()) {
  if (!hooks_.now_us) hooks_.now_us = hush::now_us;
  if (!hooks_.message) hooks_.message = [](log::Level l, const std::string& s) { log::emit(l, s); };
  max_batch_ = opt_.max_batch;
  batch_.reserve(max_batch_);
}

void Writer::set_memory_limit(size_t table_bytes, size_t sqlite_cache_bytes) {
  table_limit_ = table_bytes;
  sqlite_limit_ = sqlite_cache_bytes;
  limit_changed_ = true;
}

void Writer::apply_memory_limit() {
  if (!limit_changed_.exchange(false)) return;
  const size_t table = table_limit_.load();
  store_.set_memory_limit(table, sqlite_limit_.load());
  max_batch_ = table ? std::clamp(table / 3 / kBytesPerBatchRecord, std::min(kMinBatch, opt_.max_batch), opt_.max_batch)
                     : opt_.max_batch;
  // The batch's buffers keep the capacity of the largest batch met. (A
  // swap, since a string moved from an empty one keeps its buffer.)
  if (batch_.empty()) {
    Batch fresh;
    fresh.reserve(max_batch_);
    std::swap(batch_, fresh);
  }
}

Writer::~Writer() { stop(); }

void Writer::say(log::Level l, const std::string& text) { hooks_.message(l, "query log: " + text); }

void Writer::start() {
  thread_ = std::thread([this] {
    // Named, so that per-thread CPU figures tell the writer from the workers.
    pthread_setname_np(pthread_self(), "hush-qlog");
    // The first round at once: it creates the database, which `hush log`
    // and the dashboard expect as soon as hush answers.
    for (;;) {
      size_t drained = step(hooks_.now_us());
      std::unique_lock<std::mutex> lock(run_mu_);
      if (wake_.wait_for(lock, drained >= kBusyRound ? kBusyPoll : kPoll, [this] { return stopping_; })) break;
    }
    // The workers have stopped: whatever is queued now is all there is.
    while (step(hooks_.now_us(), true) > 0) {
    }
    store_.close();
  });
}

void Writer::stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Writer::Stats Writer::stats() const {
  Stats s;
  s.written = written_.load();
  s.dropped_queue = queue_.dropped();
  s.dropped_storage = dropped_storage_.load();
  s.hidden = hidden_.load();
  s.over_device_cap = over_device_cap_.load();
  s.batches = batches_.load();
  s.aggregate_flushes = aggregate_flushes_.load();
  s.paused = paused_flag_.load();
  s.memory_bytes = memory_bytes_.load();
  s.spilled_batches = spilled_batches_.load();
  s.name_resets = name_resets_.load();
  return s;
}

std::vector<std::string> Writer::ptr_due(int64_t now_s) {
  std::lock_guard<std::mutex> lock(ptr_mu_);
  return ptr_.due(std::vector<std::string>(unnamed_.begin(), unnamed_.end()), now_s);
}

void Writer::ptr_answered(const std::string& ip, const std::string& name) {
  std::lock_guard<std::mutex> lock(ptr_mu_);
  ptr_.answered(ip, name);
  ptr_changed_ = true;
}

void Writer::storage_failed(const sqlite::Error& e, int64_t now) {
  store_.close();
  next_open_ = now + kReopenEvery;
  pause_reason_ = e.message;
  uint64_t lost = dropped_storage_.load();
  if (!paused_)
    say(log::Level::Warn, "cannot write " + opt_.path + ": " + e.message +
                              "; logging is paused and queries are dropped (DNS keeps answering); "
                              "retrying every 10 s");
  else if (now - last_pause_message_ >= kMessageEvery)
    say(log::Level::Warn, "still cannot write " + opt_.path + ": " + e.message + "; " +
                              std::to_string(lost) + " queries dropped so far");
  else
    return;
  last_pause_message_ = now;
  paused_ = true;
  paused_flag_ = true;
}

void Writer::damaged(const sqlite::Error& e, int64_t now) {
  // The header can look fine while a page deep inside is broken, so opening
  // again would not notice: move the file aside here.
  store_.close();
  std::string why;
  std::string moved = move_aside(opt_.path, now, why);
  if (moved.empty()) {
    storage_failed({e.code, e.message + "; cannot move the file aside: " + why}, now);
    return;
  }
  say(log::Level::Error, "moved " + opt_.path + " aside to " + moved + " because it is damaged (" +
                             e.message + "); starting a new log");
  next_open_ = now;
}

bool Writer::ensure_open(int64_t now) {
  if (store_.is_open()) return true;
  if (now < next_open_) return false;
  OpenResult r = store_.open(now);
  if (!r.moved_aside.empty())
    say(log::Level::Warn, "moved " + opt_.path + " aside to " + r.moved_aside + " because " +
                              r.why_moved + "; starting a new log");
  if (!store_.is_open()) {
    storage_failed(r.error, now);
    return false;
  }
  return true;
}

std::vector<clients::Neighbour> Writer::neighbours() const {
  std::lock_guard<std::mutex> lock(neighbours_mu_);
  return neighbours_;
}

void Writer::refresh_clients(int64_t now) {
  if (!hooks_.read_clients) return;
  bool ptr_changed;
  {
    std::lock_guard<std::mutex> lock(ptr_mu_);
    ptr_changed = ptr_changed_;
  }
  if (now < next_clients_ && !ptr_changed) return;
  next_clients_ = now + kClientsEvery;
  clients::Inputs in = hooks_.read_clients();
  {
    std::lock_guard<std::mutex> lock(neighbours_mu_);
    neighbours_ = in.neighbours;
  }
  {
    std::lock_guard<std::mutex> lock(ptr_mu_);
    in.ptr_names = ptr_.names();
    ptr_changed_ = false;
  }
  clients_ = std::make_shared<clients::Directory>(in, now / kSecond);
  std::lock_guard<std::mutex> lock(ptr_mu_);
  for (std::string& ip : clients_->unnamed())
    if (unnamed_.size() < kMaxUnnamed) unnamed_.insert(std::move(ip));
  // A name from hosts or DHCP wins over PTR: no need to ask for those.
  for (auto it = unnamed_.begin(); it != unnamed_.end();)
    it = !clients_->lookup(*it).name.empty() && !ptr_.names().count(*it) ? unnamed_.erase(it) : std::next(it);
}

size_t Writer::step(int64_t now, bool flush) {
  apply_memory_limit();
  size_t drained =
      queue_.drain([this](const Record& r) { batch_.add(r); }, max_batch_ - std::min(max_batch_, batch_.size()));
  bool open = ensure_open(now);
  refresh_clients(now);
  if (!open) {
    dropped_storage_ += batch_.size();
    batch_.clear();
    return drained;
  }

  // Queries the rings had no room for are still counted, per status, so
  // totals and charts stay true when the log cannot keep up.
  StatusTotals queue_drops = queue_.dropped_by_status();
  Unlogged unlogged;
  unlogged.time_us = now;
  for (size_t i = 0; i < kStatusCount; ++i) {
    unlogged.by_status[i] = queue_drops[i] - queue_drops_stored_[i];
    unlogged.total += unlogged.by_status[i];
  }
  uint64_t storage_drops = dropped_storage_.load();
  unlogged.total += storage_drops - storage_drops_stored_;
  bool due = now - last_commit_ >= opt_.commit_interval_us;
  const uint64_t written_before = store_.written();
  if ((!batch_.empty() || unlogged.total) && (flush || due || batch_.size() >= max_batch_)) {
    sqlite::Error e = store_.write(batch_, *clients_, unlogged);
    if (!e) {
      // Opening can succeed on a full disk; only a commit shows it is over.
      if (paused_)
        say(log::Level::Info, "writing " + opt_.path + " again; " + std::to_string(dropped_storage_.load()) +
                                  " queries were dropped while paused");
      paused_ = false;
      paused_flag_ = false;
      queue_drops_stored_ = queue_drops;
      storage_drops_stored_ = storage_drops;
      written_ = store_.written();
      hidden_ = store_.hidden();
      over_device_cap_ = store_.over_device_cap();
      std::vector<std::string> unnamed = store_.take_unnamed();
      if (!unnamed.empty()) {
        std::lock_guard<std::mutex> lock(ptr_mu_);
        for (std::string& ip : unnamed)
          if (unnamed_.size() < kMaxUnnamed) unnamed_.insert(std::move(ip));
      }
      ++batches_;
      last_commit_ = now;
    } else {
      dropped_storage_ += batch_.size();
      file_damaged(e) ? damaged(e, now) : storage_failed(e, now);
    }
    batch_.clear();
  }

  const int64_t since = now - last_aggregates_;
  const size_t pending = store_.pending_aggregates();
  bool aggregates_due = flush || store_.flushing() || pending >= kMaxPendingAggregates || store_.aggregates_full() ||
                        (pending > 0 && since >= kSecond &&
                         (int64_t(pending) <= kAggregateKeysPerSecond * (since / kSecond) || since >= kAggregateEvery));
  if (store_.is_open() && aggregates_due) {
    if (sqlite::Error e = store_.flush_aggregates(flush ? 0 : store_.aggregate_round(kAggregatesPerRound)))
      file_damaged(e) ? damaged(e, now) : storage_failed(e, now);
    else {
      last_aggregates_ = now;
      ++aggregate_flushes_;
    }
  }

  uint64_t all_queue_drops = queue_.dropped();
  if (all_queue_drops > drops_reported_ && now - last_drop_message_ >= kMessageEvery) {
    say(log::Level::Warn, std::to_string(all_queue_drops - drops_reported_) +
                              " queries not logged because the queue was full (still counted in the totals)");
    drops_reported_ = all_queue_drops;
    last_drop_message_ = now;
  }

  if (store_.is_open()) {
    sqlite::Error e;
    store_.pack_old_rows(kPackRows, e);
    if (e) file_damaged(e) ? damaged(e, now) : storage_failed(e, now);
  }

  // Over querylog.max_size_mib, a step every round until the pass is done:
  // a flood of new names grows the file by megabytes a second, more than a
  // step a second removes.
  // One size check a round (three PRAGMAs): it also ends a pass that the
  // previous round's step finished.
  const bool over_cap = store_.is_open() && store_.over_size_cap(now);
  if (store_.is_open() && (now >= next_prune_ || over_cap)) {
    sqlite::Error e;
    // Over the cap a step removes twice what this round wrote: under a
    // flood of new names a round writes more than kPruneRows, and steps of
    // that size let the file grow for as long as the flood lasts (to twice
    // a 64 MiB cap in a minute at 40,000 new names a second).
    const size_t rows = over_cap ? std::max<size_t>(kPruneRows, 2 * (store_.written() - written_before)) : kPruneRows;
    size_t n = store_.prune_step(now, rows, e);
    // A full step means more is waiting: come back soon, still in small steps.
    next_prune_ = now + (n >= kPruneRows ? kSecond : kPruneEvery);
    if (e) file_damaged(e) ? damaged(e, now) : storage_failed(e, now);
  }
  if (store_.is_open()) {
    sqlite::Error e;
    store_.reclaim_step(kReclaimPages, e);
    if (e) file_damaged(e) ? damaged(e, now) : storage_failed(e, now);
  }
  if (std::string note = store_.take_size_note(); !note.empty()) say(log::Level::Info, note);
  memory_bytes_ = store_.memory_bytes() + batch_.bytes();
  spilled_batches_ = store_.spilled_batches();
  name_resets_ = store_.name_resets();
  return drained;
}

}  // namespace hush::querylog

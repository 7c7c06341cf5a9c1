#include "app/serve.hpp"

#include <pthread.h>
#include <signal.h>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <filesystem>
#include <optional>
#include <memory>
#include <thread>
#include <vector>

#include "base/address.hpp"
#include "cache/cache.hpp"
#include "policy/list_updates.hpp"
#include "base/log.hpp"
#include "clients/directory.hpp"
#include "clients/ptr_lookup.hpp"
#include "net/worker.hpp"
#include "querylog/queue.hpp"
#include "querylog/reader.hpp"
#include "querylog/writer.hpp"
#include "metrics/metrics.hpp"
#include "policy/inputs.hpp"
#include "pipeline/policy_store.hpp"
#include "app/privileges.hpp"

namespace hush {

namespace {

void sum_counters(const std::vector<std::unique_ptr<net::Worker>>& workers, Counters& sum) {
  for (const auto& w : workers) accumulate(sum, w->counters());
}

void log_totals(const std::vector<std::unique_ptr<net::Worker>>& workers) {
  Counters sum;
  sum_counters(workers, sum);
  log::info("stopped after ", sum.queries_udp.load(), " UDP and ", sum.queries_tcp.load(),
            " TCP queries: ", sum.cache_hits.load(), " from cache, ", sum.forwarded.load(),
            " forwarded, ", sum.servfail.load(), " SERVFAIL, ",
            sum.formerr.load() + sum.notimp.load() + sum.badvers.load(), " malformed, ",
            sum.dropped.load(), " dropped");
}

BlockSettings block_settings(const Config& cfg) {
  BlockSettings b;
  b.enabled = cfg.blocking.enabled;
  b.cname_inspection = cfg.blocking.cname_inspection;
  const std::string& m = cfg.blocking.mode;
  b.answer.mode = m == "nxdomain" ? dns::BlockMode::NxDomain
                  : m == "nodata" ? dns::BlockMode::NoData
                  : m == "ip"     ? dns::BlockMode::Ip
                                  : dns::BlockMode::Null;
  if (b.answer.mode == dns::BlockMode::Ip) {
    std::memcpy(b.answer.ipv4, cfg.block_ipv4, 4);
    std::memcpy(b.answer.ipv6, cfg.block_ipv6, 16);
  }
  b.answer.ttl = cfg.blocking.ttl;
  return b;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string address_list(const std::vector<sockaddr_storage>& addrs) {
  std::string out;
  for (const auto& a : addrs) out += (out.empty() ? "" : ", ") + format_address(a);
  return out;
}

// The running server as other threads see it (/metrics). The DNS workers
// never touch mu_: it guards only what the main thread changes on SIGHUP.
class ServerRuntime final : public Runtime {
 public:
  ServerRuntime(const Config& cfg, const std::vector<std::unique_ptr<net::Worker>>& workers,
                const cache::Cache& cache, const PolicyStore& policies, std::string version)
      : workers_(workers), cache_(cache), policies_(policies), version_(std::move(version)),
        started_(unix_now()) {
    for (const auto& a : cfg.upstream_addrs) upstreams_.push_back(format_address(a));
  }

  // Builds the policy for `cfg` (plus the hook's extras) aside and publishes
  // it; a failed build keeps the policy in force. Main thread only.
  bool rebuild_policy(const Config& cfg, PolicyStore& store) {
    std::vector<metrics::ListInfo> lists;
    auto fresh = build_policy(with_extras(cfg), true, &lists);
    std::lock_guard lock(mu_);
    if (!fresh) return false;
    store.publish(std::move(fresh));
    lists_ = std::move(lists);
    loaded_ = unix_now();
    return true;
  }
  void set_lists(std::vector<metrics::ListInfo> lists) {
    std::lock_guard lock(mu_);
    lists_ = std::move(lists);
    loaded_ = unix_now();
  }
  void count_reload(bool ok) {
    std::lock_guard lock(mu_);
    ++(ok ? reloads_ok_ : reloads_failed_);
  }

  void totals(Counters& out) const override { sum_counters(workers_, out); }

  // The dashboard's side: extras for the policy, and the blocking switch
  // published to the workers. Call once, before the HTTP server starts.
  void attach(std::function<void(Config&)> extras, Published<BlockSettings>& block_store, const BlockSettings& base) {
    extras_ = std::move(extras);
    block_store_ = &block_store;
    block_base_ = base;
  }
  Config with_extras(const Config& cfg) const {
    Config out = cfg;
    if (extras_) extras_(out);
    return out;
  }

  Blocking blocking() const override {
    std::lock_guard lock(block_mu_);
    return {block_override_.value_or(block_base_.enabled), block_override_ ? block_until_ : 0};
  }
  void set_blocking(bool enabled, int64_t seconds) const override {
    std::lock_guard lock(block_mu_);
    if (enabled == block_base_.enabled && enabled) {
      block_override_.reset();
      block_until_ = 0;
    } else {
      block_override_ = enabled;
      block_until_ = !enabled && seconds > 0 ? unix_now() + seconds : 0;
    }
    publish_blocking();
  }
  // Main thread: new blocking.* settings after SIGHUP (a pause stays), and
  // the end of a timed pause.
  void set_block_base(const BlockSettings& b) {
    std::lock_guard lock(block_mu_);
    block_base_ = b;
    publish_blocking();
  }
  void tick_blocking() {
    std::lock_guard lock(block_mu_);
    if (!block_override_ || !block_until_ || unix_now() < block_until_) return;
    log::info("blocking pause ended, blocking again");
    block_override_.reset();
    block_until_ = 0;
    publish_blocking();
  }

  bool request_policy_rebuild(std::chrono::milliseconds timeout) const override {
    std::unique_lock lock(rebuild_mu_);
    uint64_t ticket = ++rebuild_asked_;
    pthread_kill(main_thread_, SIGUSR1);  // wakes the main loop's sigtimedwait
    if (!rebuild_cv_.wait_for(lock, timeout, [&] { return rebuild_done_ >= ticket; })) return false;
    return rebuild_ok_;
  }
  // Main thread: rebuilds once for every request made so far; true if it did.
  bool serve_rebuild_requests(const Config& cfg, PolicyStore& store) {
    uint64_t asked;
    {
      std::lock_guard lock(rebuild_mu_);
      asked = rebuild_asked_;
      if (asked == rebuild_done_) return false;
    }
    log::info("rebuilding the blocklists (dashboard change)");
    bool ok = rebuild_policy(cfg, store);
    {
      std::lock_guard lock(rebuild_mu_);
      rebuild_done_ = asked;
      rebuild_ok_ = ok;
    }
    rebuild_cv_.notify_all();
    return true;
  }

  size_t blocked_names() const override {
    auto p = policies_.current();
    return p ? p->entry_count() : 0;
  }
  std::vector<metrics::ListInfo> lists() const override {
    std::lock_guard lock(mu_);
    return lists_;
  }

  // Set by whoever runs the query log, before the HTTP server starts: how
  // many records it had to drop (queue full, database unwritable).
  std::function<uint64_t()> querylog_dropped;

  std::string metrics_text() const override {
    auto sum = std::make_unique<Counters>();  // ~5 KiB: not on an HTTP thread's stack
    totals(*sum);
    metrics::Snapshot s;
    s.totals = sum.get();
    s.upstreams = upstreams_;
    s.cache_entries = cache_.size();
    if (auto p = policies_.current()) {
      s.blocked_names = p->entry_count();
      s.policy_bytes = p->memory_bytes();
    }
    {
      std::lock_guard lock(mu_);
      s.lists = lists_;
      s.lists_loaded_unix = loaded_;
      s.reloads_ok = reloads_ok_;
      s.reloads_failed = reloads_failed_;
    }
    s.started_unix = started_;
    if (querylog_dropped) s.querylog_dropped = querylog_dropped();
    s.now_unix = unix_now();
    s.version = version_;
    std::string out;
    metrics::render(s, out);
    return out;
  }

 private:
  const std::vector<std::unique_ptr<net::Worker>>& workers_;
  const cache::Cache& cache_;
  const PolicyStore& policies_;
  std::vector<std::string> upstreams_;
  std::string version_;
  int64_t started_;
  mutable std::mutex mu_;
  std::vector<metrics::ListInfo> lists_;
  std::function<void(Config&)> extras_;
  pthread_t main_thread_ = pthread_self();  // constructed on the main thread
  mutable std::mutex rebuild_mu_;
  mutable std::condition_variable rebuild_cv_;
  mutable uint64_t rebuild_asked_ = 0, rebuild_done_ = 0;
  mutable bool rebuild_ok_ = false;
  // Publishes block_base_ with the override applied. With block_mu_ held.
  void publish_blocking() const {
    if (!block_store_) return;
    BlockSettings b = block_base_;
    if (block_override_) b.enabled = *block_override_;
    block_store_->publish(std::make_shared<const BlockSettings>(b));
  }
  mutable std::mutex block_mu_;
  Published<BlockSettings>* block_store_ = nullptr;
  BlockSettings block_base_;
  mutable std::optional<bool> block_override_;
  mutable int64_t block_until_ = 0;
  int64_t loaded_ = 0;
  uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
};

log::Level level_named(const std::string& s) {
  if (s == "debug") return log::Level::Debug;
  if (s == "warn") return log::Level::Warn;
  if (s == "error") return log::Level::Error;
  return log::Level::Info;
}

// SIGHUP: reads the configuration again and takes over the keys that can
// change while serving (lists, blocking.*, clients, log_level) into
// `current`; keys that differ from `startup` but need new sockets, threads
// or caches are logged as needing a restart. Returns false (and changes
// nothing) when the new configuration has problems.
bool reload_settings(const ServeHooks& hooks, const Config& startup, Config& current,
                     Published<BlockSettings>& block_store) {
  if (!hooks.reload) return true;  // no file to read: rebuild the lists as they are
  Config next;
  std::vector<std::string> errors;
  if (!hooks.reload(next, errors)) {
    for (const std::string& e : errors) log::error(e);
    log::error("reload failed: the configuration has problems; the settings in force stay");
    return false;
  }
  auto needs_restart = [](const char* key) { log::warn(key, " changed; that needs a restart"); };
  if (next.server.listen != startup.server.listen) needs_restart("server.listen");
  if (next.server.threads != startup.server.threads) needs_restart("server.threads");
  if (next.server.data_dir != startup.server.data_dir) needs_restart("server.data_dir");
  if (next.server.user != startup.server.user) needs_restart("server.user");
  if (address_list(next.upstream_addrs) != address_list(startup.upstream_addrs))
    needs_restart("upstream.servers");
  if (next.upstream.timeout_ms != startup.upstream.timeout_ms) needs_restart("upstream.timeout_ms");
  if (next.cache.max_entries != startup.cache.max_entries || next.cache.min_ttl != startup.cache.min_ttl ||
      next.cache.max_ttl != startup.cache.max_ttl ||
      next.cache.negative_max_ttl != startup.cache.negative_max_ttl)
    needs_restart("[cache]");
  if (next.tcp.max_connections != startup.tcp.max_connections ||
      next.tcp.idle_timeout_ms != startup.tcp.idle_timeout_ms)
    needs_restart("[tcp]");
  if (next.access.allow != startup.access.allow || next.access.drop_refused != startup.access.drop_refused ||
      next.access.rate_limit != startup.access.rate_limit ||
      next.access.rate_window_s != startup.access.rate_window_s ||
      next.access.limit_loopback != startup.access.limit_loopback)
    needs_restart("[access]");
  if (next.http.listen != startup.http.listen) needs_restart("http.listen");

  if (next.server.log_level != current.server.log_level) {
    current.server.log_level = next.server.log_level;
    log::set_level(level_named(next.server.log_level));
  }
  current.lists = next.lists;
  current.clients = next.clients;
  current.blocking = next.blocking;
  std::memcpy(current.block_ipv4, next.block_ipv4, sizeof current.block_ipv4);
  std::memcpy(current.block_ipv6, next.block_ipv6, sizeof current.block_ipv6);
  block_store.publish(std::make_shared<const BlockSettings>(block_settings(current)));
  return true;
}

}  // namespace

namespace {
std::string fingerprint(const std::vector<blocklists::ClientRule>& rules) {
  std::string out;
  for (const auto& r : rules) {
    out += r.cidr_or_ip + "=";
    for (const auto& g : r.groups) out += g + ",";
    out += ";";
  }
  return out;
}

// The records file's change time, so `hush local add` takes effect without a restart.
std::optional<std::filesystem::file_time_type> changed_at(const std::string& path) {
  std::error_code ec;
  auto t = std::filesystem::last_write_time(path, ec);
  if (ec) return std::nullopt;
  return t;
}
}  // namespace

int serve(const Config& cfg, const ServeHooks& hooks) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.server.data_dir, ec);
  if (ec) {
    log::error("cannot create data directory ", cfg.server.data_dir, ": ", ec.message());
    return 1;
  }
  std::string user_error;
  std::optional<RunAs> run_as = user_to_run_as(cfg.server.user, user_error);
  if (!user_error.empty()) {
    log::error(user_error);
    return 1;
  }
  unsigned threads = cfg.server.threads ? cfg.server.threads : std::max(1u, std::thread::hardware_concurrency());
  Config effective = cfg;
  effective.server.threads = threads;

  std::vector<net::ListenSockets> sockets(threads);
  if (std::string error; !net::ports_free(effective.listen_addrs, error)) {
    log::error(error);
    return 1;
  }
  for (auto& s : sockets) {
    std::string error;
    if (!net::open_listen_sockets(effective.listen_addrs, s, error)) {
      log::error(error);
      for (auto& opened : sockets) net::close_sockets(opened);
      return 1;
    }
  }

  // Root was needed for the ports (below 1024) only: from here on hush runs
  // as server.user, before any thread starts or any list is read.
  if (run_as) {
    std::string error;
    if (!drop_privileges(*run_as, cfg.server.data_dir, error)) {
      log::error("cannot switch to user ", run_as->name, ": ", error);
      return 1;
    }
    log::info("running as user ", run_as->name, " (uid ", run_as->uid, ")");
    if (::access(cfg.server.data_dir.c_str(), R_OK | W_OK | X_OK) != 0) {
      log::error("user ", run_as->name, " cannot use the data directory ", cfg.server.data_dir,
                 " (check the permissions of the directories above it)");
      return 1;
    }
  } else if (::geteuid() == 0 && !(cfg.server.user && cfg.server.user->empty())) {
    log::warn("running as root: create a system user 'hush' (the package does) or set server.user");
  }

  // Workers inherit this mask: signals are taken only by sigwait below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);  // the dashboard asks for a policy rebuild
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  PolicyStore policies;
  std::vector<metrics::ListInfo> startup_lists;
  {
    Config with_extras = effective;
    if (hooks.policy_extras) hooks.policy_extras(with_extras);
    policies.publish(build_policy(with_extras, true, &startup_lists));
  }
  Published<BlockSettings> block_store;  // SIGHUP publishes new blocking.* settings here
  block_store.publish(std::make_shared<const BlockSettings>(block_settings(effective)));
  cache::Cache cache(effective.cache.max_entries,
                     {effective.cache.min_ttl, effective.cache.max_ttl, effective.cache.negative_max_ttl});
  LocalStore local;
  auto records_changed = changed_at(effective.local.records_file);
  local.publish(build_local(effective));
  RateLimiter limiter;
  net::Worker::Shared shared{cache, policies, block_settings(effective), limiter, local, {}, {}};
  // The query log: each worker hands records to its own ring and never
  // waits; one writer thread stores them in SQLite in batches.
  std::unique_ptr<querylog::LogQueue> log_queue;
  std::unique_ptr<querylog::Writer> log_writer;
  std::unique_ptr<clients::PtrLookups> ptr_lookups;
  if (effective.querylog.enabled) {
    querylog::Options qo;
    qo.path = effective.server.data_dir + "/hush.db";
    qo.raw_retention_s = int64_t(effective.querylog.retention_days) * 86400;
    qo.aggregate_retention_s = int64_t(effective.querylog.aggregate_retention_days) * 86400;
    qo.anonymous = effective.querylog.anonymous;
    qo.ignore_clients = effective.querylog.ignore_clients;
    qo.ignore_domains = effective.querylog.ignore_domains;
    qo.queue_per_worker = effective.querylog.queue_size;
    log_queue = std::make_unique<querylog::LogQueue>(threads, qo.queue_per_worker);
    clients::Sources names;
    names.hosts_file = effective.device_names.hosts_file;
    names.dnsmasq_leases = effective.device_names.dnsmasq_leases;
    names.isc_leases = effective.device_names.isc_leases;
    querylog::WriterHooks wh;
    wh.read_clients = [names] { return clients::read_inputs(names); };
    log_writer = std::make_unique<querylog::Writer>(qo, *log_queue, wh);
    log_writer->start();
    shared.log_queue = log_queue.get();
    // Device names from reverse lookups at the router (devices.router, or a
    // [[forward]] reverse zone's servers), as Pi-hole's conditional forwarding.
    bool reverse_zone = false;
    for (const auto& f : effective.forwards)
      reverse_zone = reverse_zone || f.domain.ends_with("in-addr.arpa") || f.domain.ends_with("ip6.arpa");
    if (!qo.anonymous && (effective.router_addr || reverse_zone)) {
      querylog::Writer* w = log_writer.get();
      clients::PtrLookupHooks ph;
      ph.due = [w](int64_t now_s) { return w->ptr_due(now_s); };
      ph.answered = [w](const std::string& ip, const std::string& name) { w->ptr_answered(ip, name); };
      ph.server_for = [router = effective.router_addr, forwards = effective.forwards](const std::string& ip) {
        return clients::ptr_server_for(ip, router, forwards);
      };
      ptr_lookups = std::make_unique<clients::PtrLookups>(std::move(ph));
      ptr_lookups->start();
    }
  }
  std::vector<std::unique_ptr<net::Worker>> workers;
  for (auto& s : sockets)
    workers.push_back(std::make_unique<net::Worker>(effective, shared, int(workers.size()), std::move(s)));
  for (auto& w : workers) shared.workers.push_back(w.get());
  for (auto& w : workers) w->follow_block_settings(block_store);
  std::vector<std::thread> running;
  for (auto& w : workers) running.emplace_back([&w] { w->run(); });
  ServerRuntime runtime(effective, workers, cache, policies, hooks.version);
  if (log_writer)
    runtime.querylog_dropped = [&log_writer] {
      auto st = log_writer->stats();
      return st.dropped_queue + st.dropped_storage;
    };
  runtime.set_lists(std::move(startup_lists));
  runtime.attach(hooks.policy_extras, block_store, block_settings(effective));

  std::string addrs;
  for (const auto& a : effective.listen_addrs) addrs += (addrs.empty() ? "" : ", ") + format_address(a);
  std::string ups;
  for (const auto& a : effective.upstream_addrs) ups += (ups.empty() ? "" : ", ") + format_address(a);
  log::info("listening on ", addrs, " (udp+tcp, ", threads, " threads), upstream ", ups);
  std::shared_ptr<void> http = hooks.start_http ? hooks.start_http(runtime, effective) : nullptr;
  ListUpdater list_updater(effective);  // subscriptions: due downloads on its own thread

  std::string device_groups = fingerprint(device_group_rules(effective.server.data_dir));
  // The dashboard's allow/deny entries (web/rules.hpp), which other processes
  // change too (hush report block): polled like the local records.
  const std::string rules_file = effective.server.data_dir + "/rules.json";
  auto rules_changed = changed_at(rules_file);
  int sig = 0;
  const timespec poll{2, 0};
  while (true) {
    sig = sigtimedwait(&signals, nullptr, &poll);
    if (sig == SIGINT || sig == SIGTERM) break;
    if (sig == SIGHUP) {
      // The lists are rebuilt aside while the workers keep answering from
      // the old set, then swapped; a failed build keeps the old set.
      log::info("received SIGHUP, reloading the configuration, lists and local records");
      if (!reload_settings(hooks, cfg, effective, block_store)) {
        runtime.count_reload(false);
        continue;
      }
      runtime.set_block_base(block_settings(effective));  // keeps a dashboard pause
      bool rebuilt = runtime.rebuild_policy(effective, policies);
      if (!rebuilt) log::error("reload failed; the previous lists stay in force");
      runtime.count_reload(rebuilt);
      local.publish(build_local(effective));
      continue;
    }
    auto rules_now = changed_at(rules_file);
    bool rules_moved = rules_now != rules_changed;
    rules_changed = rules_now;
    // SIGUSR1: the dashboard changed a rule; that rebuild covers its file's change.
    if (!runtime.serve_rebuild_requests(effective, policies) && rules_moved) {
      log::info("allow/deny entries changed, rebuilding the blocklists");
      if (!runtime.rebuild_policy(effective, policies)) log::error("rebuild failed; the previous lists stay in force");
    }
    runtime.tick_blocking();
    if (list_updater.tick()) {
      // A subscribed list was added, removed or replaced (here or by `hush
      // lists` in another process): rebuild aside, swap while serving.
      log::info("subscribed lists changed, rebuilding the blocklists");
      if (!runtime.rebuild_policy(effective, policies)) log::error("rebuild failed; the previous lists stay in force");
    }
    // A device moved to other groups, or a grouped device seen at a new address.
    if (std::string groups = fingerprint(device_group_rules(effective.server.data_dir)); groups != device_groups) {
      device_groups = groups;
      log::info("device groups changed, rebuilding the blocklists");
      if (!runtime.rebuild_policy(effective, policies)) log::error("rebuild failed; the previous lists stay in force");
    }
    auto now_changed = changed_at(effective.local.records_file);
    if (now_changed != records_changed) {
      records_changed = now_changed;
      local.publish(build_local(effective));
    }
  }
  log::info("received ", sig == SIGINT ? "SIGINT" : "SIGTERM", ", stopping");
  http.reset();
  for (auto& w : workers) w->stop();
  for (auto& t : running) t.join();
  if (ptr_lookups) ptr_lookups->stop();
  if (log_writer) log_writer->stop();  // stores what the workers handed over
  log_totals(workers);
  return 0;
}

}  // namespace hush

#include "app/serve.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "app/alert_watch.hpp"
#include "app/exports.hpp"
#include "app/list_updater.hpp"
#include "app/memory_budget.hpp"
#include "app/privileges.hpp"
#include "app/server_runtime.hpp"
#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/log.hpp"
#include "cache/cache.hpp"
#include "clients/groups.hpp"
#include "clients/ptr_lookup.hpp"
#include "dnstap/tap.hpp"
#include "net/sockets.hpp"
#include "net/worker.hpp"
#include "policy/inputs.hpp"
#include "querylog/queue.hpp"
#include "querylog/writer.hpp"
#include "tls/server_context.hpp"
#include "validate/anchors.hpp"
#include "validate/validator.hpp"
#include "hush/blocklists/data_dir.h"

namespace hush {

namespace {

void log_totals(const ServerRuntime& runtime) {
  Counters sum;
  runtime.totals(sum);
  log::info("stopped after ", sum.queries_udp.load(), " UDP, ", sum.queries_tcp.load(), " TCP, ",
            sum.queries_dot.load(), " DoT and ", sum.queries_doh.load(), " DoH queries: ", sum.cache_hits.load(),
            " from cache, ", sum.forwarded.load(),
            " forwarded, ", sum.servfail.load(), " SERVFAIL, ",
            sum.formerr.load() + sum.notimp.load() + sum.badvers.load(), " malformed, ",
            sum.dropped.load(), " dropped");
}

std::string address_list(const std::vector<sockaddr_storage>& addrs) {
  std::string out;
  for (const auto& a : addrs) out += (out.empty() ? "" : ", ") + format_address(a);
  return out;
}

std::string upstream_list(const std::vector<upstream::Server>& servers) {
  std::string out;
  for (const upstream::Server& s : servers) out += (out.empty() ? "" : ", ") + s.text;
  return out;
}

// The data directory exists and server.user names a user (or none).
bool check_data_dir_and_user(const Config& cfg, std::optional<RunAs>& run_as) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.server.data_dir, ec);
  if (ec) {
    log::error("cannot create data directory ", cfg.server.data_dir, ": ", ec.message());
    return false;
  }
  std::string error;
  run_as = user_to_run_as(cfg.server.user, error);
  if (!error.empty()) log::error(error);
  return error.empty();
}

// One set of listening sockets per worker (SO_REUSEPORT), after checking
// that no other program holds the ports, so the message can name it.
bool open_sockets(const Config& cfg, std::vector<net::ListenSockets>& sockets) {
  if (std::string error; !net::ports_free(cfg.listen_addrs, cfg.dot_addrs, cfg.doh_addrs, error)) {
    log::error(error);
    return false;
  }
  for (auto& s : sockets) {
    std::string error;
    if (!net::open_listen_sockets(cfg.listen_addrs, cfg.dot_addrs, cfg.doh_addrs, s, error)) {
      log::error(error);
      for (auto& opened : sockets) net::close_sockets(opened);
      return false;
    }
  }
  return true;
}

// The certificate for DNS over TLS: read again on SIGHUP (`force`) and when
// its files change, so a renewal needs no restart; a pair that does not load
// leaves the one in use serving.
void reload_certificate(tls::ServerContext* tls, bool force) {
  if (!tls) return;
  std::string error;
  switch (tls->reload(force, error)) {
    case tls::ServerContext::Reload::Reloaded:
      log::info("DNS over TLS: certificate read again, for ", tls->subject());
      break;
    case tls::ServerContext::Reload::Failed:
      log::error("DNS over TLS: ", error, "; the certificate in use stays");
      break;
    case tls::ServerContext::Reload::Unchanged:
      break;
  }
}

// Root was needed for the ports (below 1024) only: from here on hush runs
// as server.user, before any thread starts or any list is read.
bool become_user(const Config& cfg, const std::optional<RunAs>& run_as) {
  if (!run_as) {
    if (::geteuid() == 0 && !(cfg.server.user && cfg.server.user->empty()))
      log::warn("running as root: create a system user 'hush' (the package does) or set server.user");
    return true;
  }
  std::string error;
  if (!drop_privileges(*run_as, cfg.server.data_dir, error)) {
    log::error("cannot switch to user ", run_as->name, ": ", error);
    return false;
  }
  log::info("running as user ", run_as->name, " (uid ", run_as->uid, ")");
  if (::access(cfg.server.data_dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    log::error("user ", run_as->name, " cannot use the data directory ", cfg.server.data_dir,
               " (check the permissions of the directories above it)");
    return false;
  }
  return true;
}

// The signals the main loop waits for. Blocked before any thread starts, so
// every thread inherits the mask and only sigtimedwait takes them.
sigset_t block_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);  // the dashboard asks for a policy rebuild
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

// The query log: each worker hands records to its own ring and never waits;
// one writer thread stores them in SQLite in batches. Device names come from
// hosts files and leases, and from reverse lookups at the router.
struct QueryLog {
  std::unique_ptr<querylog::LogQueue> queue;
  std::unique_ptr<querylog::Writer> writer;
  std::unique_ptr<clients::PtrLookups> ptr_lookups;

  void start(const Config& cfg, unsigned workers) {
    if (!cfg.querylog.enabled) return;
    querylog::Options qo;
    qo.path = database_path(cfg.server.data_dir);
    qo.raw_retention_s = int64_t(cfg.querylog.retention_days) * 86400;
    qo.aggregate_retention_s = int64_t(cfg.querylog.aggregate_retention_days) * 86400;
    qo.anonymous = cfg.querylog.anonymous;
    qo.ignore_clients = cfg.querylog.ignore_clients;
    qo.ignore_domains = cfg.querylog.ignore_domains;
    qo.queue_per_worker = cfg.querylog.queue_size;
    qo.max_devices = cfg.querylog.max_devices;
    qo.max_size_bytes = int64_t(cfg.querylog.max_size_mib) << 20;
    queue = std::make_unique<querylog::LogQueue>(workers, qo.queue_per_worker);
    clients::Sources names;
    names.hosts_file = cfg.device_names.hosts_file;
    names.dnsmasq_leases = cfg.device_names.dnsmasq_leases;
    names.isc_leases = cfg.device_names.isc_leases;
    querylog::WriterHooks wh;
    wh.read_clients = [names] { return clients::read_inputs(names); };
    writer = std::make_unique<querylog::Writer>(qo, *queue, wh);
    writer->start();
    if (!qo.anonymous) start_ptr_lookups(cfg);
  }

  // Device names from reverse lookups at the router (devices.router, or a
  // [[forward]] reverse zone's servers), as Pi-hole's conditional forwarding.
  void start_ptr_lookups(const Config& cfg) {
    bool reverse_zone = false;
    for (const auto& f : cfg.forwards)
      reverse_zone = reverse_zone || f.domain.ends_with("in-addr.arpa") || f.domain.ends_with("ip6.arpa");
    if (!cfg.router_addr && !reverse_zone) return;
    querylog::Writer* w = writer.get();
    clients::PtrLookupHooks ph;
    ph.due = [w](int64_t now_s) { return w->ptr_due(now_s); };
    ph.answered = [w](const std::string& ip, const std::string& name) { w->ptr_answered(ip, name); };
    ph.server_for = [router = cfg.router_addr, forwards = cfg.forwards](const std::string& ip) {
      return clients::ptr_server_for(ip, router, forwards);
    };
    ptr_lookups = std::make_unique<clients::PtrLookups>(std::move(ph));
    ptr_lookups->start();
  }

  // Stores what the workers handed over; call after they stopped.
  void stop() {
    if (ptr_lookups) ptr_lookups->stop();
    if (writer) writer->stop();
  }
};

// The DNS workers, one per socket set, each on its own thread.
struct Workers {
  std::vector<std::unique_ptr<net::Worker>> workers;
  std::vector<std::thread> threads;

  void start(const Config& cfg, net::Worker::Shared& shared, std::vector<net::ListenSockets>& sockets,
             const Published<BlockSettings>& block_store) {
    for (auto& s : sockets)
      workers.push_back(std::make_unique<net::Worker>(cfg, shared, int(workers.size()), std::move(s)));
    for (auto& w : workers) shared.workers.push_back(w.get());
    for (auto& w : workers) w->follow_block_settings(block_store);
    for (auto& w : workers)
      threads.emplace_back([&w, i = threads.size()] {
        // Named, so that top -H and per-thread CPU figures tell the workers apart.
        pthread_setname_np(pthread_self(), ("hush-dns" + std::to_string(i)).c_str());
        w->run();
      });
  }
  void stop() {
    for (auto& w : workers) w->stop();
    for (auto& t : threads) t.join();
  }
};

// dnstap export when [dnstap] names a collector; null otherwise.
std::unique_ptr<dnstap::Tap> start_dnstap(const Config& cfg, const std::string& version) {
  if (cfg.dnstap.socket.empty() && cfg.dnstap.address.empty()) return nullptr;
  dnstap::Settings s;
  s.socket_path = cfg.dnstap.socket;
  if (!cfg.dnstap.address.empty()) {
    sockaddr_storage ss;
    std::string why;
    parse_address(cfg.dnstap.address, 6000, ss, why);  // checked by resolve()
    std::string text = format_address(ss);
    size_t colon = text.rfind(':');
    s.tcp_host = text.substr(0, colon);
    if (s.tcp_host.size() > 1 && s.tcp_host.front() == '[') s.tcp_host = s.tcp_host.substr(1, s.tcp_host.size() - 2);
    s.tcp_port = text.substr(colon + 1);
  }
  s.queue_per_worker = cfg.dnstap.queue;
  s.identity = cfg.dnstap.identity;
  s.forwarder = cfg.dnstap.forwarder;
  s.version = "hush " + version;
  s.anonymous = cfg.querylog.anonymous;
  s.ignore_clients = cfg.querylog.ignore_clients;
  s.ignore_domains = cfg.querylog.ignore_domains;
  log::info("dnstap: sending every answer", s.forwarder ? " and upstream exchange" : "", " to ",
            s.socket_path.empty() ? cfg.dnstap.address : s.socket_path);
  return std::make_unique<dnstap::Tap>(std::move(s), cfg.server.threads);
}

// SIGHUP: reads the configuration again and takes over the keys that can
// change while serving (config.cpp's key table says which) into `current`;
// the others that differ from `startup` are logged as needing a restart.
// Returns false (and changes nothing) when the new configuration has problems.
bool reload_settings(const ServeHooks& hooks, const Config& startup, Config& current) {
  if (!hooks.reload) return true;  // no file to read: rebuild the lists as they are
  Config next;
  std::vector<std::string> errors;
  if (!hooks.reload(next, errors)) {
    for (const std::string& e : errors) log::error(e);
    log::error("reload failed: the configuration has problems; the settings in force stay");
    return false;
  }
  std::string level = current.server.log_level;
  for (const std::string& key : take_live_keys(startup, next, current))
    log::warn(key, " changed; that needs a restart");
  if (current.server.log_level != level) log::set_level(log::level_named(current.server.log_level));
  return true;
}

// A file's change time, to notice edits made by other processes.
std::optional<std::filesystem::file_time_type> changed_at(const std::string& path) {
  std::error_code ec;
  auto t = std::filesystem::last_write_time(path, ec);
  if (ec) return std::nullopt;
  return t;
}

// What the main loop polls every 2 s for changes made elsewhere: by the
// dashboard (SIGUSR1), by other processes (`hush report block` writes
// rules.json, `hush timed` and `hush services` controls.json, `hush schedule`
// schedules.json, `hush clients group` the device groups, `hush lists` the subscriptions, `hush local add`
// the records file) and by the clock.
struct Watches {
  std::string rules_file, controls_file, schedules_file;
  std::optional<std::filesystem::file_time_type> rules_changed, controls_changed, schedules_changed, records_changed;
  // The subscriptions create the database when it is missing, so the
  // groups' connection opens at once and the descriptors stay as they start.
  ListUpdater lists;  // subscriptions: due downloads on its own thread
  clients::GroupsWatch groups;

  explicit Watches(const Config& cfg)
      : rules_file(cfg.server.data_dir + "/rules.json"),
        controls_file(cfg.server.data_dir + "/controls.json"),
        schedules_file(cfg.server.data_dir + "/schedules.json"),
        rules_changed(changed_at(rules_file)),
        controls_changed(changed_at(controls_file)),
        schedules_changed(changed_at(schedules_file)),
        records_changed(changed_at(cfg.local.records_file)),
        lists(cfg),
        groups(cfg.server.data_dir) {}

  // True when `path`'s change time moved since `seen`, which it updates.
  static bool moved(const std::string& path, std::optional<std::filesystem::file_time_type>& seen) {
    auto now = changed_at(path);
    bool differs = now != seen;
    seen = now;
    return differs;
  }
};

// SIGHUP: the lists are rebuilt aside while the workers keep answering from
// the old set, then swapped; a failed build keeps the old set.
// SIGHUP: the trust anchors are read again, so a root key rollover that
// dns-root-data's update brings takes effect without a restart; a file that
// cannot be read keeps the anchors in force.
void reload_anchors(const Config& cfg, validate::Validator* validator) {
  if (!validator) return;
  std::vector<validate::Anchor> anchors;
  std::string why;
  if (!validate::read_anchors(cfg.dnssec.trust_anchor, anchors, why)) {
    log::error("dnssec.trust_anchor: ", why, "; the trust anchors in force stay");
    return;
  }
  log::info("DNSSEC: ", anchors.size(), " trust anchor(s) read again from ", cfg.dnssec.trust_anchor);
  validator->set_anchors(std::move(anchors));
}

void reload(const ServeHooks& hooks, const Config& startup, Config& current, ServerRuntime& runtime,
            LocalStore& local, validate::Validator* validator, Alerting& alerting) {
  log::info("received SIGHUP, reloading the configuration, lists and local records");
  runtime.reload_began();
  reload_anchors(current, validator);
  if (!reload_settings(hooks, startup, current)) {
    runtime.count_reload(false);
    return;
  }
  alerting.apply(current);
  runtime.set_block_base(block_settings(current));  // keeps a dashboard pause
  bool rebuilt = runtime.rebuild_policy(current);
  if (!rebuilt) log::error("reload failed; the previous lists stay in force");
  runtime.count_reload(rebuilt);
  local.publish(policy::build_local(current));
}

// One pass over the watches: at most one policy rebuild, however many
// inputs changed together.
void poll_changes(const Config& cfg, Watches& w, ServerRuntime& runtime, LocalStore& local,
                  tls::ServerContext* tls) {
  reload_certificate(tls, false);
  bool rules = Watches::moved(w.rules_file, w.rules_changed);
  bool controls = Watches::moved(w.controls_file, w.controls_changed);
  bool schedules = Watches::moved(w.schedules_file, w.schedules_changed);
  bool lists = w.lists.tick();
  bool groups = w.groups.changed();
  // Last, so the rebuild the dashboard asked for covers what changed above.
  bool asked = runtime.serve_rebuild_requests(cfg);
  runtime.tick_blocking();
  if (!asked && (rules || controls || schedules || lists || groups))
    runtime.rebuild_because(cfg, rules       ? "allow/deny entries changed"
                                 : controls  ? "timed exceptions or services changed"
                                 : schedules ? "schedules changed"
                                 : lists     ? "subscribed lists changed"
                                             : "device groups changed");
  else if (!asked)
    runtime.tick_controls(cfg, now_seconds());
  if (Watches::moved(cfg.local.records_file, w.records_changed)) local.publish(policy::build_local(cfg));
}

// Waits for signals and polls the watches until SIGINT or SIGTERM; returns that signal.
int main_loop(const ServeHooks& hooks, const Config& startup, Config& current, const sigset_t& signals,
              ServerRuntime& runtime, LocalStore& local, Watches& watches, validate::Validator* validator,
              MemoryBudget& budget, tls::ServerContext* tls, Alerting& alerting) {
  while (true) {
    // Every 2 s, or sooner when a timed exception or pause ends or a
    // schedule's window opens or closes before that: the edge is a timer
    // here, never a clock read per query.
    // Counted in milliseconds, so the rebuild starts as the edge's second
    // begins rather than up to a second after it.
    timespec poll{2, 0};
    if (int64_t edge = runtime.next_edge(); edge) {
      int64_t ms = std::clamp<int64_t>(edge * 1000 - now_us() / 1000, 0, 2000);
      poll = {time_t(ms / 1000), long(ms % 1000) * 1000000};
    }
    int sig = sigtimedwait(&signals, nullptr, &poll);
    if (sig == SIGINT || sig == SIGTERM) return sig;
    if (sig == SIGHUP) {
      reload(hooks, startup, current, runtime, local, validator, alerting);
      reload_certificate(tls, true);
    } else {
      poll_changes(current, watches, runtime, local, tls);
    }
    budget.tick(runtime.lists_bytes());
  }
}

}  // namespace

int serve(const Config& cfg, const ServeHooks& hooks) {
  std::optional<RunAs> run_as;
  if (!check_data_dir_and_user(cfg, run_as)) return 1;
  Config effective = cfg;
  if (!effective.server.threads) effective.server.threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<net::ListenSockets> sockets(effective.server.threads);
  // Read before dropping privileges, like the listen sockets.
  std::vector<validate::Anchor> anchors;
  if (effective.dnssec.validate) {
    std::string why;
    if (!validate::read_anchors(effective.dnssec.trust_anchor, anchors, why)) {
      log::error("dnssec.trust_anchor: ", why);
      return 1;
    }
  }
  // Read before dropping privileges too; later reads need the files
  // readable by server.user.
  std::unique_ptr<tls::ServerContext> tls;
  if (!effective.dot_addrs.empty() || !effective.doh_addrs.empty()) {
    tls = std::make_unique<tls::ServerContext>();
    tls->set_server_name(effective.tls.server_name);
    if (std::string why; !tls->load(effective.tls.cert, effective.tls.key, why)) {
      log::error("DNS over TLS: ", why);
      return 1;
    }
  }
  if (!open_sockets(effective, sockets) || !become_user(cfg, run_as)) return 1;
  const sigset_t signals = block_signals();
  // Watching starts before the first build, so no change falls between them.
  // It also creates the database (subscriptions) before the query log's
  // writer thread opens it, so the two never race to set it up.
  Watches watches(effective);
  if (hooks.prepare) hooks.prepare(effective);
  QueryLog query_log;
  query_log.start(effective, effective.server.threads);
  PolicyStore policies;
  std::vector<metrics::ListInfo> startup_lists;
  int64_t startup_edge = 0;
  auto startup_policy = policy::build_policy(effective, true, &startup_lists, true, &startup_edge);
  policies.publish(startup_policy);
  Published<BlockSettings> block_store;  // SIGHUP and the dashboard publish new blocking settings here
  block_store.publish(std::make_shared<const BlockSettings>(block_settings(effective)));
  LocalStore local;
  local.publish(policy::build_local(effective));
  cache::Cache cache(effective.cache.max_entries, {effective.cache.min_ttl, effective.cache.max_ttl,
                                                   effective.cache.negative_max_ttl, effective.cache.stale_max});
  if (effective.cache.prefetch) cache.set_prefetch({effective.cache.prefetch_max_inflight});
  RateLimiter limiter;
  net::Worker::Shared shared{cache, policies, block_settings(effective), limiter, local, {}, {}};
  shared.log_queue = query_log.queue.get();
  shared.tls = tls.get();
  std::unique_ptr<dnstap::Tap> tap = start_dnstap(effective, hooks.version);
  shared.tap = tap.get();
  std::unique_ptr<logexport::Exporter> exporter = start_export(effective, effective.server.threads);
  shared.export_queue = exporter ? &exporter->queue() : nullptr;
  validate::KeyCache dnssec_keys(effective.dnssec.key_cache_entries);
  std::optional<validate::Validator> validator;
  if (effective.dnssec.validate) {
    log::info("DNSSEC validation on, ", anchors.size(), " trust anchor(s) from ", effective.dnssec.trust_anchor);
    shared.validator = &validator.emplace(std::move(anchors), dnssec_keys);
  }

  Workers workers;
  workers.start(effective, shared, sockets, block_store);
  ServerRuntime runtime(effective, workers.workers, cache, policies, block_store, hooks.version);
  if (query_log.writer)
    runtime.querylog_counts = [w = query_log.writer.get()] {
      auto st = w->stats();
      return metrics::Snapshot::QueryLog{st.dropped_queue + st.dropped_storage, st.over_device_cap};
    };
  if (query_log.writer)
    runtime.read_neighbours = [w = query_log.writer.get()] { return w->neighbours(); };
  if (tap)
    runtime.dnstap_counts = [t = tap.get()] {
      dnstap::Stats st = t->stats();
      return metrics::Snapshot::Dnstap{st.sent, st.dropped};
    };
  if (exporter)
    runtime.export_counts = [x = exporter.get()] {
      logexport::Stats st = x->stats();
      return metrics::Snapshot::Export{st.sent, st.dropped};
    };
  // A new version of the primary's settings is in the data directory: in
  // force at once, as after a restore from the dashboard.
  std::unique_ptr<sync::Follower> follower =
      start_sync(
          effective, hooks.version,
          [&runtime] {
            Counters sum;
            runtime.totals(sum);
            return std::pair<uint64_t, uint64_t>(sum.answered.load(), sum.blocked.load());
          },
          [&runtime] { runtime.request_policy_rebuild(std::chrono::seconds(10)); },
                 [&runtime] { return runtime.request_reload(std::chrono::seconds(30)); });
  if (follower)
    runtime.sync = [f = follower.get()] {
      sync::Status st = f->status();
      return Runtime::SyncState{st.primary, st.version, st.applied_unix, st.heard_unix, st.error, st.needs_restart};
    };
  runtime.set_lists(std::move(startup_lists), startup_edge);
  Alerting alerting = start_alerting(effective, runtime, query_log.writer.get());
  log::info("listening on ", address_list(effective.listen_addrs), " (udp+tcp, ", effective.server.threads,
            " threads), upstream ", upstream_list(effective.upstream_servers));
  if (!effective.dot_addrs.empty())
    log::info("DNS over TLS on ", address_list(effective.dot_addrs), ", certificate for ", tls->subject());
  if (!effective.doh_addrs.empty())
    log::info("DNS over HTTPS on ", address_list(effective.doh_addrs), " (/dns-query), certificate for ",
              tls->subject());
  MemoryBudget budget(size_t(effective.server.memory_budget_mib) * memory::kMiB, cache, query_log.writer.get());
  budget.start(runtime.lists_bytes());
  runtime.memory = [&budget](size_t lists_bytes) { return budget.snapshot(lists_bytes); };
  std::shared_ptr<void> http = hooks.start_http ? hooks.start_http(runtime, effective) : nullptr;
  // Lists compiled from text are saved for the next start now that the
  // workers answer: the write no longer delays the first answer. Signals
  // wait in their queue meanwhile, so a reload cannot write the file too.
  if (startup_policy) {
    if (std::string err = startup_policy->write_cache(); !err.empty()) log::error(err);
    startup_policy.reset();
  }

  int sig = main_loop(hooks, cfg, effective, signals, runtime, local, watches, validator ? &*validator : nullptr,
                      budget, tls.get(), alerting);
  bool restart = runtime.restart_requested();
  log::info("received ", sig == SIGINT ? "SIGINT" : "SIGTERM", restart ? ", restarting" : ", stopping");
  http.reset();
  follower.reset();
  workers.stop();
  query_log.stop();
  exporter.reset();
  alerting.stop();
  runtime.alerts = nullptr;
  log_totals(runtime);
  return restart ? kServeRestart : 0;
}

}  // namespace hush

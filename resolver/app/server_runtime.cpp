#include "app/server_runtime.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/log.hpp"
#include "app/upstream_probe.hpp"
#include "policy/inputs.hpp"

namespace hush {

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

ServerRuntime::ServerRuntime(const Config& cfg, const std::vector<std::unique_ptr<net::Worker>>& workers,
                             const cache::Cache& cache, PolicyStore& policies,
                             Published<BlockSettings>& block_store, std::string version)
    : workers_(workers), cache_(cache), policies_(policies), version_(std::move(version)),
      started_(now_seconds()), block_store_(block_store), block_base_(block_settings(cfg)) {
  config_schedules_ = cfg.schedules;
  for (const upstream::Server& s : cfg.upstream_servers) upstreams_.push_back(s.text);
  bound_ = cfg.listen_addrs;
  bound_.insert(bound_.end(), cfg.dot_addrs.begin(), cfg.dot_addrs.end());
  if (cfg.http_addr) bound_.push_back(*cfg.http_addr);
}

bool ServerRuntime::rebuild_policy(const Config& cfg) {
  std::vector<metrics::ListInfo> lists;
  int64_t edge = 0;
  auto fresh = policy::build_policy(cfg, true, &lists, false, &edge);
  std::lock_guard lock(mu_);
  if (!fresh) return false;
  policies_.publish(std::move(fresh));
  lists_ = std::move(lists);
  loaded_ = now_seconds();
  next_edge_ = edge;
  config_schedules_ = cfg.schedules;
  return true;
}

std::vector<Schedule> ServerRuntime::config_schedules() const {
  std::lock_guard lock(mu_);
  return config_schedules_;
}

int64_t ServerRuntime::next_edge() const {
  std::lock_guard lock(mu_);
  return next_edge_;
}

bool ServerRuntime::tick_controls(const Config& cfg, int64_t now_s) {
  int64_t edge = next_edge();
  if (!edge || now_s < edge) return false;
  auto start = std::chrono::steady_clock::now();
  if (rebuild_policy(cfg)) {
    // How long an edge takes to be in force (BENCHMARKS has it with the 1M list).
    log::info("a timed exception or pause ended or a schedule's window opened or closed: policy published ",
              now_us() / 1000 - edge * 1000, " ms after it (built in ",
              std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count(),
              " ms)");
    return true;
  }
  // A failed build keeps the old policy; try again at the next poll rather
  // than at once in a loop.
  std::lock_guard lock(mu_);
  next_edge_ = now_s + 2;
  return true;
}

void ServerRuntime::rebuild_because(const Config& cfg, const char* why) {
  log::info(why, ", rebuilding the blocklists");
  if (!rebuild_policy(cfg)) log::error("rebuild failed; the previous lists stay in force");
}

void ServerRuntime::set_lists(std::vector<metrics::ListInfo> lists, int64_t next_edge) {
  std::lock_guard lock(mu_);
  next_edge_ = next_edge;
  lists_ = std::move(lists);
  loaded_ = now_seconds();
}

void ServerRuntime::reload_began() {
  std::lock_guard lock(mu_);
  ++reloads_begun_;
}

void ServerRuntime::count_reload(bool ok) {
  {
    std::lock_guard lock(mu_);
    ++(ok ? reloads_ok_ : reloads_failed_);
    last_reload_ok_ = ok;
  }
  reload_cv_.notify_all();
}

bool ServerRuntime::request_reload(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  // A reload already under way may have read the file before the caller's
  // change: wait for one that begins after this call.
  uint64_t ticket = reloads_begun_ + 1;
  pthread_kill(main_thread_, SIGHUP);  // the main loop's sigtimedwait takes it
  if (!reload_cv_.wait_for(lock, timeout, [&] { return reloads_ok_ + reloads_failed_ >= ticket; })) return false;
  return last_reload_ok_;
}

// Whether this process may bind ports below 1024 again after it execs
// itself: root, or CAP_NET_BIND_SERVICE (bit 10) in its effective set, as
// systemd's AmbientCapabilities gives it (ambient capabilities survive exec).
namespace {
bool may_bind_low_ports() {
  if (geteuid() == 0) return true;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("CapEff:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> 10) & 1;
  return false;
}
}  // namespace

bool ServerRuntime::can_restart(std::string& why) const {
  bool low = false;
  for (const sockaddr_storage& a : bound_) {
    uint16_t port = a.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port)
                                            : ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
    low = low || port < 1024;
  }
  if (low && !may_bind_low_ports()) {
    why = "hush dropped the rights to bind its ports below 1024; restart it as it was started (systemctl restart hush)";
    return false;
  }
  return true;
}

void ServerRuntime::request_restart() const {
  log::info("restart asked for from the dashboard: stopping, then starting again with the same command line");
  restart_ = true;
  pthread_kill(main_thread_, SIGTERM);
}

Runtime::Probe ServerRuntime::probe_upstream(const std::string& server, const std::string& name,
                                             std::chrono::milliseconds timeout) const {
  return hush::probe_upstream(server, name, timeout);
}

void ServerRuntime::totals(Counters& out) const {
  for (const auto& w : workers_) accumulate(out, w->counters());
}

Runtime::Blocking ServerRuntime::blocking() const {
  std::lock_guard lock(block_mu_);
  return {block_override_.value_or(block_base_.enabled), block_override_ ? block_until_ : 0};
}

void ServerRuntime::set_blocking(bool enabled, int64_t seconds) const {
  std::lock_guard lock(block_mu_);
  if (enabled == block_base_.enabled && enabled) {
    block_override_.reset();
    block_until_ = 0;
  } else {
    block_override_ = enabled;
    block_until_ = !enabled && seconds > 0 ? now_seconds() + seconds : 0;
  }
  publish_blocking();
}

void ServerRuntime::set_block_base(const BlockSettings& b) {
  std::lock_guard lock(block_mu_);
  block_base_ = b;
  publish_blocking();
}

void ServerRuntime::tick_blocking() {
  std::lock_guard lock(block_mu_);
  if (!block_override_ || !block_until_ || now_seconds() < block_until_) return;
  log::info("blocking pause ended, blocking again");
  block_override_.reset();
  block_until_ = 0;
  publish_blocking();
}

void ServerRuntime::publish_blocking() const {
  BlockSettings b = block_base_;
  if (block_override_) b.enabled = *block_override_;
  block_store_.publish(std::make_shared<const BlockSettings>(b));
}

bool ServerRuntime::request_policy_rebuild(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(rebuild_mu_);
  uint64_t ticket = ++rebuild_asked_;
  pthread_kill(main_thread_, SIGUSR1);  // wakes the main loop's sigtimedwait
  if (!rebuild_cv_.wait_for(lock, timeout, [&] { return rebuild_done_ >= ticket; })) return false;
  return rebuild_ok_;
}

bool ServerRuntime::serve_rebuild_requests(const Config& cfg) {
  uint64_t asked;
  {
    std::lock_guard lock(rebuild_mu_);
    asked = rebuild_asked_;
    if (asked == rebuild_done_) return false;
  }
  log::info("rebuilding the blocklists (dashboard change)");
  bool ok = rebuild_policy(cfg);
  {
    std::lock_guard lock(rebuild_mu_);
    rebuild_done_ = asked;
    rebuild_ok_ = ok;
  }
  rebuild_cv_.notify_all();
  return true;
}

size_t ServerRuntime::blocked_names() const {
  auto p = policies_.current();
  return p ? p->entry_count() : 0;
}

size_t ServerRuntime::lists_bytes() const {
  auto p = policies_.current();
  return p ? p->memory_bytes() : 0;
}

std::vector<metrics::ListInfo> ServerRuntime::lists() const {
  std::lock_guard lock(mu_);
  return lists_;
}

std::vector<alerts::SinkStatus> ServerRuntime::alert_sinks() const {
  const alerts::Dispatcher* d = alerts.load();
  return d ? d->status() : std::vector<alerts::SinkStatus>{};
}

std::string ServerRuntime::metrics_text() const {
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
  if (querylog_counts) s.querylog = querylog_counts();
  if (dnstap_counts) s.dnstap = dnstap_counts();
  if (export_counts) s.log_export = export_counts();
  if (sync) {
    SyncState st = sync();
    s.sync = metrics::Snapshot::Sync{st.version, st.heard_unix};
  }
  if (const alerts::Dispatcher* d = alerts.load()) {
    alerts::Dispatcher::Counts c = d->counts();
    uint64_t outbox_drops = 0;
    for (const alerts::SinkStatus& st : d->status()) outbox_drops += st.dropped;
    s.alerts = metrics::Snapshot::Alerts{c.posted, c.dropped + outbox_drops, c.sent, c.failed};
  }
  if (memory) s.memory = memory(s.policy_bytes);
  s.now_unix = now_seconds();
  s.version = version_;
  std::string out;
  metrics::render(s, out);
  return out;
}

}  // namespace hush

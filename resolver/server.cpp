#include "server.hpp"

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "address.hpp"
#include "cache/cache.hpp"
#include "log.hpp"
#include "net/worker.hpp"
#include "policy_store.hpp"

namespace hush {

namespace {

void log_totals(const std::vector<std::unique_ptr<net::Worker>>& workers) {
  Counters sum;
#define HUSH_SUM(name)                                                             \
  for (const auto& w : workers)                                                    \
    sum.name += w->counters().name.load(std::memory_order_relaxed);
  HUSH_COUNTERS(HUSH_SUM)
#undef HUSH_SUM
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

}  // namespace

std::shared_ptr<const blocklists::Policy> build_policy(const Config& cfg, bool persist) {
  blocklists::BuildReport report;
  blocklists::PolicyConfig pc = cfg.policy_config();
  if (!persist) pc.compiled_cache_path.clear();
  auto policy = blocklists::Policy::build(pc, &report);
  for (const std::string& e : report.errors) log::error(e);
  for (const blocklists::ListReport& l : report.lists) {
    if (!l.error.empty()) {
      log::error("list ", l.name, " (", l.path, "): ", l.error);
      continue;
    }
    log::info("list ", l.name, ": ", l.entries, " rules from ", l.stats.lines, " lines, ",
              l.stats.invalid, " invalid", l.stats.skipped_browser ? ", " : "",
              l.stats.skipped_browser ? std::to_string(l.stats.skipped_browser) + " browser-only skipped" : "");
    for (const blocklists::InvalidLine& bad : l.stats.first_invalid)
      log::warn(l.path, ":", bad.line, ": ", bad.reason, ": ", bad.text);
  }
  if (policy)
    log::info("blocking ", report.unique_entries, " names from ", report.lists.size(), " lists (",
              policy->memory_bytes() / 1024, " KiB, ", int(report.build_ms), " ms",
              report.from_cache ? ", from the compiled cache" : "", ")");
  return policy;
}

int serve(const Config& cfg) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.server.data_dir, ec);
  if (ec) {
    log::error("cannot create data directory ", cfg.server.data_dir, ": ", ec.message());
    return 1;
  }
  unsigned threads = cfg.server.threads ? cfg.server.threads : std::max(1u, std::thread::hardware_concurrency());
  Config effective = cfg;
  effective.server.threads = threads;

  std::vector<net::ListenSockets> sockets(threads);
  for (auto& s : sockets) {
    std::string error;
    if (!net::open_listen_sockets(effective.listen_addrs, s, error)) {
      log::error(error);
      for (auto& opened : sockets) net::close_sockets(opened);
      return 1;
    }
  }

  // Workers inherit this mask: signals are taken only by sigwait below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  PolicyStore policies;
  policies.publish(build_policy(effective, true));
  cache::Cache cache(effective.cache.max_entries,
                     {effective.cache.min_ttl, effective.cache.max_ttl, effective.cache.negative_max_ttl});
  RateLimiter limiter;
  std::vector<std::unique_ptr<net::Worker>> workers;
  for (auto& s : sockets)
    workers.push_back(std::make_unique<net::Worker>(effective, cache, policies,
                                                    block_settings(effective), limiter, std::move(s)));
  std::vector<std::thread> running;
  for (auto& w : workers) running.emplace_back([&w] { w->run(); });

  std::string addrs;
  for (const auto& a : effective.listen_addrs) addrs += (addrs.empty() ? "" : ", ") + format_address(a);
  std::string ups;
  for (const auto& a : effective.upstream_addrs) ups += (ups.empty() ? "" : ", ") + format_address(a);
  log::info("listening on ", addrs, " (udp+tcp, ", threads, " threads), upstream ", ups);

  int sig = 0;
  // SIGHUP rebuilds the lists aside while the workers keep answering from the
  // old set, then swaps; a failed build keeps the old set.
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    log::info("received SIGHUP, reloading lists");
    if (auto fresh = build_policy(effective, true))
      policies.publish(std::move(fresh));
    else
      log::error("reload failed; the previous lists stay in force");
  }
  log::info("received ", sig == SIGINT ? "SIGINT" : "SIGTERM", ", stopping");
  for (auto& w : workers) w->stop();
  for (auto& t : running) t.join();
  log_totals(workers);
  return 0;
}

}  // namespace hush

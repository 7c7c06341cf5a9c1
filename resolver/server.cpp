#include "server.hpp"

#include <pthread.h>
#include <signal.h>

#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "address.hpp"
#include "cache/cache.hpp"
#include "log.hpp"
#include "net/worker.hpp"

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

}  // namespace

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
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  cache::Cache cache(effective.cache.max_entries,
                     {effective.cache.min_ttl, effective.cache.max_ttl, effective.cache.negative_max_ttl});
  std::vector<std::unique_ptr<net::Worker>> workers;
  for (auto& s : sockets) workers.push_back(std::make_unique<net::Worker>(effective, cache, std::move(s)));
  std::vector<std::thread> running;
  for (auto& w : workers) running.emplace_back([&w] { w->run(); });

  std::string addrs;
  for (const auto& a : effective.listen_addrs) addrs += (addrs.empty() ? "" : ", ") + format_address(a);
  std::string ups;
  for (const auto& a : effective.upstream_addrs) ups += (ups.empty() ? "" : ", ") + format_address(a);
  log::info("listening on ", addrs, " (udp+tcp, ", threads, " threads), upstream ", ups);

  int sig = 0;
  sigwait(&signals, &sig);
  log::info("received ", sig == SIGINT ? "SIGINT" : "SIGTERM", ", stopping");
  for (auto& w : workers) w->stop();
  for (auto& t : running) t.join();
  log_totals(workers);
  return 0;
}

}  // namespace hush

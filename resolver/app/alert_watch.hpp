// What turns the server's state into alert events, on one thread of its own
// (never a DNS worker's): after each write of the query log, the phone-home
// feed's first contacts since a few minutes ago (a company new to a device,
// a device asking for an encrypted-DNS resolver) and the devices first seen
// then, read back from what the log writer stored; every few seconds the
// upstreams' answer and failure totals; every half minute the data
// directory's free space; every ten minutes the subscriptions.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "alerts/dispatcher.hpp"
#include "alerts/health.hpp"
#include "config/config.hpp"

namespace hush {

class ServerRuntime;
namespace querylog {
class Writer;
}
namespace report {
class ReportReader;
class CompanyMap;
}  // namespace report

class AlertWatch {
 public:
  struct Sources {
    // Batches and per-day totals the query-log writer has stored (null: no
    // query log). A change is what makes the log worth reading again.
    std::function<uint64_t()> log_writes;
    // Answers and failures per upstream server since the start.
    std::function<void(std::vector<uint64_t>& answers, std::vector<uint64_t>& failures)> upstreams;
  };
  AlertWatch(const Config& cfg, alerts::Dispatcher& out, Sources sources);
  ~AlertWatch();  // stop()
  void start();
  void stop();

 private:
  void round(int64_t now_us);
  void read_log(int64_t now_us);
  void check_upstreams(int64_t now_us);
  void check_disk(int64_t now_us);
  void check_subscriptions(int64_t now_us);
  void post(alerts::Kind kind, std::string key, std::string title, std::string text, int64_t time_us,
            std::map<std::string, std::string> fields);

  Config cfg_;
  alerts::Dispatcher& out_;
  Sources sources_;
  int64_t started_us_;
  std::shared_ptr<const report::CompanyMap> map_;
  std::unique_ptr<report::ReportReader> reader_;
  uint64_t log_writes_seen_ = 0;
  int64_t log_read_at_ = 0, upstreams_at_ = 0, disk_at_ = 0, subscriptions_at_ = 0;
  alerts::UpstreamHealth upstream_health_;
  alerts::DiskHealth disk_health_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// The dispatcher and the watch of a running server; empty without [[alerts.sink]].
struct Alerting {
  std::unique_ptr<alerts::Dispatcher> dispatcher;
  std::unique_ptr<AlertWatch> watch;
  ServerRuntime* runtime = nullptr;
  const querylog::Writer* writer = nullptr;
  // SIGHUP: `cfg`'s [[alerts.sink]] tables take over from the sinks in force
  // (Dispatcher::set_sinks), or start alerting when there were none.
  void apply(const Config& cfg);
  // The watch first, so no event is posted to a stopped dispatcher.
  void stop();
};
// Starts both and shows the dispatcher in `runtime` (/metrics, dashboard).
// `writer` may be null (no query log).
Alerting start_alerting(const Config& cfg, ServerRuntime& runtime, const querylog::Writer* writer);

}  // namespace hush

#include "app/alert_watch.hpp"

#include <pthread.h>
#include <sys/statvfs.h>

#include <chrono>

#include "app/server_runtime.hpp"
#include "base/clock.hpp"
#include "base/log.hpp"
#include "hush/blocklists/data_dir.h"
#include "hush/blocklists/subscriptions/subscriptions.h"
#include "querylog/writer.hpp"
#include "report/bypass.hpp"
#include "report/companies.hpp"
#include "report/report.hpp"

namespace hush {

namespace {
// The log writer stores a device's first contact with a name (device_domains)
// within a minute of the query, usually within a second: contacts are read
// back this far, and the dispatcher's de-duplication drops the repeats.
constexpr int64_t kLookbackUs = 5 * kMinuteUs;
constexpr size_t kContactsPerRead = 200;
constexpr size_t kDevicesPerRead = 64;
// The log is read back as soon as the writer has stored something new (it
// checks the writer's counters every kPollMs), but not more often than
// this: a first contact reaches the sinks some 50-150 ms after the writer
// stored it, which it does within its 50 ms poll while the log is quiet and
// within its one-second commit interval under steady traffic.
constexpr int64_t kLogEveryUs = kSecondUs / 10;
constexpr int kPollMs = 50;
constexpr int64_t kUpstreamsEveryUs = 5 * kSecondUs;
constexpr int64_t kDiskEveryUs = 30 * kSecondUs;
constexpr int64_t kSubscriptionsEveryUs = 10 * kMinuteUs;
constexpr int64_t kSubscriptionFailingUs = kDayUs;
}  // namespace

AlertWatch::AlertWatch(const Config& cfg, alerts::Dispatcher& out, Sources sources)
    : cfg_(cfg), out_(out), sources_(std::move(sources)), started_us_(now_us()) {}

AlertWatch::~AlertWatch() { stop(); }

void AlertWatch::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "hush-alertwatch");
    for (;;) {
      round(now_us());
      std::unique_lock<std::mutex> lock(mu_);
      if (wake_.wait_for(lock, std::chrono::milliseconds(kPollMs), [this] { return stopping_; })) break;
    }
  });
}

void AlertWatch::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AlertWatch::post(alerts::Kind kind, std::string key, std::string title, std::string text, int64_t time_us,
                      std::map<std::string, std::string> fields) {
  alerts::Event e;
  e.kind = kind;
  e.key = std::string(alerts::kind_name(kind)) + ":" + key;
  e.title = std::move(title);
  e.text = std::move(text);
  e.time_ms = time_us / 1000;
  e.fields = std::move(fields);
  out_.post(std::move(e));
}

void AlertWatch::round(int64_t now_us) {
  using alerts::Kind;
  if (sources_.log_writes && now_us - log_read_at_ >= kLogEveryUs &&
      (out_.wanted(Kind::FirstContact) || out_.wanted(Kind::NewDevice) || out_.wanted(Kind::EncryptedDns))) {
    uint64_t writes = sources_.log_writes();
    // Nothing new stored, nothing new to find; but the per-device totals
    // are written on their own schedule, so a quiet log is read now and then.
    if (writes != log_writes_seen_ || now_us - log_read_at_ >= 10 * kSecondUs) {
      log_writes_seen_ = writes;
      log_read_at_ = now_us;
      read_log(now_us);
    }
  }
  if (sources_.upstreams && out_.wanted(Kind::UpstreamsFailing) && now_us - upstreams_at_ >= kUpstreamsEveryUs) {
    upstreams_at_ = now_us;
    check_upstreams(now_us);
  }
  if (out_.wanted(Kind::DiskLow) && now_us - disk_at_ >= kDiskEveryUs) {
    disk_at_ = now_us;
    check_disk(now_us);
  }
  if (out_.wanted(Kind::SubscriptionFailing) && now_us - subscriptions_at_ >= kSubscriptionsEveryUs) {
    subscriptions_at_ = now_us;
    check_subscriptions(now_us);
  }
}

void AlertWatch::read_log(int64_t now_us) {
  using alerts::Kind;
  std::string error;
  if (!reader_) {
    if (!map_) {
      std::vector<std::string> errors;
      map_ = report::CompanyMap::with_overrides(
          cfg_.report.overrides.empty() ? report::default_overrides_path(cfg_.server.data_dir) : cfg_.report.overrides,
          errors);
    }
    reader_ = report::ReportReader::open(database_path(cfg_.server.data_dir), map_, error);
    if (!reader_) return;  // not created yet: the next round tries again
  }
  const int64_t since = std::max(started_us_, now_us - kLookbackUs);
  if (out_.wanted(Kind::FirstContact) || out_.wanted(Kind::EncryptedDns)) {
    for (const report::NewContact& c : reader_->new_contacts(std::nullopt, since, kContactsPerRead, error)) {
      const std::string device = std::to_string(c.device_id);
      if (c.kind == report::NewContact::Kind::Company && c.known) {
        post(Kind::FirstContact, device + ":" + c.company_key, c.device + " contacted " + c.company + " for the first time",
             "Device: " + c.device + "\nCompany: " + c.company + "\nFirst name asked: " + c.name +
                 (c.category.empty() ? "" : "\nCategory: " + c.category) + "\n",
             c.time_us, {{"device", c.device}, {"device_id", device}, {"company", c.company}, {"name", c.name}});
      } else if (c.kind == report::NewContact::Kind::Name) {
        std::string_view resolver = report::encrypted_resolver(c.name);
        if (resolver.empty()) continue;
        post(Kind::EncryptedDns, device + ":" + c.name, c.device + " asked for " + std::string(resolver),
             "Device: " + c.device + "\nName: " + c.name + "\nResolver: " + std::string(resolver) +
                 "\nIt may be sending its other questions there, where hush neither sees nor blocks them.\n",
             c.time_us, {{"device", c.device}, {"device_id", device}, {"name", c.name}, {"resolver", std::string(resolver)}});
      }
    }
    if (!error.empty()) {
      log::warn("alerts: cannot read the query log: ", error);
      reader_.reset();  // opened again next round
      return;
    }
  }
  if (out_.wanted(Kind::NewDevice)) {
    sqlite::Error err;
    querylog::DevicePage page = reader_->log().device_page(now_us, kDevicesPerRead, std::nullopt, err);
    for (const querylog::Device& d : page.devices) {
      if (d.first_seen_us < since || d.key == "overflow") continue;
      std::string address = d.addresses.empty() ? "" : d.addresses.front();
      post(Kind::NewDevice, d.key, "New device: " + d.name,
           "Device: " + d.name + (address.empty() ? "" : "\nAddress: " + address) +
               (d.mac.empty() ? "" : "\nMAC: " + d.mac) + "\n",
           d.first_seen_us, {{"device", d.name}, {"device_id", std::to_string(d.id)}, {"address", address}});
    }
  }
}

void AlertWatch::check_upstreams(int64_t now_us) {
  std::vector<uint64_t> answers, failures;
  sources_.upstreams(answers, failures);
  int64_t since_ms = upstream_health_.update(answers, failures, now_us / 1000);
  if (!since_ms) return;
  std::string servers;
  for (const auto& s : cfg_.upstream_servers) servers += (servers.empty() ? "" : ", ") + s.text;
  post(alerts::Kind::UpstreamsFailing, std::to_string(since_ms), "No upstream server answers",
       "Every question hush forwarded since " + std::to_string((now_us / 1000 - since_ms) / 1000) +
           " s ago failed. Servers: " + servers + "\n",
       since_ms * 1000, {{"servers", servers}});
}

void AlertWatch::check_disk(int64_t now_us) {
  struct statvfs st {};
  if (statvfs(cfg_.server.data_dir.c_str(), &st) != 0) return;
  const uint64_t free_mib = uint64_t(st.f_bavail) * st.f_frsize >> 20;
  const uint64_t min = cfg_.alerts.disk_min_free_mib;
  if (!disk_health_.update(free_mib, min)) return;
  post(alerts::Kind::DiskLow, std::to_string(now_us / kSecondUs), "Disk almost full: " + std::to_string(free_mib) + " MiB free",
       "The filesystem of " + cfg_.server.data_dir + " has " + std::to_string(free_mib) + " MiB free (alert below " +
           std::to_string(min) + " MiB). The query log stops writing when it is full; DNS keeps answering.\n",
       now_us, {{"free_mib", std::to_string(free_mib)}, {"data_dir", cfg_.server.data_dir}});
}

void AlertWatch::check_subscriptions(int64_t now_us) {
  std::string error;
  auto subs = blocklists::subs::Subscriptions::open(cfg_.server.data_dir, cfg_.subscription_settings(), error);
  if (!subs) return;
  const int64_t now_s = now_us / kSecondUs;
  for (const blocklists::subs::Subscription& s : subs->list()) {
    const int64_t good = std::max(s.last_success, s.added);
    if (!alerts::subscription_failing(!s.last_error.empty(), s.last_success, s.added, now_s,
                                      kSubscriptionFailingUs / kSecondUs))
      continue;
    post(alerts::Kind::SubscriptionFailing, s.name + ":" + std::to_string(good),
         "List " + s.name + " has not updated for " + std::to_string((now_s - good) / 3600) + " hours",
         "List: " + s.name + "\nURL: " + s.url + "\nLast error: " + s.last_error +
             "\nThe last good copy stays in force.\n",
         now_us, {{"list", s.name}, {"url", s.url}, {"error", s.last_error}});
  }
}

void Alerting::stop() {
  if (watch) watch->stop();
  if (dispatcher) dispatcher->stop();
}

void Alerting::apply(const Config& cfg) {
  if (!dispatcher) {
    if (!cfg.alerts.sinks.empty()) *this = start_alerting(cfg, *runtime, writer);
    return;
  }
  if (dispatcher->set_sinks(cfg.alerts.sinks)) log::info("alerts: ", cfg.alerts.sinks.size(), " sink(s) now");
}

Alerting start_alerting(const Config& cfg, ServerRuntime& runtime, const querylog::Writer* writer) {
  Alerting a;
  a.runtime = &runtime;
  a.writer = writer;
  if (cfg.alerts.sinks.empty()) return a;
  a.dispatcher = std::make_unique<alerts::Dispatcher>(cfg.alerts.sinks);
  a.dispatcher->start();
  runtime.alerts = a.dispatcher.get();
  AlertWatch::Sources sources;
  if (writer && !cfg.querylog.anonymous)
    sources.log_writes = [writer] {
      querylog::Writer::Stats s = writer->stats();
      return s.batches + s.aggregate_flushes;
    };
  const size_t servers = std::min(cfg.upstream_addrs.size(), kMaxUpstreams);
  sources.upstreams = [&runtime, servers](std::vector<uint64_t>& answers, std::vector<uint64_t>& failures) {
    auto sum = std::make_unique<Counters>();  // ~5 KiB
    runtime.totals(*sum);
    for (size_t i = 0; i < servers; ++i) {
      answers.push_back(sum->upstreams[i].answers.load());
      failures.push_back(sum->upstreams[i].failures.load());
    }
  };
  a.watch = std::make_unique<AlertWatch>(cfg, *a.dispatcher, std::move(sources));
  a.watch->start();
  log::info("alerts: ", cfg.alerts.sinks.size(), " sink(s)");
  return a;
}

}  // namespace hush

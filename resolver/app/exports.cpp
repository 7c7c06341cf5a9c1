#include "app/exports.hpp"

#include <filesystem>

#include "base/log.hpp"

namespace hush {

std::unique_ptr<logexport::Exporter> start_export(const Config& cfg, unsigned workers) {
  const Config::Export& e = cfg.log_export;
  if (e.syslog.empty() && e.file.empty()) return nullptr;
  logexport::Settings s;
  s.syslog = e.syslog;
  s.file = e.file;
  s.max_file_bytes = uint64_t(e.max_file_mib) << 20;
  s.files_kept = e.files_kept;
  s.queue_per_worker = e.queue;
  s.anonymous = cfg.querylog.anonymous;
  s.ignore_clients = cfg.querylog.ignore_clients;
  s.ignore_domains = cfg.querylog.ignore_domains;
  log::info("export: every query as a JSON line to ", e.syslog.empty() ? "" : "syslog " + e.syslog,
            !e.syslog.empty() && !e.file.empty() ? " and " : "", e.file);
  return std::make_unique<logexport::Exporter>(std::move(s), workers);
}

std::unique_ptr<sync::Follower> start_sync(const Config& cfg, const std::string& version,
                                           std::function<std::pair<uint64_t, uint64_t>()> totals,
                                           std::function<void()> applied, std::function<bool()> reload) {
  if (cfg.sync.primary.empty()) {
    std::error_code ec;
    std::filesystem::remove(cfg.server.data_dir + "/" + sync::kReplicaFile, ec);
    return nullptr;
  }
  sync::FollowerOptions o;
  o.primary = cfg.sync.primary;
  o.token = cfg.sync.token;
  o.ca_file = cfg.sync.ca_file;
  o.place = {cfg.server.data_dir, cfg.file};
  o.hush_version = version;
  o.totals = std::move(totals);
  o.applied = std::move(applied);
  o.reload = std::move(reload);
  auto f = std::make_unique<sync::Follower>(std::move(o));
  log::info("sync: following the settings of ", cfg.sync.primary, " (version ", f->status().version, " held)");
  f->start();
  return f;
}

bool refused_on_replica(const std::string& configured_primary, const std::string& data_dir, std::ostream& err) {
  std::string primary = configured_primary.empty() ? sync::replica_primary(data_dir) : configured_primary;
  if (primary.empty()) return false;
  err << "hush: " << sync::replica_refusal(primary) << "\n";
  return true;
}

}  // namespace hush

// Backup and restore in the dashboard (backup/backup.hpp says what a backup
// holds): GET /api/backup downloads one (the configuration file the server
// was started with, the data directory's settings, devices and
// subscriptions; no list copies or log, so it stays small enough to upload
// again), POST /api/restore?dry_run=1 checks an uploaded one and says what
// it would change, POST /api/restore applies it whole or not at all and
// asks the running server to rebuild its policy. The configuration file is
// not written from here (the server may not own it): the preview says so.
#pragma once

#include "config/config.hpp"
#include "runtime/runtime.hpp"
#include "web/http_server.hpp"
#include "web/report_api.hpp"

namespace hush::web {

void install_backup_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard);

}  // namespace hush::web

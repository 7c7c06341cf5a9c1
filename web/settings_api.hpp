// The settings a user changes from the dashboard, in the API (/api/config,
// /api/local, /api/lists/switches, /api/restart; described in
// web/openapi.yaml).
//
// The configuration file has one writer: the server, holding the file's lock
// (base/file_lock.hpp) around read-edit-check-write, as `hush lists
// enable|disable` does. An edit replaces only the changed values' text
// (config/edit.hpp), so comments stay; the result is checked by the code of
// `hush check` (the same messages, with file, line and key) before it is
// written atomically. Keys SIGHUP can change are then applied by a reload;
// the others are listed as needing a restart, which /api/restart does.
#pragma once

#include "config/config.hpp"
#include "runtime/runtime.hpp"
#include "web/http_server.hpp"
#include "web/report_api.hpp"

namespace hush::web {

// Adds the routes. `rt` must outlive the server's handlers.
void install_settings_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard);

}  // namespace hush::web

// Schedules in the dashboard's API (/api/schedules; described in
// web/openapi.yaml). A change writes <data_dir>/schedules.json
// (policy/schedules.hpp) and asks the running server to rebuild its policy,
// so the answer says whether it is in force; the windows' edges follow by
// themselves.
#pragma once

#include "config/config.hpp"
#include "runtime/runtime.hpp"
#include "web/http_server.hpp"
#include "web/report_api.hpp"

namespace hush::web {

// Adds the routes. `rt` must outlive the server's handlers.
void install_schedules_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard);

}  // namespace hush::web

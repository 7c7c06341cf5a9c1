// Device groups from the dashboard (PUT /api/groups/{name}, POST
// /api/groups/{name}/rename; described in web/openapi.yaml): a group's
// devices and the subscribed lists it uses are set in one call, which makes
// a new group too; a rename moves the devices, lists and the dashboard's
// allow/deny entries over. Groups of the configuration file ([[lists]],
// [[clients]]) are renamed there. Each change asks the running server to
// rebuild its policy, so the answer says whether it is in force.
#pragma once

#include "config/config.hpp"
#include "runtime/runtime.hpp"
#include "web/http_server.hpp"
#include "web/report_api.hpp"

namespace hush::web {

// Adds the routes. `rt` must outlive the server's handlers.
void install_groups_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard);

}  // namespace hush::web

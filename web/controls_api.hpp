// Timed exceptions, pauses and blocked services in the dashboard's API
// (/api/controls, /api/services; described in web/openapi.yaml). A change
// writes <data_dir>/controls.json (policy/controls.hpp) and asks the running
// server to rebuild its policy, so the answer says whether it is in force;
// a timed one ends by itself at its end time.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "config/config.hpp"
#include "runtime/runtime.hpp"
#include "web/http_server.hpp"
#include "web/report_api.hpp"

namespace hush::web {

// {"device": ID}, {"group": NAME} or neither (everyone) in a request's
// body: the group and the label a control or schedule is shown with. A
// device joins its own group. Throws HttpError for a bad one.
void request_target(const nlohmann::json& body, const std::string& data_dir, std::string& group, std::string& label);

// Adds the routes. `rt` must outlive the server's handlers.
void install_controls_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard);

}  // namespace hush::web

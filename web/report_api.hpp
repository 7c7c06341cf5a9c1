// The phone-home report in the dashboard's API (/api/report/..., described in
// web/openapi.yaml): which companies each device talks to, which devices talk
// to a company, first contacts, a company's queries over time, and the
// one-click actions (block a company for a device or a group, undo it,
// subscribe the group to the company's vendor list from the catalog).
//
// Reads go through report::ReportReader on the HTTP threads; the actions
// write the dashboard's stores (rules.json, the device's groups, the
// subscriptions) and then ask the running server to rebuild its policy, so
// an answer says whether the change is already in force.
#pragma once

#include <functional>

#include "config/config.hpp"
#include "web/http_server.hpp"
#include "runtime/runtime.hpp"

namespace hush::web {

// Wraps a handler in the API's authentication and turns the HttpError
// (json_api.hpp) it throws into its answer. `changes_state`: the caller must
// also be allowed to change things (a CSRF header with a session).
using Guard = std::function<Handler(bool changes_state, Handler)>;

// Adds the /api/report routes. `rt` must outlive the server's handlers.
void install_report_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard);

}  // namespace hush::web

// What the handlers of the dashboard's JSON API (api.cpp, report_api.cpp)
// share: the error a handler throws for a bad request, JSON answers, and
// reading query parameters and JSON bodies with errors that name the
// parameter or field.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "web/http_server.hpp"

namespace hush::web {

// Thrown by a handler for a bad request; the API's guard turns it into a
// JSON answer {"error": message} with this status.
struct HttpError {
  int status;
  std::string message;
};

// Never fails on names that are not UTF-8 (they come from the network).
Response json_response(int status, const nlohmann::json& body);
Response error_response(int status, const std::string& message);

// Query parameter `key` as an integer in [lo, hi]; `fallback` when absent.
int64_t int_param(const Request& r, const std::string& key, int64_t fallback, int64_t lo, int64_t hi);
// Query parameter `key` as a time in unix microseconds, given as unix
// seconds (fractions allowed) or a duration back from now ("15m", "7d");
// `fallback_us` when absent.
int64_t time_param(const Request& r, const std::string& key, int64_t fallback_us);

// The request's body as a JSON object; an empty body is an empty object.
nlohmann::json parse_body(const Request& r);
// String field `key` of `j`; `fallback` when absent or null.
std::string string_field(const nlohmann::json& j, const char* key, const std::string& fallback = "");

}  // namespace hush::web

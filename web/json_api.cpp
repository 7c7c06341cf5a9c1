#include "web/json_api.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "base/clock.hpp"
#include "querylog/reader.hpp"
#include "querylog/record.hpp"

namespace hush::web {

using json = nlohmann::json;

Response json_response(int status, const json& body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.headers.emplace("Cache-Control", "no-store");
  return r;
}

Response error_response(int status, const std::string& message) {
  return json_response(status, json{{"error", message}});
}

int64_t int_param(const Request& r, const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
  std::string v = r.param(key);
  if (v.empty()) return fallback;
  try {
    size_t used = 0;
    long long n = std::stoll(v, &used);
    if (used == v.size() && n >= lo && n <= hi) return n;
  } catch (const std::exception&) {
  }
  throw HttpError{400, key + ": expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi)};
}

int64_t time_param(const Request& r, const std::string& key, int64_t fallback_us) {
  std::string v = r.param(key);
  if (v.empty()) return fallback_us;
  if (auto d = querylog::parse_duration(v)) return hush::now_us() - *d;
  try {
    size_t used = 0;
    double s = std::stod(v, &used);
    if (used == v.size() && s >= 0 && s < 1e11) return int64_t(s * 1e6);
  } catch (const std::exception&) {
  }
  throw HttpError{400, key + ": expected unix seconds or a duration such as 15m, 24h, 7d"};
}

json parse_body(const Request& r) {
  if (r.body.empty()) return json::object();
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw HttpError{400, "the body must be a JSON object"};
  return j;
}

std::string string_field(const json& j, const char* key, const std::string& fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_string()) throw HttpError{400, std::string(key) + ": expected a string"};
  return j[key].get<std::string>();
}

}  // namespace hush::web

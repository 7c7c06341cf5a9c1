// The report's JSON forms, shared by `hush report --json` and the dashboard's
// API so both say the same thing in the same shape. Times are unix
// milliseconds in fields ending in _ms (as in web/openapi.yaml). The shapes
// are documented in docs/REPORT.md; fields are only ever added.
#pragma once

#include <nlohmann/json.hpp>

#include "report/actions.hpp"
#include "report/bypass.hpp"
#include "report/report.hpp"

namespace hush::report {

nlohmann::json to_json(const NameUsage& n);
nlohmann::json to_json(const CompanyUsage& c);
nlohmann::json to_json(const DeviceReport& r);
nlohmann::json to_json(const CompanyDevices& c);
nlohmann::json to_json(const SeriesPoint& p);
nlohmann::json to_json(const NewContact& n);
nlohmann::json to_json(const Attribution& a);
nlohmann::json to_json(const BlockResult& r);
nlohmann::json to_json(const SubscribeResult& r);
nlohmann::json to_json(const QuietEvidence& q);

}  // namespace hush::report

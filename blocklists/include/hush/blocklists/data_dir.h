// Where hush keeps its database in the data directory. Here, in the lowest
// library, because every layer opens it: the subscriptions (this library),
// the device groups and the query log (resolver/), the report and the CLI.
#pragma once

#include <string>

namespace hush {

// <data_dir>/hush.db: the one SQLite file of subscriptions, devices, their
// groups and the query log. Only names the path; opens nothing.
inline std::string database_path(const std::string& data_dir) { return data_dir + "/hush.db"; }

}  // namespace hush

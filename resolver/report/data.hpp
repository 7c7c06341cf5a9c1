// The company map's files, built into the binary by embed_data.cmake (see
// data/NOTICE.md for where they come from and under which licence).
#pragma once

#include <string_view>

namespace hush::report::data {

std::string_view trackers_json();   // companiesdb dist/trackers.json
std::string_view companies_json();  // companiesdb dist/companies.json
std::string_view overrides_txt();   // hush's corrections (data/overrides.txt)

}  // namespace hush::report::data

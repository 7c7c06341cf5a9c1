// hush_map_embed: run at build time, turns companiesdb's two files and hush's
// corrections into the C++ source of the built-in map's table (map_data.hpp),
// so hush parses no JSON when it loads the map.
//   hush_map_embed TRACKERS.json COMPANIES.json OVERRIDES.txt OUT.cpp
// Any problem in the data fails the build: the built-in data is hush's own.
#include <iostream>

#include "base/file.hpp"
#include "report/map_data.hpp"

int main(int argc, char** argv) {
  using namespace hush::report;
  if (argc != 5) {
    std::cerr << "usage: hush_map_embed TRACKERS.json COMPANIES.json OVERRIDES.txt OUT.cpp\n";
    return 2;
  }
  std::string trackers, companies, overrides;
  for (auto [path, text] :
       {std::pair{argv[1], &trackers}, std::pair{argv[2], &companies}, std::pair{argv[3], &overrides}})
    if (std::optional<std::string> read = hush::read_file(path)) {
      *text = std::move(*read);
    } else {
      std::cerr << "hush_map_embed: cannot read " << path << "\n";
      return 1;
    }
  std::vector<std::string> errors;
  auto data = parse_companiesdb(trackers, companies, errors);
  data->apply(parse_overrides(overrides, argv[3], errors));
  if (data->companies.empty() || data->domains.empty()) errors.push_back("companiesdb: no companies or no domains");
  for (const std::string& e : errors) std::cerr << "hush_map_embed: " << e << "\n";
  if (!errors.empty()) return 1;
  // Through a temporary: an interrupted build leaves no half-written source.
  if (std::string err = hush::write_file_atomic(argv[4], {table_source(*data)}); !err.empty()) {
    std::cerr << "hush_map_embed: " << err << "\n";
    return 1;
  }
  return 0;
}

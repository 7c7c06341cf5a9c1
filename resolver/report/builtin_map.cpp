// The built-in map (the table written at build time) and the user's layer on
// it. Apart from companies.cpp so that the build-time tool, which writes the
// table, links without it.
#include "base/file.hpp"
#include "report/map_data.hpp"

namespace hush::report {

std::shared_ptr<const CompanyMap> CompanyMap::builtin() {
  static const std::shared_ptr<const CompanyMap> map =
      std::make_shared<const CompanyMap>(from_table(map_table::builtin()));
  return map;
}

std::shared_ptr<const CompanyMap> CompanyMap::with_overrides(const std::string& path,
                                                             std::vector<std::string>& errors) {
  auto base = builtin();
  if (path.empty()) return base;
  std::optional<std::string> text = read_file(path);
  if (!text) return base;
  auto lines = parse_overrides(*text, path, errors);
  if (lines.empty()) return base;
  auto d = std::make_unique<Data>(*base->d_);
  d->apply(lines);
  d->index_domains();
  return std::make_shared<const CompanyMap>(std::move(d));
}

}  // namespace hush::report

#include "app/cli_local.hpp"

#include <iostream>

namespace hush {

void add_local_commands(CLI::App* local, LocalCommand& cmd) {
  cmd.ls = local->add_subcommand("ls", "list local records: from the config, files and `hush local add`");
  cmd.add = local->add_subcommand("add", "add a record, e.g. `hush local add nas.lan A 192.168.1.10`");
  cmd.add->add_option("record", cmd.record, "NAME [TTL] TYPE DATA, as in a zone file")->required()->expected(2, 64);
  cmd.rm = local->add_subcommand("rm", "remove the records of NAME added with `hush local add`");
  cmd.rm->add_option("name", cmd.name, "the record's name")->required();
  cmd.rm->add_option("type", cmd.type, "only records of this type");
}

int run_local_command(const LocalCommand& cmd, const Config& cfg) {
  std::error_code ec;
  if (*cmd.ls) {
    std::vector<local::LoadError> errors;
    auto data = local::load(cfg.local, errors);
    for (const local::LoadError& e : errors) std::cerr << "hush: " << e.describe() << "\n";
    for (const local::Record& r : data->zone.records()) std::cout << r.owner << "\t" << r.text << "\n";
    for (const std::string& own : data->own_names) std::cout << own << "\t(hush itself)\n";
    return errors.empty() ? 0 : 1;
  }
  std::filesystem::create_directories(cfg.server.data_dir, ec);
  if (*cmd.add) {
    std::string line;
    for (const std::string& w : cmd.record) line += (line.empty() ? "" : " ") + w;
    if (std::string why = local::add_record(cfg.local, line); !why.empty()) {
      std::cerr << "hush: cannot add '" << line << "': " << why << "\n";
      return 1;
    }
    std::cout << "added " << line << "\n";
    return 0;
  }
  size_t removed = 0;
  if (std::string why = local::remove_records(cfg.local, cmd.name, cmd.type, &removed); !why.empty()) {
    std::cerr << "hush: " << why << "\n";
    return 1;
  }
  std::cout << "removed " << removed << " record" << (removed == 1 ? "" : "s") << "\n";
  return 0;
}

}  // namespace hush

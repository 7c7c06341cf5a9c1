// The hush command line: serve, check, version.
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "config.hpp"
#include "log.hpp"
#include "server.hpp"

namespace {

constexpr int kExitUsage = 2;

int report(const std::vector<std::string>& errors) {
  for (const std::string& e : errors) std::cerr << "hush: " << e << "\n";
  return kExitUsage;
}

hush::log::Level level_of(const std::string& s) {
  if (s == "debug") return hush::log::Level::Debug;
  if (s == "warn") return hush::log::Level::Warn;
  if (s == "error") return hush::log::Level::Error;
  return hush::log::Level::Info;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hush: a DNS sinkhole resolver"};
  app.require_subcommand(1);

  std::string config_file;
  std::vector<std::string> listen, upstreams;
  std::string data_dir, log_level;
  unsigned threads = 0;
  auto* serve = app.add_subcommand("serve", "answer DNS queries");
  serve->add_option("-c,--config", config_file, "TOML configuration file")->check(CLI::ExistingFile);
  serve->add_option("-l,--listen", listen, "address to listen on, ADDR:PORT or [IPv6]:PORT (repeatable)");
  serve->add_option("-u,--upstream", upstreams, "upstream server, ADDR[:PORT] (repeatable)");
  serve->add_option("-d,--data-dir", data_dir, "directory for hush's data");
  serve->add_option("-t,--threads", threads, "worker threads (default: one per core)")->check(CLI::Range(1, 256));
  serve->add_option("--log-level", log_level, "debug, info, warn or error");

  std::string check_file;
  auto* check = app.add_subcommand("check", "validate a configuration file");
  check->add_option("-c,--config", check_file, "TOML configuration file")->required();

  auto* version = app.add_subcommand("version", "print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }

  if (*version) {
    std::cout << "hush " << HUSH_VERSION << "\n";
    return 0;
  }

  hush::Config cfg;
  std::vector<std::string> errors;
  if (*check) {
    if (hush::load_config_file(check_file, cfg, errors) && hush::resolve(cfg, errors)) {
      std::cout << check_file << ": ok\n";
      return 0;
    }
    return report(errors);
  }

  if (!config_file.empty() && !hush::load_config_file(config_file, cfg, errors)) return report(errors);
  if (!listen.empty()) cfg.server.listen = listen;
  if (!upstreams.empty()) cfg.upstream.servers = upstreams;
  if (!data_dir.empty()) cfg.server.data_dir = data_dir;
  if (threads) cfg.server.threads = threads;
  if (!log_level.empty()) cfg.server.log_level = log_level;
  if (!hush::resolve(cfg, errors)) return report(errors);
  hush::log::set_level(level_of(cfg.server.log_level));
  return hush::serve(cfg);
}

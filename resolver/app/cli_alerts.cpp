#include "app/cli_alerts.hpp"

#include <unistd.h>

#include <ostream>

#include "alerts/deliver.hpp"
#include "base/clock.hpp"
#include "config/config.hpp"

namespace hush {

namespace {
constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2;
}  // namespace

void add_alerts_commands(CLI::App& app, AlertsCommand& cmd) {
  CLI::App* alerts = app.add_subcommand("alerts", "alert sinks ([[alerts.sink]])");
  alerts->require_subcommand(1);
  cmd.test = alerts->add_subcommand("test", "send a test message to every sink and say what happened");
  cmd.test->add_option("-c,--config", cmd.config_file, "TOML configuration file")
      ->check(CLI::ExistingFile)
      ->required();
}

int run_alerts_command(const AlertsCommand& cmd, std::ostream& out, std::ostream& err) {
  Config cfg;
  std::vector<std::string> errors;
  if (load_config_file(cmd.config_file, cfg, errors)) {
    // Only the sinks' own checks matter here (resolve() makes them), not
    // whether upstreams can be found.
    if (cfg.upstream.servers.empty()) cfg.upstream.servers = {"127.0.0.1"};
    resolve(cfg, errors);
  }
  if (!errors.empty()) {
    for (const std::string& e : errors) err << "hush: " << e << "\n";
    return kExitUsage;
  }
  if (cfg.alerts.sinks.empty()) {
    err << "hush: " << cmd.config_file << " has no [[alerts.sink]]\n";
    return kExitUsage;
  }
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  alerts::Event e;
  e.kind = alerts::Kind::Test;
  e.time_ms = now_us() / 1000;
  e.key = "test:" + std::to_string(e.time_ms);
  e.title = "hush: test alert";
  e.text = std::string("This is a test message from hush on ") + host + ". Alerts reach this sink.\n";
  e.fields = {{"host", host}};
  alerts::Message m = alerts::digest_of({e}, alerts::Limits{});
  int failed = 0;
  for (const alerts::SinkSettings& s : cfg.alerts.sinks) {
    std::string error = alerts::deliver(s, m, alerts::Limits{}.timeout_s);
    out << s.name << " (" << s.kind << "): " << (error.empty() ? "delivered" : "FAILED: " + error) << "\n";
    failed += !error.empty();
  }
  return failed ? kExitFailed : kExitOk;
}

}  // namespace hush

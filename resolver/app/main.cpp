// The hush command line: serve, check, query, the tools, version.
#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "app/cli_alerts.hpp"
#include "app/cli_backup.hpp"
#include "app/cli_controls.hpp"
#include "app/cli_lists.hpp"
#include "app/cli_log.hpp"
#include "app/cli_report.hpp"
#include "app/cli_schedules.hpp"
#include "app/cli_local.hpp"
#include "config/config.hpp"
#include "base/log.hpp"
#include "app/query.hpp"
#include "app/serve.hpp"
#include "policy/url_lists.hpp"
#include "web/api.hpp"
#include "app/cli_web.hpp"
#include "app/exports.hpp"

namespace {

constexpr int kExitUsage = 2;

int report(const std::vector<std::string>& errors) {
  for (const std::string& e : errors) std::cerr << "hush: " << e << "\n";
  return kExitUsage;
}

// Flags shared by `serve` and `query`, applied over the configuration file.
struct Overrides {
  std::string config_file;
  std::vector<std::string> listen, upstreams, blocklists, allow, deny;
  std::string data_dir, log_level, http, user;
  CLI::Option* http_flag = nullptr;  // given at all (an empty value turns HTTP off)
  CLI::Option* user_flag = nullptr;
  unsigned threads = 0;

  void add_policy_flags(CLI::App* cmd) {
    cmd->add_option("-c,--config", config_file, "TOML configuration file")->check(CLI::ExistingFile);
    cmd->add_option("-b,--blocklist", blocklists, "blocklist file or http(s):// URL (repeatable)");
    cmd->add_option("--allow", allow, "never block NAME (repeatable; a.com, *.a.com, ||a.com^, /regex/)");
    cmd->add_option("--deny", deny, "always block NAME (repeatable; same forms as --allow)");
    cmd->add_option("-d,--data-dir", data_dir, "directory for hush's data");
  }
  // --config and --data-dir only: the tools that work on the data directory.
  void add_data_flags(CLI::App* cmd) {
    cmd->add_option("-c,--config", config_file, "TOML configuration file")->check(CLI::ExistingFile);
    cmd->add_option("-d,--data-dir", data_dir, "directory for hush's data");
  }

  bool load(hush::Config& cfg, std::vector<std::string>& errors) const {
    if (!config_file.empty() && !hush::load_config_file(config_file, cfg, errors)) return false;
    if (!listen.empty()) {
      cfg.server.listen = listen;
      cfg.origin.erase("server.listen");
    }
    if (!upstreams.empty()) {
      cfg.upstream.servers = upstreams;
      cfg.origin.erase("upstream.servers");
    }
    if (!data_dir.empty()) cfg.server.data_dir = data_dir;
    if (threads) cfg.server.threads = threads;
    if (!log_level.empty()) cfg.server.log_level = log_level;
    if (http_flag && http_flag->count()) cfg.http.listen = http;
    if (user_flag && user_flag->count()) cfg.server.user = user;
    for (const std::string& b : blocklists) cfg.lists.push_back({"", b, {"default"}, false});
    for (const std::string& a : allow) cfg.blocking.allow.push_back({a, {"default"}});
    for (const std::string& d : deny) cfg.blocking.deny.push_back({d, {"default"}});
    return true;
  }
};

// Every subcommand and the variables its flags fill. Built in place: CLI11
// keeps pointers to these fields.
struct Commands {
  CLI::App app{"hush: a DNS sinkhole resolver"};
  Overrides flags;  // serve and query
  CLI::App *serve = nullptr, *check = nullptr, *query = nullptr, *lists_check = nullptr, *local = nullptr,
           *version = nullptr;
  std::string check_file, list_file;
  hush::QueryRequest query_request;
  hush::ListsCommand lists_cmd;  // add, rm, ls, update, catalog: subscriptions (cli_lists.cpp)
  Overrides lists_flags;
  hush::LocalCommand local_cmd;
  Overrides local_flags;
  hush::AlertsCommand alerts_cmd;
  hush::ControlsCommand controls_cmd;  // timed, services (cli_controls.cpp)
  Overrides controls_flags;
  hush::ScheduleCommand schedule_cmd;  // schedule add|ls|rm (cli_schedules.cpp)
  Overrides schedule_flags;
  std::shared_ptr<hush::LogCommands> log_cmds;
  std::shared_ptr<hush::ReportCommands> report_cmds;
  std::shared_ptr<hush::web::WebCommands> web_cmds;
  std::shared_ptr<hush::BackupCommands> backup_cmds;

  Commands() {
    app.require_subcommand(1);
    add_serve_query_check();
    add_tools();
    version = app.add_subcommand("version", "print the version");
  }

  void add_serve_query_check() {
    serve = app.add_subcommand("serve", "answer DNS queries");
    flags.add_policy_flags(serve);
    serve->add_option("-l,--listen", flags.listen, "address to listen on, ADDR:PORT or [IPv6]:PORT (repeatable)");
    serve->add_option("-u,--upstream", flags.upstreams, "upstream server: ADDR[:PORT], tcp://ADDR, tls://ADDR|NAME[#NAME], https://NAME/PATH (repeatable)");
    serve->add_option("-t,--threads", flags.threads, "worker threads (default: one per core)")->check(CLI::Range(1, 256));
    serve->add_option("--log-level", flags.log_level, "debug, info, warn or error");
    flags.http_flag = serve->add_option("--http", flags.http, "ADDR:PORT for /metrics; \"\" turns it off");
    flags.user_flag = serve->add_option("--user", flags.user, "user to run as after binding, when started as root; \"\" stays root");

    check = app.add_subcommand("check", "validate a configuration file");
    check->add_option("-c,--config", check_file, "TOML configuration file")->required();

    query = app.add_subcommand("query", "say what hush serve would answer for a name, and why");
    query->add_option("name", query_request.name, "the name to look up")->required();
    query->add_option("--client", query_request.client, "the asking client's IP address (default 127.0.0.1)");
    query->add_option("--type", query_request.type, "record type (default A)");
    flags.add_policy_flags(query);
  }

  // lists, local, log, clients, report, passwd, token: the tools beside the server.
  void add_tools() {
    auto* lists = app.add_subcommand("lists", "blocklist tools");
    lists->require_subcommand(1);
    lists_check = lists->add_subcommand("check", "parse a list file and report what it holds");
    lists_check->add_option("file", list_file, "the list file")->required();
    hush::add_lists_commands(lists, lists_cmd);
    for (CLI::App* sub : lists_cmd.with_data_dir()) lists_flags.add_data_flags(sub);

    local = app.add_subcommand("local", "the home's own records");
    local->require_subcommand(1);
    hush::add_local_commands(local, local_cmd);
    for (CLI::App* sub : {local_cmd.ls, local_cmd.add, local_cmd.rm}) local_flags.add_data_flags(sub);

    hush::add_controls_commands(app, controls_cmd);
    for (CLI::App* sub : controls_cmd.with_data_dir()) controls_flags.add_data_flags(sub);
    hush::add_schedule_commands(app, schedule_cmd);
    for (CLI::App* sub : schedule_cmd.with_data_dir()) schedule_flags.add_data_flags(sub);

    log_cmds = hush::add_log_commands(app);         // log tail|search, stats, clients (cli_log.cpp)
    report_cmds = hush::add_report_command(app);    // report: companies per device (cli_report.cpp)
    web_cmds = hush::web::add_web_commands(app);    // passwd, token (cli_web.cpp)
    backup_cmds = hush::add_backup_commands(app);   // backup, restore (cli_backup.cpp)
    hush::add_alerts_commands(app, alerts_cmd);      // alerts test (cli_alerts.cpp)
  }
};

int run_check(const std::string& file) {
  hush::Config cfg;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  if (hush::load_config_file(file, cfg, errors) && hush::resolve(cfg, errors) &&
      hush::check_upstream_loops(cfg, errors) && hush::ready_config_schedules(cfg, false, errors, warnings)) {
    for (const std::string& w : warnings) std::cerr << "hush: warning: " << w << "\n";
    std::cout << file << ": ok\n";
    return 0;
  }
  return report(errors);
}

int run_query(const Overrides& flags, const hush::QueryRequest& request) {
  hush::Config cfg;
  std::vector<std::string> errors;
  if (!flags.load(cfg, errors)) return report(errors);
  if (cfg.upstream.servers.empty()) cfg.upstream.servers = {"127.0.0.1"};  // not used by a query
  std::vector<std::string> warnings;
  if (!hush::resolve(cfg, errors) || !hush::ready_config_schedules(cfg, false, errors, warnings)) return report(errors);
  hush::policy::fetch_url_lists(cfg);
  return hush::run_query(cfg, request, std::cout, std::cerr);
}

int run_serve(const Overrides& flags) {
  hush::Config cfg;
  std::vector<std::string> errors;
  if (!flags.load(cfg, errors)) return report(errors);
  if (!hush::resolve(cfg, errors) || !hush::check_upstream_loops(cfg, errors) ||
      !hush::check_config_schedules(cfg, errors))
    return report(errors);
  hush::log::set_level(hush::log::level_named(cfg.server.log_level));
  hush::policy::fetch_url_lists(cfg);  // --blocklist URL: download now, or use the last good copy

  hush::ServeHooks hooks;
  hooks.version = HUSH_VERSION;
  // SIGHUP: the file again, then the same flags over it.
  hooks.reload = [&flags](hush::Config& next, std::vector<std::string>& errs) {
    std::vector<std::string> warnings;
    bool ok = flags.load(next, errs) && hush::resolve(next, errs) && hush::ready_config_schedules(next, true, errs, warnings) &&
              hush::policy::fetch_url_lists(next);
    for (const std::string& w : warnings) hush::log::warn(w);
    return ok;
  };
  // The file's schedules' devices, once running as server.user (they may write the database).
  hooks.prepare = [](hush::Config& c) {
    std::vector<std::string> warnings;
    hush::find_schedule_devices(c, true, warnings);
    for (const std::string& w : warnings) hush::log::warn(w);
  };
  // The HTTP server: /metrics, the dashboard and its API (web/api.cpp).
  hooks.start_http = [](const hush::Runtime& rt, const hush::Config& c) { return hush::web::start_dashboard(rt, c); };
  return hush::serve(cfg, hooks);
}

// The tools that work on the data directory rather than on a server.
std::optional<int> run_tool(Commands& c) {
  if (*c.lists_check) return hush::blocklists::lists_check(c.list_file, std::cout);
  if (c.alerts_cmd.ran()) return hush::run_alerts_command(c.alerts_cmd, std::cout, std::cerr);
  if (hush::report_command_chosen(*c.report_cmds)) return hush::run_report_command(*c.report_cmds, std::cout, std::cerr);
  if (hush::web::web_command_chosen(*c.web_cmds))
    return hush::web::run_web_commands(*c.web_cmds, std::cin, std::cout, std::cerr);
  if (hush::backup_command_chosen(*c.backup_cmds))
    return hush::run_backup_commands(*c.backup_cmds, HUSH_VERSION, std::cout, std::cerr);
  hush::Config cfg;
  std::vector<std::string> errors;
  if (*c.local) {
    if (!c.local_flags.load(cfg, errors)) return report(errors);
    if (cfg.upstream.servers.empty()) cfg.upstream.servers = {"127.0.0.1"};  // not used here
    if (!hush::resolve(cfg, errors)) return report(errors);
    if ((*c.local_cmd.add || *c.local_cmd.rm) && hush::refused_on_replica(cfg.sync.primary, cfg.server.data_dir, std::cerr))
      return 1;
    return hush::run_local_command(c.local_cmd, cfg);
  }
  if (hush::log_command_chosen(*c.log_cmds)) {
    const std::string& file = hush::log_config_file(*c.log_cmds);
    if (!file.empty() && !hush::load_config_file(file, cfg, errors)) return report(errors);
    hush::set_configured_data_dir(*c.log_cmds, cfg.server.data_dir);
    hush::set_configured_http(*c.log_cmds, cfg.http.listen);
    return *hush::run_log_commands(*c.log_cmds, std::cout, std::cerr);
  }
  if (c.controls_cmd.ran()) {
    if (!c.controls_flags.load(cfg, errors)) return report(errors);
    if (c.controls_cmd.changes_settings() && hush::refused_on_replica(cfg.sync.primary, cfg.server.data_dir, std::cerr))
      return 1;
    return hush::run_controls_command(c.controls_cmd, cfg, std::cout, std::cerr);
  }
  if (c.schedule_cmd.ran()) {
    std::vector<std::string> warnings;  // a device not seen yet keeps its name as written
    if (!c.schedule_flags.load(cfg, errors) || !hush::ready_config_schedules(cfg, false, errors, warnings))
      return report(errors);
    return hush::run_schedule_command(c.schedule_cmd, cfg, std::cout, std::cerr);
  }
  if (c.lists_cmd.ran()) {
    if (!c.lists_flags.load(cfg, errors)) return report(errors);
    if ((*c.lists_cmd.add || *c.lists_cmd.rm) && hush::refused_on_replica(cfg.sync.primary, cfg.server.data_dir, std::cerr))
      return 1;
    return hush::run_lists_command(c.lists_cmd, cfg);
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  Commands c;
  try {
    c.app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = c.app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  if (*c.version) {
    std::cout << "hush " << HUSH_VERSION << "\n";
    return 0;
  }
  if (*c.check) return run_check(c.check_file);
  if (auto code = run_tool(c)) return *code;
  if (*c.query) return run_query(c.flags, c.query_request);
  int code = run_serve(c.flags);
  if (code != hush::kServeRestart) return code;
  // The dashboard's restart: the same binary and command line, which read
  // the configuration file anew; execv keeps the process id (systemd's main
  // PID) and ambient capabilities. Every socket was closed by serve().
  execv("/proc/self/exe", argv);
  std::cerr << "hush: cannot start again: " << std::strerror(errno) << "\n";
  return 1;
}

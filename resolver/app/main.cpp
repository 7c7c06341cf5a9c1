// The hush command line: serve, check, query, lists, version.
#include <CLI/CLI.hpp>
#include <arpa/inet.h>

#include <iostream>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "app/cli_lists.hpp"
#include "app/cli_log.hpp"
#include "app/cli_report.hpp"
#include "app/cli_local.hpp"
#include "config/config.hpp"
#include "policy/list_updates.hpp"
#include "base/log.hpp"
#include "app/serve.hpp"
#include "policy/inputs.hpp"
#include "web/api.hpp"
#include "app/cli_web.hpp"
#include "dns/ldns.hpp"

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

const char* action_name(hush::blocklists::Action a) {
  switch (a) {
    case hush::blocklists::Action::Allow: return "allowed";
    case hush::blocklists::Action::Block: return "blocked";
    case hush::blocklists::Action::Pass: break;
  }
  return "not on any list";
}

int run_query(const hush::Config& cfg, std::string name, const std::string& client_text,
              const std::string& type_text) {
  ldns_rr_type type = ldns_get_rr_type_by_name(type_text.c_str());
  if (type == 0) {
    std::cerr << "hush: unknown record type '" << type_text << "'\n";
    return kExitUsage;
  }
  sockaddr_storage client{};
  std::string error;
  if (!client_text.empty() && !hush::parse_address(client_text, 0, client, error)) {
    std::cerr << "hush: --client: " << error << "\n";
    return kExitUsage;
  }
  for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
  while (!name.empty() && name.back() == '.') name.pop_back();
  hush::log::set_level(hush::log::Level::Warn);
  auto policy = hush::build_policy(cfg, false);
  if (!policy) return 1;
  const auto* sa = client_text.empty() ? nullptr : reinterpret_cast<const sockaddr*>(&client);
  auto groups = policy->groups_for(sa);
  auto d = policy->decide(name, uint16_t(type), groups, sa);
  std::cout << name << " " << type_text << ": " << action_name(d.action);
  if (d.action != hush::blocklists::Action::Pass)
    std::cout << " by " << d.list << " (rule " << hush::blocklists::rule_text(d) << ")";
  if (d.forced == hush::blocklists::Forced::NxDomain) std::cout << ", answered NXDOMAIN";
  else if (d.action == hush::blocklists::Action::Block) std::cout << ", answered with " << cfg.blocking.mode;
  else std::cout << ", forwarded upstream";
  std::cout << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hush: a DNS sinkhole resolver"};
  app.require_subcommand(1);

  Overrides o;
  auto* serve = app.add_subcommand("serve", "answer DNS queries");
  o.add_policy_flags(serve);
  serve->add_option("-l,--listen", o.listen, "address to listen on, ADDR:PORT or [IPv6]:PORT (repeatable)");
  serve->add_option("-u,--upstream", o.upstreams, "upstream server, ADDR[:PORT] (repeatable)");
  serve->add_option("-t,--threads", o.threads, "worker threads (default: one per core)")->check(CLI::Range(1, 256));
  serve->add_option("--log-level", o.log_level, "debug, info, warn or error");
  o.http_flag = serve->add_option("--http", o.http, "ADDR:PORT for /metrics; \"\" turns it off");
  o.user_flag = serve->add_option("--user", o.user, "user to run as after binding, when started as root; \"\" stays root");

  std::string check_file;
  auto* check = app.add_subcommand("check", "validate a configuration file");
  check->add_option("-c,--config", check_file, "TOML configuration file")->required();

  std::string query_name, query_client, query_type = "A";
  auto* query = app.add_subcommand("query", "say what hush would do with a name, and why");
  query->add_option("name", query_name, "the name to look up")->required();
  query->add_option("--client", query_client, "the asking client's IP address");
  query->add_option("--type", query_type, "record type (default A)");
  o.add_policy_flags(query);

  auto* lists = app.add_subcommand("lists", "blocklist tools");
  lists->require_subcommand(1);
  std::string list_file;
  auto* lists_check = lists->add_subcommand("check", "parse a list file and report what it holds");
  lists_check->add_option("file", list_file, "the list file")->required();
  hush::ListsCommand lists_cmd;  // add, rm, ls, update, catalog: subscriptions (cli_lists.cpp)
  hush::add_lists_commands(lists, lists_cmd);
  Overrides lists_flags;
  for (CLI::App* sub : lists_cmd.with_data_dir()) {
    sub->add_option("-c,--config", lists_flags.config_file, "TOML configuration file")->check(CLI::ExistingFile);
    sub->add_option("-d,--data-dir", lists_flags.data_dir, "directory for hush's data");
  }

  auto* local = app.add_subcommand("local", "the home's own records");
  local->require_subcommand(1);
  hush::LocalCommand local_cmd;
  hush::add_local_commands(local, local_cmd);
  Overrides local_flags;
  for (CLI::App* sub : {local_cmd.ls, local_cmd.add, local_cmd.rm}) {
    sub->add_option("-c,--config", local_flags.config_file, "TOML configuration file")->check(CLI::ExistingFile);
    sub->add_option("-d,--data-dir", local_flags.data_dir, "directory for hush's data");
  }

  auto log_cmds = hush::add_log_commands(app);  // log tail|search, stats, clients (cli_log.cpp)
  auto report_cmds = hush::add_report_command(app);  // report: companies per device (cli_report.cpp)

  auto web_cmds = hush::web::add_web_commands(app);  // passwd, token (web/cli_web.cpp)

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
  if (*lists_check) return hush::blocklists::lists_check(list_file, std::cout);

  if (hush::report_command_chosen(*report_cmds)) return hush::run_report_command(*report_cmds, std::cout, std::cerr);
  if (hush::web::web_command_chosen(*web_cmds)) return hush::web::run_web_commands(*web_cmds, std::cin, std::cout, std::cerr);

  hush::Config cfg;
  std::vector<std::string> errors;
  if (*check) {
    if (hush::load_config_file(check_file, cfg, errors) && hush::resolve(cfg, errors) &&
        hush::check_upstream_loops(cfg, errors)) {
      std::cout << check_file << ": ok\n";
      return 0;
    }
    return report(errors);
  }

  if (*local) {
    if (!local_flags.load(cfg, errors)) return report(errors);
    if (cfg.upstream.servers.empty()) cfg.upstream.servers = {"127.0.0.1"};  // not used here
    if (!hush::resolve(cfg, errors)) return report(errors);
    return hush::run_local_command(local_cmd, cfg);
  }
  if (hush::log_command_chosen(*log_cmds)) {
    hush::set_configured_data_dir(*log_cmds, cfg.server.data_dir);
    return *hush::run_log_commands(*log_cmds, std::cout, std::cerr);
  }
  if (lists_cmd.ran()) {
    if (!lists_flags.load(cfg, errors)) return report(errors);
    return hush::run_lists_command(lists_cmd, cfg);
  }
  if (!o.load(cfg, errors)) return report(errors);
  if (*query) {
    if (cfg.upstream.servers.empty()) cfg.upstream.servers = {"127.0.0.1"};  // not used by a query
    if (!hush::resolve(cfg, errors)) return report(errors);
    hush::fetch_url_lists(cfg);
    return run_query(cfg, query_name, query_client, query_type);
  }
  if (!hush::resolve(cfg, errors) || !hush::check_upstream_loops(cfg, errors)) return report(errors);
  hush::log::set_level(level_of(cfg.server.log_level));
  hush::fetch_url_lists(cfg);  // --blocklist URL: download now, or use the last good copy

  hush::ServeHooks hooks;
  hooks.version = HUSH_VERSION;
  // SIGHUP: the file again, then the same flags over it.
  hooks.reload = [&o](hush::Config& next, std::vector<std::string>& errs) {
    return o.load(next, errs) && hush::resolve(next, errs) && hush::fetch_url_lists(next);
  };
  // The HTTP server: /metrics, the dashboard and its API (web/api.cpp).
  hooks.start_http = [](const hush::Runtime& rt, const hush::Config& c) { return hush::web::start_dashboard(rt, c); };
  hooks.policy_extras = hush::web::policy_extras(cfg.server.data_dir);  // the dashboard's allow/deny, device groups
  return hush::serve(cfg, hooks);
}

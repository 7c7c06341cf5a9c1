#include "app/cli_web.hpp"

#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "web/auth.hpp"
#include "config/config.hpp"

namespace hush::web {

struct WebCommands {
  CLI::App* passwd = nullptr;
  CLI::App* token = nullptr;
  CLI::App* token_create = nullptr;
  CLI::App* token_ls = nullptr;
  CLI::App* token_rm = nullptr;
  std::string token_name, token_id, token_scope;
  bool token_read_only = false;
  std::string config_file, data_dir;
};

namespace {

void add_dir_flags(CLI::App* cmd, WebCommands& c) {
  cmd->add_option("-c,--config", c.config_file, "TOML configuration file (for server.data_dir)")
      ->check(CLI::ExistingFile);
  cmd->add_option("-d,--data-dir", c.data_dir, "directory for hush's data");
}

// A line from the terminal without echo, or from stdin as it is.
bool read_secret(std::istream& in, std::ostream& err, const char* prompt, std::string& out) {
  bool tty = &in == &std::cin && isatty(STDIN_FILENO);
  termios old{};
  if (tty) {
    err << prompt << std::flush;
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~tcflag_t(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  bool ok = bool(std::getline(in, out));
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    err << "\n";
  }
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return ok;
}

}  // namespace

std::shared_ptr<WebCommands> add_web_commands(CLI::App& app) {
  auto c = std::make_shared<WebCommands>();
  c->passwd = app.add_subcommand("passwd", "set the dashboard's admin password (from the terminal or stdin)");
  add_dir_flags(c->passwd, *c);
  c->token = app.add_subcommand("token", "API tokens for scripts (Authorization: Bearer ...)");
  c->token->require_subcommand(1);
  c->token_create = c->token->add_subcommand("create", "make a token and print it (once)");
  c->token_create->add_option("name", c->token_name, "what the token is for (default: the scope's name)");
  c->token_create->add_option("--scope", c->token_scope, "sync: may only follow this hush's settings (a replica's [sync] token)")
      ->check(CLI::IsMember({"sync"}));
  c->token_create->add_flag("--read-only", c->token_read_only, "the token may only read (GET); writes get a 403");
  c->token_ls = c->token->add_subcommand("ls", "list the tokens (id, name, created)");
  c->token_rm = c->token->add_subcommand("rm", "revoke a token");
  c->token_rm->add_option("id", c->token_id, "the token's id (from ls)")->required();
  for (CLI::App* sub : {c->token_create, c->token_ls, c->token_rm}) add_dir_flags(sub, *c);
  return c;
}

bool web_command_chosen(const WebCommands& c) { return c.passwd->parsed() || c.token->parsed(); }

int run_web_commands(const WebCommands& c, std::istream& in, std::ostream& out, std::ostream& err) {
  std::string dir = c.data_dir;
  if (dir.empty()) {
    Config cfg;
    std::vector<std::string> errors;
    if (!c.config_file.empty() && !load_config_file(c.config_file, cfg, errors)) {
      for (const std::string& e : errors) err << "hush: " << e << "\n";
      return 2;
    }
    dir = cfg.server.data_dir;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  AuthStore store(dir);
  std::string error;
  if (c.passwd->parsed()) {
    std::string first, second;
    if (!read_secret(in, err, "New dashboard password: ", first)) {
      err << "hush: no password given\n";
      return 2;
    }
    if (&in == &std::cin && isatty(STDIN_FILENO)) {
      if (!read_secret(in, err, "Again: ", second) || second != first) {
        err << "hush: the passwords differ\n";
        return 2;
      }
    }
    if (!store.set_password(first, error)) {
      err << "hush: " << error << "\n";
      return first.size() < 8 ? 2 : 1;
    }
    out << "password set in " << store.path() << "\n";
    return 0;
  }
  if (c.token_create->parsed()) {
    std::string name = c.token_name.empty() ? c.token_scope : c.token_name;
    if (name.empty()) {
      err << "hush: name the token (what it is for)\n";
      return 2;
    }
    std::string token = store.create_token(name, error, c.token_read_only ? Role::ReadOnly : Role::Admin, c.token_scope);
    if (token.empty()) {
      err << "hush: " << error << "\n";
      return 1;
    }
    out << token << "\n";
    return 0;
  }
  if (c.token_ls->parsed()) {
    for (const TokenInfo& t : store.tokens())
      out << t.id << "  " << t.name << "  " << role_name(t.role) << "  created " << t.created
          << (t.scope.empty() ? "" : "  scope " + t.scope) << "\n";
    return 0;
  }
  if (c.token_rm->parsed()) {
    if (!store.remove_token(c.token_id, error)) {
      err << "hush: " << error << "\n";
      return 1;
    }
    out << "token " << c.token_id << " revoked\n";
    return 0;
  }
  return 2;
}

}  // namespace hush::web

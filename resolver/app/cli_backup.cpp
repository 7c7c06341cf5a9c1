#include "app/cli_backup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "app/cli_lists.hpp"
#include "app/exports.hpp"
#include "backup/backup.hpp"
#include "base/clock.hpp"
#include "base/file.hpp"
#include "config/config.hpp"
#include "hush/blocklists/data_dir.h"

namespace hush {

struct BackupCommands {
  CLI::App* backup = nullptr;
  CLI::App* restore = nullptr;
  std::string file, config_file, data_dir;
  bool with_lists = false, with_log = false, dry_run = false;
};

namespace {

// A backup with the log is not JSON alone (backup/backup.hpp).
std::string default_name(int64_t now, bool with_log) {
  char buf[64];
  time_t t = time_t(now);
  tm parts{};
  gmtime_r(&t, &parts);
  strftime(buf, sizeof buf, with_log ? "hush-backup-%Y%m%d-%H%M%S.backup" : "hush-backup-%Y%m%d-%H%M%S.json", &parts);
  return buf;
}

// Where a restore puts the backup's log before it moves it into place: the
// data directory, or the nearest directory above it that exists (a dry run
// creates nothing).
std::string log_parent(const std::string& data_dir) {
  std::filesystem::path p = std::filesystem::absolute(data_dir);
  std::error_code ec;
  while (!std::filesystem::is_directory(p, ec) && p.has_parent_path() && p.parent_path() != p) p = p.parent_path();
  return p.string();
}

// --data-dir, else the configuration file's server.data_dir, else (restore)
// the backup's own, else the default.
std::string data_dir_for(const BackupCommands& c, const std::string& backup_config) {
  if (!c.data_dir.empty()) return c.data_dir;
  Config cfg;
  std::vector<std::string> ignored;
  if (!c.config_file.empty() && std::filesystem::exists(c.config_file)) load_config_file(c.config_file, cfg, ignored);
  else if (!backup_config.empty()) load_config_text(backup_config, "backup", cfg, ignored);
  return cfg.server.data_dir;
}

int run_backup(const BackupCommands& c, const char* version, std::ostream& out, std::ostream& err) {
  backup::Place from{data_dir_for(c, ""), c.config_file};
  int64_t now = now_seconds();
  std::string error;
  auto made = backup::make_file(from, {c.with_lists, c.with_log, version, now}, error);
  if (!made) {
    err << "hush: backup failed: " << error << "\n";
    return 1;
  }
  if (c.file == "-") {
    out.flush();
    if (std::string e = backup::write(*made, STDOUT_FILENO); !e.empty()) {
      err << "hush: backup failed: " << e << "\n";
      return 1;
    }
    return 0;
  }
  std::string file = c.file.empty() ? default_name(now, !made->log_copy.empty()) : c.file;
  // It holds the password hash and the token hashes: readable by its owner only.
  std::string failed;
  std::string e = write_file_atomic(file, {}, 0600, [&](int fd) {
    failed = backup::write(*made, fd);
    return failed.empty();
  });
  if (!e.empty()) {
    err << "hush: " << e << (failed.empty() ? "" : " (" + failed + ")") << "\n";
    return 1;
  }
  out << "wrote " << file << " (" << made->document.size() + size_t(made->log_bytes) << " bytes) from "
      << from.data_dir << "\n";
  return 0;
}

int run_restore(const BackupCommands& c, std::ostream& out, std::ostream& err) {
  int fd = open(c.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err << "hush: cannot read " << c.file << ": " << strerror(errno) << "\n";
    return 1;
  }
  backup::Place to{"", c.config_file};
  // The log's bytes go to a file only when they are to be restored: into a
  // data directory without a log.
  auto data_dir = [&c](const nlohmann::json& contents) {
    return data_dir_for(c, contents["config"].is_string() ? contents["config"].get<std::string>() : "");
  };
  auto log_dir = [&](const nlohmann::json& contents) {
    std::string dir = data_dir(contents);
    return std::filesystem::exists(database_path(dir)) ? std::string() : log_parent(dir);
  };
  std::string error;
  auto b = backup::read([fd](char* buf, size_t n) { return long(::read(fd, buf, n)); }, log_dir, error);
  close(fd);
  if (!b) {
    err << "hush: " << c.file << ": " << error << "; nothing changed\n";
    return 1;
  }
  to.data_dir = data_dir(b->contents);
  backup::Plan plan = backup::preview(*b, to);
  out << (c.dry_run ? "would restore" : "restoring") << " into " << to.data_dir << " the backup of hush "
      << b->hush_version << " made at unix time " << b->created << ":\n"
      << backup::describe(plan);
  if (!plan.errors.empty()) {
    err << "hush: the backup has problems; nothing changed\n";
    return 1;
  }
  if (c.dry_run) return 0;
  if (refused_on_replica("", to.data_dir, err)) return 1;
  if (std::string e = backup::apply(*b, to); !e.empty()) {
    err << "hush: restore failed: " << e << "; nothing changed\n";
    return 1;
  }
  give_to_dir_owner(to.data_dir);
  out << "restored; a running hush takes the data directory's changes within seconds\n";
  return 0;
}

}  // namespace

std::shared_ptr<BackupCommands> add_backup_commands(CLI::App& app) {
  auto c = std::make_shared<BackupCommands>();
  c->backup = app.add_subcommand("backup", "write everything you set (settings, rules, devices, lists) to one file");
  c->backup->add_option("file", c->file, "where to write (default hush-backup-DATE.json, with --with-log hush-backup-DATE.backup; - for stdout)");
  c->backup->add_flag("--with-lists", c->with_lists, "also the subscribed lists' downloaded copies");
  c->backup->add_flag("--with-log", c->with_log, "also the query log (a consistent copy of the live database)");
  c->restore = app.add_subcommand("restore", "check a backup, say what it changes, and apply it whole or not at all");
  c->restore->add_option("file", c->file, "the backup file")->required()->check(CLI::ExistingFile);
  c->restore->add_flag("--dry-run", c->dry_run, "only say what would change");
  for (CLI::App* sub : {c->backup, c->restore}) {
    sub->add_option("-c,--config", c->config_file, "TOML configuration file (backed up; restored into it)");
    sub->add_option("-d,--data-dir", c->data_dir, "hush's data directory (default: the configuration's)");
  }
  return c;
}

bool backup_command_chosen(const BackupCommands& c) { return c.backup->parsed() || c.restore->parsed(); }

int run_backup_commands(const BackupCommands& c, const char* version, std::ostream& out, std::ostream& err) {
  return c.backup->parsed() ? run_backup(c, version, out, err) : run_restore(c, out, err);
}

}  // namespace hush

// `hush backup [FILE]` and `hush restore FILE [--dry-run]` (backup/backup.hpp
// says what a backup holds). Both work beside a running server: the backup
// reads the database through SQLite (the log through its online backup),
// and the restore changes the database in one transaction and the settings
// files under their lock files, which the server watches.
#pragma once

#include <iosfwd>
#include <memory>

namespace CLI {
class App;
}

namespace hush {

struct BackupCommands;

std::shared_ptr<BackupCommands> add_backup_commands(CLI::App& app);
bool backup_command_chosen(const BackupCommands& c);
// Exit code: 0 done, 1 refused or failed (nothing changed), 2 bad arguments.
int run_backup_commands(const BackupCommands& c, const char* version, std::ostream& out, std::ostream& err);

}  // namespace hush

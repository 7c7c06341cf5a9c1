// Changing keys of a configuration file in place, for the dashboard and
// `hush lists enable|disable`: only the changed values' text is replaced,
// so the user's comments, order and layout stay as they were.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hush {

// One change: the dotted key ("upstream.servers") and its new value as TOML
// text ("[\"9.9.9.9\"]"), or nullopt to remove the key (its default applies).
using ConfigEdit = std::pair<std::string, std::optional<std::string>>;

// Applies `edits` to TOML `text` into `out`. A key already in the file has
// its value's text replaced (a removed key loses its lines); a new key goes
// under its table's header, or into a new table at the end. Only keys of
// the form "table.key" are added. False (and why in `error`) when `text`
// does not parse or a key cannot be placed; checking the values is left to
// load_config_text(), as for any file.
bool edit_config_text(const std::string& text, const std::vector<ConfigEdit>& edits, std::string& out,
                      std::string& error);

// `s` as a TOML basic string, quotes included.
std::string toml_string(const std::string& s);

// The string array `key` of TOML `text` (empty when absent or not one).
std::vector<std::string> config_strings(const std::string& text, const std::string& key);

struct KeyChange;

// The one way the configuration file is written while hush runs (the
// dashboard through the server, `hush lists enable|disable`): under the
// file's lock (base/file_lock.hpp), `make` gets the text as it is and gives
// the edits; the result is checked by what `hush check` runs (problems the
// file had already are not this edit's) and written atomically. Returns
// false with `errors` (file:line: key: ..., as `hush check` says them) and
// leaves the file as it was; else fills `changed` with the keys whose
// values changed.
bool edit_config_file(const std::string& path,
                      const std::function<std::vector<ConfigEdit>(const std::string& text)>& make,
                      std::vector<KeyChange>& changed, std::vector<std::string>& errors);

// Sync (sync/feed.hpp): a replica follows the primary's configuration file
// except the keys that belong to one box: where it listens and keeps its
// data, its certificate, its own sync, export and device-name sources, and
// other paths to files on the box. True for such a dotted key.
bool key_is_local(const std::string& name);

// `text` without its local keys: what the primary offers its replicas.
// nullopt (and why in `error`) when `text` does not parse.
std::optional<std::string> shared_config_text(const std::string& text, std::string& error);

// The primary's `shared` text with the local keys of `mine` (this box's
// file) put back, each value as `mine` writes it.
bool follow_config_text(const std::string& mine, const std::string& shared, std::string& out, std::string& error);

// follow_config_text() written into the file at `path` the way
// edit_config_file() writes (lock, checks, atomic write, `changed`).
bool follow_config_file(const std::string& path, const std::string& shared, std::vector<KeyChange>& changed,
                        std::vector<std::string>& errors);

// The edit of blocking.disabled_lists that switches list `name` on or off.
ConfigEdit list_switch_edit(const std::string& text, const std::string& name, bool enabled);

}  // namespace hush

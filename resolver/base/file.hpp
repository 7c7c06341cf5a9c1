// Whole files: read at once, and replaced so that readers (and a crash) see
// the old contents or the new ones, never half of either.
#pragma once

#include <sys/types.h>

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace hush {

// The contents of `path`. nullopt when it cannot be opened or read, with
// errno saying why.
std::optional<std::string> read_file(const std::string& path);

// Writes `parts`, one after the other, to `path`.tmp (created with `mode`),
// calls `before_sync` on the open temporary if given (to chown it, say; false
// fails the write), syncs it and renames it over `path`. Owns the temporary:
// on any failure it is removed and `path` is left as it was. Returns "" or
// "cannot write <file>: <reason>", naming the temporary when it cannot be
// created and `path` otherwise.
std::string write_file_atomic(const std::string& path, std::initializer_list<std::string_view> parts,
                              mode_t mode = 0644, const std::function<bool(int fd)>& before_sync = {});

}  // namespace hush

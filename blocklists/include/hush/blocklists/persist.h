// The compiled cache file (<data_dir>/compiled.hush): CompiledLists written
// once, mapped back with mmap at start so a restart skips parsing. The big
// name sets are used in place from the mapping; the small tables are copied.
//
// Layout: a fixed header (magic, format version, key, payload size, CRC-32 of
// the payload) followed by the payload. The key fingerprints the list
// configuration and each file's size/mtime/inode, so an edited or replaced
// list makes the cache stale. Files are written to a temporary name and
// renamed, so a crash never leaves a half-written cache behind.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hush/blocklists/compiled_lists.h"

namespace hush::blocklists {

inline constexpr uint32_t kCacheVersion = 4;  // 2: 16-byte block index prefixes; 3: hashed name table; 4: subtree words in the filter

// Fingerprint of the list sources and the current state of their files.
uint64_t cache_key(const std::vector<ListSource>& sources);

// Returns an empty string on success, else what went wrong.
std::string save_compiled(const CompiledLists& lists, uint64_t key, const std::string& path);

// Maps `path` into `out`. On failure returns why ("missing", "stale: ...",
// "corrupt: ...") and leaves `out` untouched; the caller recompiles.
std::string load_compiled(const std::string& path, uint64_t key, CompiledLists& out);

}  // namespace hush::blocklists

// Lists given by URL (--blocklist https://... or a [[lists]] path that is a
// URL): a policy input that must become a local file before any build.
#pragma once

#include "config/config.hpp"

namespace hush::policy {

// Replaces every http(s):// list in cfg.lists (from --blocklist or [[lists]])
// by a local copy under <data_dir>/url-lists/: downloaded now with the
// subscription checks; when the download fails the copy from the last good
// download is used, and without one the list is reported as unreadable by the
// policy build. Logs what happened. Always returns true (for && chains).
bool fetch_url_lists(Config& cfg);

}  // namespace hush::policy

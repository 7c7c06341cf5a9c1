// Sync in the API (sync/feed.hpp says what is shared). The primary's feed:
// GET /api/sync/state?since=V&epoch=E&wait=S answers at once with the
// settings (a backup document; X-Hush-Sync-Version and X-Hush-Sync-Epoch
// headers) when it has a version newer than V or another epoch, else waits
// up to S seconds (at most 60; kMaxSyncWaits requests at once, more are
// answered without waiting) and answers 204 with the same headers when
// nothing changed. GET /api/sync/status: this hush's role, the version a
// replica holds and when it last heard from its primary, or the replicas a
// primary heard from.
#pragma once

#include <atomic>
#include <cstddef>

#include "config/config.hpp"
#include "runtime/runtime.hpp"
#include "web/http_server.hpp"
#include "web/report_api.hpp"

namespace hush::web {

inline constexpr size_t kMaxSyncWaits = 4;

// `stop` set: waiting requests end within 250 ms.
void install_sync_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard,
                         const std::atomic<bool>& stop);

}  // namespace hush::web

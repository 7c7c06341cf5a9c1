#include "web/sync_api.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <thread>

#include "base/clock.hpp"
#include "sync/feed.hpp"
#include "web/json_api.hpp"

namespace hush::web {

using json = nlohmann::json;

namespace {

struct Waits {
  std::atomic<size_t> n{0};
};

uint64_t number_param(const Request& r, const char* key, uint64_t fallback, uint64_t max) {
  std::string text = r.param(key);
  if (text.empty()) return fallback;
  if (text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos)
    throw HttpError{400, std::string(key) + ": expected a whole number"};
  return std::min<uint64_t>(std::stoull(text), max);
}

Response state(const Request& r, sync::Feed& feed, Waits& waits, const std::atomic<bool>& stop) {
  uint64_t since = number_param(r, "since", 0, UINT64_MAX);
  uint64_t wait_s = number_param(r, "wait", 0, 60);
  std::string epoch = r.param("epoch");
  feed.seen(r.remote_addr, since, now_seconds(), number_param(r, "queries", 0, UINT64_MAX),
            number_param(r, "blocked", 0, UINT64_MAX));
  // A request past the waiting slots is answered at once: the replica asks
  // again, the dashboard keeps its threads.
  bool slot = waits.n.fetch_add(1) < kMaxSyncWaits;
  if (!slot) wait_s = 0;
  std::string error;
  auto snap = feed.wait_newer(
      since, epoch, std::chrono::seconds(wait_s),
      [&stop](std::chrono::milliseconds d) {
        std::this_thread::sleep_for(d);
        return !stop.load();
      },
      error);
  waits.n.fetch_sub(1);
  if (!snap) return error_response(500, "cannot read the settings: " + error);
  bool newer = snap->epoch != epoch || snap->version > since;
  Response resp{newer ? 200 : 204, "application/json", newer ? snap->document : "", {}, {}};
  resp.headers.emplace("X-Hush-Sync-Version", std::to_string(snap->version));
  resp.headers.emplace("X-Hush-Sync-Epoch", snap->epoch);
  resp.headers.emplace("Cache-Control", "no-store");
  return resp;
}

Response status(const Runtime& rt, sync::Feed& feed) {
  Runtime::SyncState st = rt.sync_state();
  json out{{"role", st.primary.empty() ? "primary" : "replica"}};
  if (!st.primary.empty()) {
    out["primary"] = st.primary;
    out["version"] = st.version;
    out["applied"] = st.applied_unix;
    out["last_heard"] = st.heard_unix;
    out["error"] = st.error;
    out["needs_restart"] = st.needs_restart;
  }
  std::string error;
  if (auto snap = feed.refresh(error))
    out["feed"] = {{"version", snap->version}, {"epoch", snap->epoch}, {"changed", snap->changed_unix}};
  json replicas = json::array();
  for (const sync::ReplicaSeen& s : feed.replicas())
    replicas.push_back({{"address", s.address},
                        {"version", s.version},
                        {"last_seen", s.last_seen_unix},
                        {"queries", s.queries},
                        {"blocked", s.blocked}});
  out["replicas"] = replicas;
  return json_response(200, out);
}

}  // namespace

void install_sync_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard,
                         const std::atomic<bool>& stop) {
  auto feed = std::make_shared<sync::Feed>(backup::Place{cfg.server.data_dir, cfg.file}, HUSH_VERSION);
  auto waits = std::make_shared<Waits>();
  s.get("/api/sync/state", guard(false, [feed, waits, &stop](const Request& r) { return state(r, *feed, *waits, stop); }));
  s.get("/api/sync/status", guard(false, [feed, &rt](const Request&) { return status(rt, *feed); }));
}

}  // namespace hush::web

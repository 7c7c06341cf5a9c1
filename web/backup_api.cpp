#include "web/backup_api.hpp"

#include <chrono>
#include <ctime>

#include "backup/backup.hpp"
#include "base/clock.hpp"
#include "web/json_api.hpp"

namespace hush::web {

using json = nlohmann::json;

void install_backup_routes(HttpServer& s, const Runtime& rt, const Config& cfg, const Guard& guard) {
  s.get("/api/backup", guard(false, [&cfg](const Request&) {
          int64_t now = now_seconds();
          std::string error;
          auto text = backup::make({cfg.server.data_dir, cfg.file}, {false, false, HUSH_VERSION, now}, error);
          if (!text) return error_response(500, "backup failed: " + error);
          char name[64];
          time_t t = time_t(now);
          tm parts{};
          gmtime_r(&t, &parts);
          strftime(name, sizeof name, "hush-backup-%Y%m%d-%H%M%S.json", &parts);
          Response r{200, "application/json", std::move(*text), {}, {}};
          r.headers.emplace("Content-Disposition", std::string("attachment; filename=\"") + name + "\"");
          return r;
        }));
  s.post("/api/restore", guard(true, [&rt, &cfg](const Request& r) {
           std::string error;
           auto b = backup::parse(r.body, error);
           if (!b) return error_response(400, error + "; nothing changed");
           backup::Place to{cfg.server.data_dir, ""};
           backup::Plan plan = backup::preview(*b, to);
           json out = backup::to_json(plan);
           out["created"] = b->created;
           out["hush"] = b->hush_version;
           out["applied"] = false;
           if (r.param("dry_run") == "1" || r.param("dry_run") == "true") return json_response(200, out);
           if (!plan.errors.empty()) return json_response(400, out);
           if (std::string e = backup::apply(*b, to); !e.empty()) return error_response(500, e + "; nothing changed");
           out["applied"] = true;
           out["in_force"] = rt.request_policy_rebuild(std::chrono::seconds(10));
           return json_response(200, out);
         }));
}

}  // namespace hush::web

// The dashboard: the JSON REST API under /api (described in web/openapi.yaml),
// the static pages compiled into the binary (web/ui), and /metrics, all on
// the HTTP server's own threads.
//
// Auth (see auth.hpp): POST /api/login with the admin password sets an
// HttpOnly, SameSite=Strict session cookie and returns a CSRF token that
// every state-changing request must send in X-CSRF-Token; scripts use
// `Authorization: Bearer <token>` instead. Everything else under /api answers
// 401 without credentials. Every answer is JSON; a failing handler gives a
// 500 with a short message.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "runtime/runtime.hpp"
#include "tls/server_context.hpp"

namespace hush::web {

class AuthStore;
class HttpServer;

// The API's state and its routes on an HTTP server that is not listening
// yet: start_dashboard() starts it; tests and the fuzz target send it
// requests with HttpServer::handle_raw(). Nothing here prints a password.
class Dashboard {
 public:
  Dashboard(const Runtime& rt, const Config& cfg);
  // Ends live views, stops the server, then the API it calls.
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  HttpServer& server();
  AuthStore& auth();
  tls::ServerContext& tls();  // http.tls: the certificate it is served with

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The ServeHooks::start_http of `hush serve`: starts the HTTP server on
// cfg.http_addr with /metrics, the dashboard and the API. The first start
// without an admin password makes one, stores its hash and prints it once to
// stderr. Returns what keeps the server running, or null when http.listen is
// off or the address cannot be bound (logged; DNS goes on).
std::shared_ptr<void> start_dashboard(const Runtime& rt, const Config& cfg);

}  // namespace hush::web

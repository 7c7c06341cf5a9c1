// Logging in and the accounts in the dashboard's API (described in
// web/openapi.yaml): /api/login (password, then the second factor's code when
// the admin enrolled one), /api/session, /api/logout, /api/account (change
// the password, which ends every other session; enrol or remove TOTP) and
// /api/users (read-only users).
//
// Who may do what: an admin (the admin password, or an admin token) may do
// everything; a read-only user or token may only read (GET), except the
// backup and the lists of tokens and users, which hold or name credentials.
// Every other request of theirs gets a 403 that says so.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>

#include "web/auth.hpp"
#include "web/http_server.hpp"

namespace hush::web {

// Who sent a request.
struct Caller {
  bool session = false;  // a browser session (else an API token)
  std::string session_id, csrf;
  std::string user = kAdminUser;  // the session's user, or the token's name
  Role role = Role::Admin;
};
using CallerHandler = std::function<Response(const Request&, const Caller&)>;
// Wraps a handler in authenticate() and turns the HttpError it throws into its answer.
using CallerGuard = std::function<Handler(bool changes_state, CallerHandler)>;

class Accounts {
 public:
  // `secure_cookie`: the dashboard is served over HTTPS, so the session
  // cookie is marked Secure and never sent in clear text.
  Accounts(AuthStore& auth, bool secure_cookie) : auth_(auth), cookie_attributes_(secure_cookie ? kSecure : kPlain) {}

  // The caller, or nullopt with the answer in `denied`: 401 without valid
  // credentials, 403 for a write without the session's CSRF token, and 403
  // for anything a read-only caller may not do.
  std::optional<Caller> authenticate(const Request& r, bool changes_state, Response& denied);
  // Adds the routes above; `guard` wraps the ones that need a caller.
  void install(HttpServer& s, const CallerGuard& guard);

 private:
  Response login(const Request& r);
  Response change_password(const Request& r, const Caller& c);
  Response begin_totp(const Caller& c);
  Response confirm_totp(const Request& r, const Caller& c);
  Response remove_totp(const Request& r, const Caller& c);
  // The password of `user`, checked with the login limit and at most two
  // scrypt hashes at a time; throws HttpError 429 when over the limit.
  bool password_right(const Request& r, const std::string& user, const std::string& password, std::optional<Role>& role);
  // A second-factor code, within its own limit (5 a minute per address).
  bool code_right(const Request& r, const std::string& user, const std::string& code);

  static constexpr const char* kPlain = "; Path=/; HttpOnly; SameSite=Strict";
  static constexpr const char* kSecure = "; Path=/; HttpOnly; SameSite=Strict; Secure";
  AuthStore& auth_;
  const char* cookie_attributes_;
  Sessions sessions_;
  LoginLimiter passwords_;
  LoginLimiter codes_{5, 20};
  std::counting_semaphore<2> slots_{2};
  std::mutex pending_mu_;
  // Secrets shown for enrolment and not confirmed yet, by session id.
  std::map<std::string, std::string> pending_;
};

}  // namespace hush::web

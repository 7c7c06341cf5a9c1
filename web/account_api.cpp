#include "web/account_api.hpp"

#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "base/log.hpp"
#include "web/json_api.hpp"
#include "web/totp.hpp"

namespace hush::web {

namespace {

using json = nlohmann::json;

constexpr const char* kCookie = "hush_session";
constexpr size_t kMaxPending = 64;

// GETs a read-only caller may not make: they hold or name credentials.
bool admin_only_read(const std::string& path) {
  return path == "/api/backup" || path == "/api/tokens" || path == "/api/users";
}

// Changes a read-only user may make: their own password and second factor
// (the handlers act on the caller's own account only), and logging out.
bool own_account_change(const std::string& path) {
  return path == "/api/logout" || path == "/api/account/password" || path.rfind("/api/account/totp", 0) == 0;
}

// Thrown when over a limit; limited() turns it into the 429 answer.
struct TooMany {
  int64_t wait;
  std::string what;
};

template <class F>
Response limited(F&& fn) {
  try {
    return fn();
  } catch (const TooMany& t) {
    Response resp = json_response(429, json{{"error", "too many wrong " + t.what + "; try again later"}, {"retry_after", t.wait}});
    resp.headers.emplace("Retry-After", std::to_string(t.wait));
    return resp;
  }
}

}  // namespace

std::optional<Caller> Accounts::authenticate(const Request& r, bool changes_state, Response& denied) {
  Caller c;
  std::string authz = r.header("Authorization");
  if (authz.rfind("Bearer ", 0) == 0) {
    auto token = auth_.check_token(authz.substr(7));
    if (!token) {
      denied = error_response(401, "invalid API token");
      return std::nullopt;
    }
    if (token->scope == "sync" && r.path.rfind("/api/sync/", 0) != 0) {
      denied = error_response(403, "this token may only follow the sync feed (/api/sync/)");
      return std::nullopt;
    }
    c.user = token->name;
    c.role = token->role;
  } else {
    auto s = sessions_.find(r.cookie(kCookie));
    // A session made under another password (`hush passwd`, a change from
    // the dashboard, a removed user) ends here.
    if (s && s->password_hash != auth_.password_hash(s->user)) {
      sessions_.remove(s->id);
      s.reset();
    }
    if (!s) {
      denied = error_response(401, "log in first");
      return std::nullopt;
    }
    if (changes_state && !same_secret(r.header("X-CSRF-Token"), s->csrf)) {
      denied = error_response(403, "missing or wrong X-CSRF-Token header");
      return std::nullopt;
    }
    c = Caller{true, s->id, s->csrf, s->user, s->role};
  }
  bool reads = r.method == "GET" || r.method == "HEAD";
  if (c.role == Role::ReadOnly && (admin_only_read(r.path) || (!reads && !own_account_change(r.path)))) {
    denied = error_response(403, "read-only account: " + r.method + " " + r.path + " needs an admin");
    return std::nullopt;
  }
  return c;
}

bool Accounts::password_right(const Request& r, const std::string& user, const std::string& password,
                              std::optional<Role>& role) {
  if (int64_t wait = passwords_.begin(r.remote_addr)) throw TooMany{wait, "passwords"};
  // scrypt takes 32 MiB and ~0.1 s: at most two checks at a time.
  slots_.acquire();
  try {
    if (user == kAdminUser) role = auth_.check_password(password) ? std::optional(Role::Admin) : std::nullopt;
    else role = auth_.check_user(user, password);
  } catch (...) {
    slots_.release();
    throw;
  }
  slots_.release();
  if (role) passwords_.succeeded(r.remote_addr);
  return role.has_value();
}

bool Accounts::code_right(const Request& r, const std::string& user, const std::string& code) {
  if (int64_t wait = codes_.begin(r.remote_addr)) throw TooMany{wait, "codes"};
  if (!auth_.check_second_factor(code, now_seconds(), user)) return false;
  codes_.succeeded(r.remote_addr);
  return true;
}

Response Accounts::login(const Request& r) {
  return limited([&] {
  try {
    json body = parse_body(r);
    std::string user = string_field(body, "user", kAdminUser);
    if (user.empty()) user = kAdminUser;
    std::string password = string_field(body, "password");
    std::string code = string_field(body, "code");
    std::optional<Role> role;
    if (!password_right(r, user, password, role)) return error_response(401, "wrong password");
    if (auth_.totp_enabled(user)) {
      if (code.empty())
        return json_response(401, json{{"error", "enter the code from your authenticator app"}, {"code_required", true}});
      if (!code_right(r, user, code)) return json_response(401, json{{"error", "wrong code"}, {"code_required", true}});
    }
    Sessions::Session s = sessions_.create(auth_.password_hash(user), user, *role);
    Response resp = json_response(200, json{{"csrf", s.csrf}, {"user", user}, {"role", role_name(*role)}});
    resp.headers.emplace("Set-Cookie", std::string(kCookie) + "=" + s.id + cookie_attributes_);
    return resp;
  } catch (const HttpError& e) {
    return error_response(e.status, e.message);
  }
  });
}

Response Accounts::change_password(const Request& r, const Caller& c) {
  if (!c.session) throw HttpError{403, "log in with the password to change it (a token cannot)"};
  json body = parse_body(r);
  std::string current = string_field(body, "current"), fresh = string_field(body, "new");
  std::optional<Role> role;
  if (!password_right(r, c.user, current, role)) throw HttpError{403, "the current password is wrong"};
  std::string error;
  bool ok = c.user == kAdminUser ? auth_.set_password(fresh, error) : auth_.set_user_password(c.user, fresh, error);
  if (!ok) throw HttpError{400, error};
  // The same step as `hush passwd`: sessions made under the old password
  // end (authenticate() compares hashes); this one goes on under the new.
  sessions_.keep_only(c.user, c.session_id, auth_.password_hash(c.user));
  log::info("dashboard: password of ", c.user, " changed; other sessions ended");
  return json_response(200, json{{"ok", true}, {"other_sessions_ended", true}});
}

Response Accounts::begin_totp(const Caller& c) {
  if (!c.session) throw HttpError{403, "log in with the password to enrol (a token cannot)"};
  if (auth_.totp_enabled(c.user)) throw HttpError{409, "two-factor login is on already; turn it off first"};
  std::string secret = new_totp_secret();
  {
    std::lock_guard lock(pending_mu_);
    if (pending_.size() >= kMaxPending) pending_.clear();
    pending_[c.session_id] = secret;
  }
  std::string uri = totp_uri(secret, c.user);
  return json_response(200, json{{"secret", base32(secret)}, {"uri", uri}, {"qr_svg", qr_svg(uri)}});
}

Response Accounts::confirm_totp(const Request& r, const Caller& c) {
  json body = parse_body(r);
  std::string code = string_field(body, "code");
  std::string secret;
  {
    std::lock_guard lock(pending_mu_);
    auto it = pending_.find(c.session_id);
    if (it == pending_.end()) throw HttpError{409, "start the enrolment first (POST /api/account/totp)"};
    secret = it->second;
  }
  if (int64_t wait = codes_.begin(r.remote_addr)) throw TooMany{wait, "codes"};
  if (!totp_step(secret, code, now_seconds())) throw HttpError{400, "wrong code: check the phone's clock and try the next one"};
  codes_.succeeded(r.remote_addr);
  std::string error;
  std::vector<std::string> recovery = auth_.enable_totp(secret, error, c.user);
  if (recovery.empty()) throw HttpError{500, error};
  {
    std::lock_guard lock(pending_mu_);
    pending_.erase(c.session_id);
  }
  log::info("dashboard: two-factor login turned on for ", c.user);
  return json_response(200, json{{"enabled", true}, {"recovery_codes", recovery}});
}

Response Accounts::remove_totp(const Request& r, const Caller& c) {
  if (!c.session) throw HttpError{403, "log in with the password to do this (a token cannot)"};
  json body = parse_body(r);
  std::optional<Role> role;
  if (!password_right(r, c.user, string_field(body, "password"), role)) throw HttpError{403, "the password is wrong"};
  if (!auth_.totp_enabled(c.user)) return json_response(200, json{{"enabled", false}});
  if (!code_right(r, c.user, string_field(body, "code"))) throw HttpError{403, "wrong code"};
  std::string error;
  if (!auth_.disable_totp(error, c.user)) throw HttpError{500, error};
  log::info("dashboard: two-factor login turned off for ", c.user);
  return json_response(200, json{{"enabled", false}});
}

void Accounts::install(HttpServer& s, const CallerGuard& guard) {
  // Login and the session: the only routes open without credentials.
  s.post("/api/login", [this](const Request& r) { return login(r); });
  s.post("/api/logout", guard(true, [this](const Request&, const Caller& c) {
           if (c.session) sessions_.remove(c.session_id);
           Response resp = json_response(200, json{{"ok", true}});
           resp.headers.emplace("Set-Cookie", std::string(kCookie) + "=" + cookie_attributes_ + "; Max-Age=0");
           return resp;
         }));
  // A page asks this first on every visit: a browser without a live session
  // (none yet, logged out, expired) is an expected answer (200, logged_in
  // false), not an error its console would report. A wrong token is a 401.
  s.get("/api/session", [this](const Request& r) {
    Response denied;
    auto c = authenticate(r, false, denied);
    if (c)
      return json_response(200, json{{"logged_in", true}, {"csrf", c->csrf}, {"via", c->session ? "session" : "token"},
                                     {"user", c->user}, {"role", role_name(c->role)}});
    if (r.header("Authorization").empty()) return json_response(200, json{{"logged_in", false}});
    return denied;
  });
  s.get("/api/account", guard(false, [this](const Request&, const Caller& c) {
          // A token's name is no account: it has no second factor.
          bool account = c.session;
          return json_response(200, json{{"user", c.user},
                                         {"role", role_name(c.role)},
                                         {"via", c.session ? "session" : "token"},
                                         {"totp_enabled", account && auth_.totp_enabled(c.user)},
                                         {"recovery_codes_left", account ? auth_.recovery_codes_left(c.user) : 0}});
        }));
  s.put("/api/account/password", guard(true, [this](const Request& r, const Caller& c) { return limited([&] { return change_password(r, c); }); }));
  s.post("/api/account/totp", guard(true, [this](const Request&, const Caller& c) { return begin_totp(c); }));
  s.post("/api/account/totp/confirm", guard(true, [this](const Request& r, const Caller& c) { return limited([&] { return confirm_totp(r, c); }); }));
  s.del("/api/account/totp", guard(true, [this](const Request& r, const Caller& c) { return limited([&] { return remove_totp(r, c); }); }));
  s.get("/api/users", guard(false, [this](const Request&, const Caller&) {
          json out = json::array();
          for (const UserInfo& u : auth_.users())
            out.push_back({{"name", u.name}, {"role", role_name(u.role)}, {"created", u.created}});
          return json_response(200, json{{"users", out}});
        }));
  s.post("/api/users", guard(true, [this](const Request& r, const Caller&) {
           json body = parse_body(r);
           std::string name = string_field(body, "name"), error;
           if (string_field(body, "role", "read-only") != "read-only")
             throw HttpError{400, "role: users are read-only (the admin is the only admin)"};
           if (!auth_.add_user(name, string_field(body, "password"), error)) throw HttpError{400, error};
           return json_response(201, json{{"name", name}, {"role", "read-only"}});
         }));
  s.del("/api/users/([a-z0-9_.-]{1,32})", guard(true, [this](const Request& r, const Caller&) {
          std::string error;
          if (!auth_.remove_user(r.matches.at(1), error)) throw HttpError{404, error};
          return json_response(200, json{{"ok", true}});
        }));
}

}  // namespace hush::web

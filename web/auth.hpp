// Who may use the dashboard and the API: one admin password (scrypt hash)
// with an optional second factor (TOTP, see totp.hpp, and one-time recovery
// codes), read-only users (a name and a password each), API tokens for
// scripts (SHA-256 of a 256-bit random secret; admin or read-only), browser
// sessions with a CSRF token each, and a limit on failed logins and codes.
//
// The password hashes, the TOTP secret and the token and recovery-code hashes
// live in <data_dir>/web-auth.json
// (mode 0600), written through a temporary file and re-read when another
// process (`hush passwd`, `hush token create`) changed it. Nothing here
// throws for expected failures: they come back as false plus a message.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/random_hex.hpp"

namespace hush::web {

// "scrypt$<log2 N>$<r>$<p>$<salt hex>$<hash hex>", about 0.1 s and 32 MiB.
std::string hash_password(const std::string& password);
// Constant-time comparison against a hash_password() result.
bool verify_password(const std::string& password, const std::string& encoded);

// What a credential may do: everything, or only read (GET).
enum class Role { Admin, ReadOnly };
const char* role_name(Role r);
// "admin" or "read-only"; nullopt for anything else.
std::optional<Role> parse_role(std::string_view text);

// The admin's account name: read-only users cannot take it.
inline constexpr const char* kAdminUser = "admin";

struct TokenInfo {
  std::string id;    // public part, shown in lists
  std::string name;  // what the user called it
  int64_t created = 0;
  Role role = Role::Admin;
  std::string scope;  // "": every route; "sync": only the sync feed a replica follows
};

struct UserInfo {
  std::string name;
  Role role = Role::ReadOnly;
  int64_t created = 0;
};

// How many recovery codes enrolment gives.
inline constexpr size_t kRecoveryCodes = 10;

class AuthStore {
 public:
  explicit AuthStore(std::string data_dir);

  const std::string& path() const { return path_; }
  bool has_password();
  // Sets the admin password (at least 8 characters). Every API token stays.
  bool set_password(const std::string& password, std::string& error);
  // When no password is set: makes a random one, stores its hash and
  // returns it (to be shown once). nullopt when one exists or on error.
  std::optional<std::string> ensure_password(std::string& error);
  bool check_password(const std::string& password);
  // The stored hash (salted, so a new one each time the password is set,
  // even to the same text), re-read when the file changed; "" when none.
  std::string password_hash();

  // The password hash of `user` (kAdminUser or a read-only user); "" when
  // there is no such user. Sessions compare it to the one they were made
  // under, so any new password ends the sessions made under the old one.
  std::string password_hash(const std::string& user);

  // Read-only users: names are 1 to 32 of a-z, 0-9, _, - and ., not "admin".
  bool add_user(const std::string& name, const std::string& password, std::string& error);
  bool set_user_password(const std::string& name, const std::string& password, std::string& error);
  bool remove_user(const std::string& name, std::string& error);
  std::vector<UserInfo> users();
  // The user's role when `password` is theirs (scrypt: call it rarely).
  std::optional<Role> check_user(const std::string& name, const std::string& password);

  // A second factor per account (the admin's or a read-only user's). A
  // secret is only stored once a code from it was confirmed; enabling
  // returns the recovery codes (shown once, stored as hashes). For an
  // unknown user: not enabled, and enabling fails.
  bool totp_enabled(const std::string& user = kAdminUser);
  std::vector<std::string> enable_totp(const std::string& secret, std::string& error,
                                       const std::string& user = kAdminUser);
  bool disable_totp(std::string& error, const std::string& user = kAdminUser);
  size_t recovery_codes_left(const std::string& user = kAdminUser);
  // A code from the user's app (each time step's code works once: a code
  // seen on the way in cannot be replayed) or one of their unused recovery
  // codes (then used up). False when neither, or when no second factor is
  // enrolled.
  bool check_second_factor(const std::string& code, int64_t unix_seconds, const std::string& user = kAdminUser);

  // Returns the token text ("hush_<id>_<secret>"), shown once; "" on error.
  // `scope`: "" or "sync" (see TokenInfo).
  std::string create_token(const std::string& name, std::string& error, Role role = Role::Admin,
                           const std::string& scope = "");
  bool remove_token(const std::string& id, std::string& error);
  std::vector<TokenInfo> tokens();
  // The token's id, name, role and scope when `token` is a valid token, else nullopt.
  std::optional<TokenInfo> check_token(const std::string& token);

 private:
  struct Token {
    TokenInfo info;
    std::string hash;  // hex SHA-256 of the whole token text
  };
  struct SecondFactor {
    std::string secret;                 // hex; "" when none
    uint64_t last_step = 0;             // the newest time step whose code was used
    std::vector<std::string> recovery;  // hex SHA-256 of each unused code
  };
  struct User {
    UserInfo info;
    std::string password_hash;
    SecondFactor totp;
  };
  struct State {
    std::string password_hash;
    std::vector<Token> tokens;
    std::vector<User> users;
    SecondFactor totp;  // the admin's
  };
  // The user's second factor in `s`; nullptr for an unknown user.
  static SecondFactor* factor_of(State& s, const std::string& user);
  // Runs `change` on a fresh copy of the state under both locks and saves it.
  template <class F>
  bool update(std::string& error, F&& change);
  // Re-reads the file when it changed on disk. Call with mu_ held.
  void refresh();
  // Re-reads it whatever its time and size say (two writes within one
  // timestamp tick can leave both the same). Call with mu_ and the file lock
  // held, before a change: the server and the CLI both write this file.
  void reread();
  bool save(const State& s, std::string& error);

  std::string path_;
  std::mutex mu_;
  State state_;
  int64_t seen_mtime_ns_ = -1;
  int64_t seen_size_ = -1;
};

// In-memory browser sessions: a random id (the HttpOnly cookie) and a CSRF
// token the page sends back in X-CSRF-Token. Thread-safe.
class Sessions {
 public:
  using Clock = std::chrono::steady_clock;
  struct Session {
    std::string id, csrf;
    Clock::time_point last_used, created;
    std::string password_hash;  // the user's password hash when it was created
    std::string user = kAdminUser;
    Role role = Role::Admin;
  };
  explicit Sessions(std::chrono::seconds idle = std::chrono::hours(24),
                    std::chrono::seconds max_age = std::chrono::hours(24 * 7), size_t max_sessions = 256)
      : idle_(idle), max_age_(max_age), max_(max_sessions) {}

  // `password_hash`: AuthStore::password_hash(user) at login.
  Session create(std::string password_hash = "", std::string user = kAdminUser, Role role = Role::Admin);
  // The session for cookie value `id`, refreshed; nullopt when unknown or
  // expired. Given the current password hash, a session made under another
  // one is ended too: a new password (`hush passwd`) logs every browser out.
  std::optional<Session> find(const std::string& id, std::optional<std::string_view> password_hash = std::nullopt);
  void remove(const std::string& id);
  // After the user's own password change: session `keep` goes on under the
  // new hash; every other session of `user` ends now.
  void keep_only(const std::string& user, const std::string& keep, const std::string& new_hash);

 private:
  std::mutex mu_;
  std::map<std::string, Session> by_id_;
  std::chrono::seconds idle_, max_age_;
  size_t max_;
};

// Password checks per `window`: at most `per_address` from one address and
// `overall` from all addresses together. An attempt is counted when it
// begins and uncounted only when it succeeds, so parallel guesses cannot slip
// between the check and the count, and a flood of new addresses cannot wipe
// the record of a locked-out one (addresses past `max_addresses` share the
// overall count only). Thread-safe.
class LoginLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginLimiter(size_t per_address = 5, size_t overall = 20,
                        std::chrono::seconds window = std::chrono::seconds(60), size_t max_addresses = 10000)
      : per_address_(per_address), overall_(overall), window_(window), max_addresses_(max_addresses) {}
  // Takes an attempt for `addr`: 0 when it may check a password now (the
  // attempt counts as a failure until succeeded()), else the seconds to wait.
  int64_t begin(const std::string& addr, Clock::time_point now = Clock::now());
  // The attempt begun for `addr` was right: it no longer counts, nor do the
  // address's earlier failures.
  void succeeded(const std::string& addr);

 private:
  using Times = std::deque<Clock::time_point>;
  void age(Times& q, Clock::time_point now) const;
  int64_t wait(const Times& q, Clock::time_point now) const;
  std::mutex mu_;
  std::map<std::string, Times> by_address_;
  Times all_;
  size_t per_address_, overall_;
  std::chrono::seconds window_;
  size_t max_addresses_;
};

// Constant-time equality of two strings (their lengths may leak).
bool same_secret(const std::string& a, const std::string& b);

}  // namespace hush::web

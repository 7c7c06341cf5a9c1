// Who may use the dashboard and the API: one admin password (scrypt hash),
// API tokens for scripts (SHA-256 of a 256-bit random secret), browser
// sessions with a CSRF token each, and a limit on failed logins.
//
// The password hash and the token hashes live in <data_dir>/web-auth.json
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

struct TokenInfo {
  std::string id;    // public part, shown in lists
  std::string name;  // what the user called it
  int64_t created = 0;
  std::string scope;  // "": every route; "sync": only the sync feed a replica follows
};

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

  // Returns the token text ("hush_<id>_<secret>"), shown once; "" on error.
  // `scope`: "" or "sync" (see TokenInfo).
  std::string create_token(const std::string& name, std::string& error, const std::string& scope = "");
  bool remove_token(const std::string& id, std::string& error);
  std::vector<TokenInfo> tokens();
  // The token's name when `token` is a valid token, else nullopt.
  std::optional<std::string> check_token(const std::string& token);
  // The token's details when `token` is a valid token, else nullopt.
  std::optional<TokenInfo> find_token(const std::string& token);

 private:
  struct Token {
    TokenInfo info;
    std::string hash;  // hex SHA-256 of the whole token text
  };
  struct State {
    std::string password_hash;
    std::vector<Token> tokens;
  };
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
    std::string password_hash;  // the admin password's hash when it was created
  };
  explicit Sessions(std::chrono::seconds idle = std::chrono::hours(24),
                    std::chrono::seconds max_age = std::chrono::hours(24 * 7), size_t max_sessions = 256)
      : idle_(idle), max_age_(max_age), max_(max_sessions) {}

  // `password_hash`: AuthStore::password_hash() at login.
  Session create(std::string password_hash = "");
  // The session for cookie value `id`, refreshed; nullopt when unknown or
  // expired. Given the current password hash, a session made under another
  // one is ended too: a new password (`hush passwd`) logs every browser out.
  std::optional<Session> find(const std::string& id, std::optional<std::string_view> password_hash = std::nullopt);
  void remove(const std::string& id);

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

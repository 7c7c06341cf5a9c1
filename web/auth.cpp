#include "web/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "base/file.hpp"
#include "base/clock.hpp"
#include "base/file_lock.hpp"
#include "web/totp.hpp"

namespace hush::web {

namespace {

using json = nlohmann::json;

constexpr int kLogN = 15;  // N = 32768, r = 8: 32 MiB and about 0.1 s a hash
constexpr int kR = 8;
constexpr int kP = 1;
constexpr size_t kHashBytes = 32;

std::string to_hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

bool from_hex(const std::string& s, std::vector<unsigned char>& out) {
  if (s.size() % 2) return false;
  out.clear();
  for (size_t i = 0; i < s.size(); i += 2) {
    auto v = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = v(s[i]), lo = v(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  return true;
}

bool scrypt(const std::string& password, const std::vector<unsigned char>& salt, int log_n, int r, int p,
            unsigned char* out, size_t out_len) {
  uint64_t n = uint64_t(1) << log_n;
  uint64_t maxmem = 128ull * r * n + (16ull << 20);
  return EVP_PBE_scrypt(password.data(), password.size(), salt.data(), salt.size(), n, uint64_t(r),
                        uint64_t(p), maxmem, out, out_len) == 1;
}

std::string sha256_hex(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  return to_hex(md, len);
}


bool valid_user_name(const std::string& name) {
  if (name.empty() || name.size() > 32 || name == kAdminUser) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

bool password_ok(const std::string& password, std::string& error) {
  error.clear();
  if (password.size() < 8) error = "the password must have at least 8 characters";
  else if (password.size() > 1024) error = "the password is too long";
  return error.empty();
}

// A second factor's fields, in the file's top level for the admin (where
// they were before read-only users could have one) or in a user's entry.
template <class Factor>
void read_factor(const json& j, Factor& f) {
  f.secret = j.value("totp_secret", "");
  f.last_step = j.value("totp_last_step", uint64_t(0));
  for (const json& h : j.value("recovery", json::array()))
    if (h.is_string()) f.recovery.push_back(h.get<std::string>());
}

template <class Factor>
void write_factor(const Factor& f, json& j) {
  if (f.secret.empty()) return;
  j["totp_secret"] = f.secret;
  j["totp_last_step"] = f.last_step;
  j["recovery"] = f.recovery;
}

}  // namespace

const char* role_name(Role r) { return r == Role::Admin ? "admin" : "read-only"; }

std::optional<Role> parse_role(std::string_view text) {
  if (text == "admin") return Role::Admin;
  if (text == "read-only") return Role::ReadOnly;
  return std::nullopt;
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}


std::string hash_password(const std::string& password) {
  std::vector<unsigned char> salt;
  from_hex(random_hex(16), salt);
  unsigned char out[kHashBytes];
  if (!scrypt(password, salt, kLogN, kR, kP, out, sizeof out)) throw std::runtime_error("scrypt failed");
  return "scrypt$" + std::to_string(kLogN) + "$" + std::to_string(kR) + "$" + std::to_string(kP) + "$" +
         to_hex(salt.data(), salt.size()) + "$" + to_hex(out, sizeof out);
}

bool verify_password(const std::string& password, const std::string& encoded) {
  std::vector<std::string> parts;
  std::stringstream in(encoded);
  for (std::string part; std::getline(in, part, '$');) parts.push_back(part);
  if (parts.size() != 6 || parts[0] != "scrypt") return false;
  int log_n = 0, r = 0, p = 0;
  try {
    log_n = std::stoi(parts[1]);
    r = std::stoi(parts[2]);
    p = std::stoi(parts[3]);
  } catch (...) {
    return false;
  }
  if (log_n < 10 || log_n > 20 || r < 1 || r > 32 || p < 1 || p > 4) return false;
  std::vector<unsigned char> salt, want;
  if (!from_hex(parts[4], salt) || !from_hex(parts[5], want) || want.empty() || want.size() > 64) return false;
  std::vector<unsigned char> got(want.size());
  if (!scrypt(password, salt, log_n, r, p, got.data(), got.size())) return false;
  return CRYPTO_memcmp(got.data(), want.data(), got.size()) == 0;
}

AuthStore::AuthStore(std::string data_dir) : path_(std::move(data_dir) + "/web-auth.json") {}

void AuthStore::reread() {
  seen_mtime_ns_ = seen_size_ = -1;
  refresh();
}

void AuthStore::refresh() {
  struct stat st{};
  if (::stat(path_.c_str(), &st) != 0) {
    state_ = {};
    seen_mtime_ns_ = seen_size_ = -1;
    return;
  }
  int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (mtime == seen_mtime_ns_ && int64_t(st.st_size) == seen_size_) return;
  std::ifstream in(path_);
  State s;
  try {
    json j = json::parse(in);
    s.password_hash = j.value("password", "");
    for (const json& t : j.value("tokens", json::array())) {
      Token tok;
      tok.info.id = t.value("id", "");
      tok.info.name = t.value("name", "");
      tok.info.created = t.value("created", int64_t(0));
      tok.info.scope = t.value("scope", "");
      tok.hash = t.value("hash", "");
      // A token from before roles could do everything.
      tok.info.role = parse_role(t.value("role", "admin")).value_or(Role::ReadOnly);
      if (!tok.info.id.empty() && !tok.hash.empty()) s.tokens.push_back(std::move(tok));
    }
    for (const json& u : j.value("users", json::array())) {
      User user;
      user.info.name = u.value("name", "");
      user.info.created = u.value("created", int64_t(0));
      user.info.role = parse_role(u.value("role", "read-only")).value_or(Role::ReadOnly);
      user.password_hash = u.value("password", "");
      read_factor(u, user.totp);
      if (!user.info.name.empty() && !user.password_hash.empty()) s.users.push_back(std::move(user));
    }
    read_factor(j, s.totp);
  } catch (const std::exception&) {
    // A damaged file locks everyone out rather than letting anyone in.
    s = {};
    s.password_hash = "!";
  }
  state_ = std::move(s);
  seen_mtime_ns_ = mtime;
  seen_size_ = st.st_size;
}

bool AuthStore::save(const State& s, std::string& error) {
  json j;
  j["password"] = s.password_hash;
  j["tokens"] = json::array();
  for (const Token& t : s.tokens)
    j["tokens"].push_back({{"id", t.info.id}, {"name", t.info.name}, {"created", t.info.created}, {"hash", t.hash},
                           {"role", role_name(t.info.role)}, {"scope", t.info.scope}});
  j["users"] = json::array();
  for (const User& u : s.users) {
    json entry{{"name", u.info.name}, {"role", role_name(u.info.role)}, {"created", u.info.created},
               {"password", u.password_hash}};
    write_factor(u.totp, entry);
    j["users"].push_back(std::move(entry));
  }
  write_factor(s.totp, j);
  std::string text = j.dump(2) + "\n";
  // `sudo hush passwd` on a data directory that the service user owns: give
  // the file to that user, or the server could not read it.
  struct stat dir{};
  std::string parent = path_.substr(0, path_.find_last_of('/') + 1) + ".";
  bool give_away = ::geteuid() == 0 && ::stat(parent.c_str(), &dir) == 0 && dir.st_uid != 0;
  error = write_file_atomic(path_, {text}, 0600,
                            [&](int fd) { return !give_away || ::fchown(fd, dir.st_uid, dir.st_gid) == 0; });
  if (!error.empty()) return false;
  state_ = s;
  seen_mtime_ns_ = seen_size_ = -1;  // re-stat on the next refresh()
  return true;
}

bool AuthStore::has_password() {
  std::lock_guard lock(mu_);
  refresh();
  return !state_.password_hash.empty();
}

template <class F>
bool AuthStore::update(std::string& error, F&& change) {
  std::lock_guard lock(mu_);
  FileLock file_lock(path_);
  reread();
  State s = state_;
  if (!change(s)) return false;
  return save(s, error);
}

bool AuthStore::set_password(const std::string& password, std::string& error) {
  if (!password_ok(password, error)) return false;
  std::string hash = hash_password(password);
  return update(error, [&](State& s) {
    s.password_hash = hash;
    return true;
  });
}

std::string AuthStore::password_hash(const std::string& user) {
  std::lock_guard lock(mu_);
  refresh();
  if (user == kAdminUser) return state_.password_hash;
  for (const User& u : state_.users)
    if (u.info.name == user) return u.password_hash;
  return "";
}

bool AuthStore::add_user(const std::string& name, const std::string& password, std::string& error) {
  if (!valid_user_name(name)) {
    error = "a user name is 1 to 32 of a-z, 0-9, _, - and . (and not admin)";
    return false;
  }
  if (!password_ok(password, error)) return false;
  std::string hash = hash_password(password);
  return update(error, [&](State& s) {
    for (const User& u : s.users)
      if (u.info.name == name) error = "there is a user " + name + " already";
    if (error.empty() && s.users.size() >= 20) error = "at most 20 users";
    if (!error.empty()) return false;
    s.users.push_back({{name, Role::ReadOnly, now_seconds()}, hash});
    return true;
  });
}

bool AuthStore::set_user_password(const std::string& name, const std::string& password, std::string& error) {
  if (!password_ok(password, error)) return false;
  std::string hash = hash_password(password);
  return update(error, [&](State& s) {
    for (User& u : s.users)
      if (u.info.name == name) {
        u.password_hash = hash;
        return true;
      }
    error = "no user " + name;
    return false;
  });
}

bool AuthStore::remove_user(const std::string& name, std::string& error) {
  return update(error, [&](State& s) {
    if (std::erase_if(s.users, [&](const User& u) { return u.info.name == name; })) return true;
    error = "no user " + name;
    return false;
  });
}

std::vector<UserInfo> AuthStore::users() {
  std::lock_guard lock(mu_);
  refresh();
  std::vector<UserInfo> out;
  for (const User& u : state_.users) out.push_back(u.info);
  return out;
}

std::optional<Role> AuthStore::check_user(const std::string& name, const std::string& password) {
  std::optional<UserInfo> info;
  std::string hash;
  {
    std::lock_guard lock(mu_);
    refresh();
    for (const User& u : state_.users)
      if (u.info.name == name) {
        info = u.info;
        hash = u.password_hash;
      }
  }
  if (!info || password.empty() || !verify_password(password, hash)) return std::nullopt;
  return info->role;
}

AuthStore::SecondFactor* AuthStore::factor_of(State& s, const std::string& user) {
  if (user == kAdminUser) return &s.totp;
  for (User& u : s.users)
    if (u.info.name == user) return &u.totp;
  return nullptr;
}

bool AuthStore::totp_enabled(const std::string& user) {
  std::lock_guard lock(mu_);
  refresh();
  const SecondFactor* f = factor_of(state_, user);
  return f && !f->secret.empty();
}

std::vector<std::string> AuthStore::enable_totp(const std::string& secret, std::string& error, const std::string& user) {
  // Recovery codes are 64 random bits each, so a plain SHA-256 is enough to
  // keep them from being read off the file (no guessing dictionary applies).
  std::vector<std::string> codes, hashes;
  for (size_t i = 0; i < kRecoveryCodes; ++i) {
    std::string hex = random_hex(8);
    std::string code = hex.substr(0, 4) + "-" + hex.substr(4, 4) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4);
    codes.push_back(code);
    hashes.push_back(sha256_hex(code));
  }
  bool ok = update(error, [&](State& s) {
    SecondFactor* f = factor_of(s, user);
    if (!f) {
      error = "no user " + user;
      return false;
    }
    *f = SecondFactor{to_hex(reinterpret_cast<const unsigned char*>(secret.data()), secret.size()), 0, hashes};
    return true;
  });
  if (!ok) return {};
  return codes;
}

bool AuthStore::disable_totp(std::string& error, const std::string& user) {
  return update(error, [&](State& s) {
    SecondFactor* f = factor_of(s, user);
    if (!f) {
      error = "no user " + user;
      return false;
    }
    *f = SecondFactor{};
    return true;
  });
}

size_t AuthStore::recovery_codes_left(const std::string& user) {
  std::lock_guard lock(mu_);
  refresh();
  const SecondFactor* f = factor_of(state_, user);
  return f ? f->recovery.size() : 0;
}

bool AuthStore::check_second_factor(const std::string& code, int64_t unix_seconds, const std::string& user) {
  std::string trimmed;
  for (char c : code)
    if (c != ' ') trimmed += char(std::tolower(static_cast<unsigned char>(c)));
  if (trimmed.empty() || trimmed.size() > 64) return false;
  std::string error;
  bool good = false;
  update(error, [&](State& s) {
    SecondFactor* f = factor_of(s, user);
    std::vector<unsigned char> raw;
    if (!f || f->secret.empty() || !from_hex(f->secret, raw)) return false;
    std::string secret(raw.begin(), raw.end());
    if (auto step = totp_step(secret, trimmed, unix_seconds)) {
      if (*step <= f->last_step) return false;  // already used: a replay
      f->last_step = *step;
      good = true;
      return true;
    }
    std::string hash = sha256_hex(trimmed);
    for (auto it = f->recovery.begin(); it != f->recovery.end(); ++it)
      if (same_secret(*it, hash)) {
        f->recovery.erase(it);
        good = true;
        return true;
      }
    return false;
  });
  return good && error.empty();
}

std::optional<std::string> AuthStore::ensure_password(std::string& error) {
  std::lock_guard lock(mu_);
  FileLock file_lock(path_);
  reread();
  if (!state_.password_hash.empty()) return std::nullopt;
  // 16 characters from an unambiguous alphabet: about 80 bits.
  static const char* alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::vector<unsigned char> raw;
  from_hex(random_hex(16), raw);
  std::string password;
  for (unsigned char b : raw) password += alphabet[b % 54];
  State s = state_;
  s.password_hash = hash_password(password);
  if (!save(s, error)) return std::nullopt;
  return password;
}

bool AuthStore::check_password(const std::string& password) {
  std::string hash;
  {
    std::lock_guard lock(mu_);
    refresh();
    hash = state_.password_hash;
  }
  if (hash.empty() || password.empty()) return false;
  return verify_password(password, hash);
}

std::string AuthStore::password_hash() {
  std::lock_guard lock(mu_);
  refresh();
  return state_.password_hash;
}

std::string AuthStore::create_token(const std::string& name, std::string& error, Role role, const std::string& scope) {
  if (name.empty() || name.size() > 64) {
    error = "a token needs a name of 1 to 64 characters";
    return "";
  }
  if (!scope.empty() && scope != "sync") {
    error = "a token's scope is sync, or none for every route";
    return "";
  }
  std::lock_guard lock(mu_);
  FileLock file_lock(path_);
  reread();
  if (state_.tokens.size() >= 100) {
    error = "at most 100 tokens";
    return "";
  }
  Token t;
  t.info.id = random_hex(6);
  t.info.name = name;
  t.info.created = now_seconds();
  t.info.role = role;
  t.info.scope = scope;
  std::string text = "hush_" + t.info.id + "_" + random_hex(32);
  t.hash = sha256_hex(text);
  State s = state_;
  s.tokens.push_back(t);
  if (!save(s, error)) return "";
  return text;
}

bool AuthStore::remove_token(const std::string& id, std::string& error) {
  std::lock_guard lock(mu_);
  FileLock file_lock(path_);
  reread();
  State s = state_;
  size_t before = s.tokens.size();
  std::erase_if(s.tokens, [&](const Token& t) { return t.info.id == id; });
  if (s.tokens.size() == before) {
    error = "no token " + id;
    return false;
  }
  return save(s, error);
}

std::vector<TokenInfo> AuthStore::tokens() {
  std::lock_guard lock(mu_);
  refresh();
  std::vector<TokenInfo> out;
  for (const Token& t : state_.tokens) out.push_back(t.info);
  return out;
}

std::optional<TokenInfo> AuthStore::check_token(const std::string& token) {
  if (token.rfind("hush_", 0) != 0 || token.size() > 200) return std::nullopt;
  std::string hash = sha256_hex(token);
  std::lock_guard lock(mu_);
  refresh();
  for (const Token& t : state_.tokens)
    if (same_secret(t.hash, hash)) return t.info;
  return std::nullopt;
}

Sessions::Session Sessions::create(std::string password_hash, std::string user, Role role) {
  Session s;
  s.password_hash = std::move(password_hash);
  s.user = std::move(user);
  s.role = role;
  s.id = random_hex(32);
  s.csrf = random_hex(32);
  s.created = s.last_used = Clock::now();
  std::lock_guard lock(mu_);
  if (by_id_.size() >= max_) {
    // Drop the least recently used one.
    auto oldest = by_id_.begin();
    for (auto it = by_id_.begin(); it != by_id_.end(); ++it)
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    by_id_.erase(oldest);
  }
  by_id_[s.id] = s;
  return s;
}

std::optional<Sessions::Session> Sessions::find(const std::string& id,
                                                std::optional<std::string_view> password_hash) {
  if (id.empty()) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  auto now = Clock::now();
  if (now - it->second.last_used > idle_ || now - it->second.created > max_age_ ||
      (password_hash && *password_hash != it->second.password_hash)) {
    by_id_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second;
}

void Sessions::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  by_id_.erase(id);
}

void Sessions::keep_only(const std::string& user, const std::string& keep, const std::string& new_hash) {
  std::lock_guard lock(mu_);
  std::erase_if(by_id_, [&](const auto& entry) { return entry.second.user == user && entry.first != keep; });
  if (auto it = by_id_.find(keep); it != by_id_.end()) it->second.password_hash = new_hash;
}

void LoginLimiter::age(Times& q, Clock::time_point now) const {
  while (!q.empty() && now - q.front() >= window_) q.pop_front();
}

int64_t LoginLimiter::wait(const Times& q, Clock::time_point now) const {
  auto left = std::chrono::duration_cast<std::chrono::seconds>(q.front() + window_ - now).count();
  return std::max<int64_t>(1, left + 1);
}

int64_t LoginLimiter::begin(const std::string& addr, Clock::time_point now) {
  std::lock_guard lock(mu_);
  age(all_, now);
  for (auto it = by_address_.begin(); it != by_address_.end();) {
    age(it->second, now);
    it = it->second.empty() ? by_address_.erase(it) : std::next(it);
  }
  if (all_.size() >= overall_) return wait(all_, now);
  auto it = by_address_.find(addr);
  if (it != by_address_.end() && it->second.size() >= per_address_) return wait(it->second, now);
  if (it == by_address_.end() && by_address_.size() < max_addresses_) it = by_address_.emplace(addr, Times{}).first;
  if (it != by_address_.end()) it->second.push_back(now);
  all_.push_back(now);
  return 0;
}

void LoginLimiter::succeeded(const std::string& addr) {
  std::lock_guard lock(mu_);
  if (!all_.empty()) all_.pop_back();
  by_address_.erase(addr);
}

}  // namespace hush::web

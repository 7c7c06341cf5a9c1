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


}  // namespace

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
      if (!tok.info.id.empty() && !tok.hash.empty()) s.tokens.push_back(std::move(tok));
    }
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
    j["tokens"].push_back(
        {{"id", t.info.id}, {"name", t.info.name}, {"created", t.info.created}, {"scope", t.info.scope}, {"hash", t.hash}});
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

bool AuthStore::set_password(const std::string& password, std::string& error) {
  if (password.size() < 8) {
    error = "the password must have at least 8 characters";
    return false;
  }
  if (password.size() > 1024) {
    error = "the password is too long";
    return false;
  }
  std::string hash = hash_password(password);
  std::lock_guard lock(mu_);
  FileLock file_lock(path_);
  reread();
  State s = state_;
  s.password_hash = hash;
  return save(s, error);
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

std::string AuthStore::create_token(const std::string& name, std::string& error, const std::string& scope) {
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

std::optional<std::string> AuthStore::check_token(const std::string& token) {
  auto t = find_token(token);
  if (!t) return std::nullopt;
  return t->name;
}

std::optional<TokenInfo> AuthStore::find_token(const std::string& token) {
  if (token.rfind("hush_", 0) != 0 || token.size() > 200) return std::nullopt;
  std::string hash = sha256_hex(token);
  std::lock_guard lock(mu_);
  refresh();
  for (const Token& t : state_.tokens)
    if (same_secret(t.hash, hash)) return t.info;
  return std::nullopt;
}

Sessions::Session Sessions::create(std::string password_hash) {
  Session s;
  s.password_hash = std::move(password_hash);
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

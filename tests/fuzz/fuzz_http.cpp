// Any bytes a client can send the dashboard's port: cpp-httplib's own request
// parser, then the real routes, auth (sessions, CSRF, tokens, the login
// limit) and API handlers, the phone-home report's included, over a real
// data directory (a query log with two devices and names of tracking
// companies, a blocklist, allow/deny entries, a subscriptions table).
//
// An input is one or more raw HTTP/1.1 requests. "{{session}}", "{{csrf}}",
// "{{token}}" and "{{password}}" in it become live credentials, so mutations
// reach the handlers behind the login. After every input the state it may
// have changed is put back (rules, tokens, schedules, subscriptions, the blocking
// switch; device names and groups stay as inputs set them), so inputs start
// nearly alike.
//
// Besides crashes this stops on: a 500 (a handler failed on input it should
// have refused with a 4xx), and on a dashboard left unusable for everyone
// else (no login, or no live view: a slot the input kept).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "web/api.hpp"
#include "web/auth.hpp"
#include "config/config.hpp"
#include "web/http_server.hpp"
#include "base/log.hpp"
#include "metrics/metrics.hpp"
#include "querylog/store.hpp"
#include "policy/rules.hpp"
#include "policy/inputs.hpp"
#include "hush/blocklists/data_dir.h"
#include "runtime/runtime.hpp"
#include "hush/blocklists/subscriptions/subscriptions.h"

using namespace hush;
namespace fs = std::filesystem;

namespace {

// As long as its placeholder "{{password}}", so a body's Content-Length
// still fits after the swap.
constexpr std::string_view kPassword = "fuzz-secret!";
static_assert(kPassword.size() == std::string_view("{{password}}").size());
// The harness's own requests come from another address than the inputs, so
// the login limit that inputs run into never locks the harness out.
constexpr const char* kHarnessAddr = "127.0.0.2";

[[noreturn]] void fail(const std::string& what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_http: %s\n%s\n", what.c_str(), detail.c_str());
  std::abort();
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

// A hash in hash_password()'s format at the lowest cost verify_password()
// accepts (about 1 ms instead of 0.1 s), so inputs that log in stay fast.
std::string cheap_password_hash(const std::string& password) {
  const unsigned char salt[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  unsigned char out[32];
  if (EVP_PBE_scrypt(password.data(), password.size(), salt, sizeof salt, 1 << 10, 1, 1, 16 << 20, out,
                     sizeof out) != 1)
    fail("scrypt failed", "");
  return "scrypt$10$1$1$" + hex(salt, sizeof salt) + "$" + hex(out, sizeof out);
}

// What a running hush gives the dashboard, over the same data directory:
// rebuilding the policy really builds it (configuration, the dashboard's
// allow/deny entries and device groups).
class FuzzRuntime final : public Runtime {
 public:
  explicit FuzzRuntime(const Config& cfg) : cfg_(cfg) {
    if (!request_policy_rebuild(std::chrono::milliseconds(0))) fail("the policy does not build", "");
  }
  void totals(Counters&) const override {}
  std::string metrics_text() const override {
    Counters zero;
    metrics::Snapshot s;
    s.totals = &zero;
    s.now_unix = s.lists_loaded_unix = s.started_unix = int64_t(time(nullptr));
    s.lists = lists();
    s.blocked_names = blocked_names();
    std::string out;
    metrics::render(s, out);
    return out;
  }
  Blocking blocking() const override {
    std::lock_guard lock(mu_);
    return blocking_;
  }
  void set_blocking(bool enabled, int64_t seconds) const override {
    std::lock_guard lock(mu_);
    blocking_ = {enabled, enabled || seconds == 0 ? 0 : int64_t(time(nullptr)) + seconds};
  }
  bool request_policy_rebuild(std::chrono::milliseconds) const override {
    std::vector<metrics::ListInfo> lists;
    auto built = policy::build_policy(cfg_, false, &lists);
    if (!built) return false;
    std::lock_guard lock(mu_);
    names_ = built->entry_count();
    lists_ = std::move(lists);
    return true;
  }
  size_t blocked_names() const override {
    std::lock_guard lock(mu_);
    return names_;
  }
  std::vector<metrics::ListInfo> lists() const override {
    std::lock_guard lock(mu_);
    return lists_;
  }
  std::vector<clients::Neighbour> neighbours() const override { return {}; }

 private:
  Config cfg_;
  mutable std::mutex mu_;
  mutable Blocking blocking_;
  mutable size_t names_ = 0;
  mutable std::vector<metrics::ListInfo> lists_;
};

struct Fixture {
  fs::path dir;
  Config cfg;
  std::unique_ptr<FuzzRuntime> runtime;
  std::unique_ptr<web::Dashboard> dashboard;
  std::unique_ptr<blocklists::subs::Subscriptions> subs;
  std::string auth_text, rules_text;  // as set up, put back after every input
  std::string token, session, csrf;

  Fixture() {
    // List subscriptions download with libcurl, which honours these: every
    // URL an input adds ends at a closed loopback port, never the network.
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    setenv("https_proxy", "http://127.0.0.1:9", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    log::set_level(log::Level::Error);

    std::string tmpl = (fs::temp_directory_path() / "hush-fuzz-http-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) fail("mkdtemp failed", tmpl);
    dir = tmpl;
    write_text(dir / "ads.txt", "0.0.0.0 ads.example\n0.0.0.0 tracker.example\n||metrics.example^\n");
    std::string toml =
        "[server]\n"
        "data_dir = \"" + dir.string() + "\"\n"
        "listen = [\"127.0.0.1:5399\"]\n"
        "[upstream]\nservers = [\"127.0.0.1:5398\"]\n"
        "[[lists]]\npath = \"" + (dir / "ads.txt").string() + "\"\nname = \"ads\"\n"
        "[[clients]]\naddress = \"192.0.2.0/24\"\ngroups = [\"kids\"]\nname = \"tablet\"\n"
        "[subscriptions]\nmax_bytes = 65536\nconnect_timeout_s = 1\ntotal_timeout_s = 2\n";
    std::vector<std::string> errors;
    if (!load_config_text(toml, "fuzz.toml", cfg, errors) || !resolve(cfg, errors))
      fail("bad fixture configuration", errors.empty() ? "" : errors.front());

    write_log();
    policy::RulesStore rules(cfg.server.data_dir);
    std::string error;
    if (!rules.add({"", "allow", "good.ads.example", {"default"}, "fixture", 0}, error) ||
        !rules.add({"", "deny", "||bad.example^", {"kids"}, "", 0}, error))
      fail("cannot add rules", error);
    rules_text = read_text(dir / "rules.json");

    subs = blocklists::subs::Subscriptions::open(cfg.server.data_dir, {}, error);
    if (!subs) fail("cannot open subscriptions", error);

    runtime = std::make_unique<FuzzRuntime>(cfg);
    dashboard = std::make_unique<web::Dashboard>(*runtime, cfg);
    token = dashboard->auth().create_token("fuzz", error);
    if (token.empty()) fail("cannot create a token", error);
    // The token as created, with a password that is cheap to check.
    std::string text = read_text(dir / "web-auth.json");
    size_t at = text.find("\"password\": \"\"");
    if (at == std::string::npos) fail("unexpected web-auth.json", text);
    text.replace(at, 14, "\"password\": \"" + cheap_password_hash(std::string(kPassword)) + "\"");
    auth_text = text;
    write_text(dir / "web-auth.json", auth_text);
    log_in();
  }

  ~Fixture() {
    dashboard.reset();  // joins its download threads before the directory goes
    subs.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // A query log with two devices, every status, over the last hour, filled
  // the way the DNS workers fill it.
  void write_log() {
    querylog::Options opt;
    opt.path = database_path(cfg.server.data_dir);
    querylog::Store store(opt);
    int64_t now = hush::now_us();
    store.open(now);
    if (!store.is_open()) fail("cannot open the query log", opt.path);
    // An answer with one A record, 192.0.2.7 (the question is not read).
    static const uint8_t answer[] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,  //
                                     1, 'x', 0, 0, 1, 0, 1,                          //
                                     0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 192, 0, 2, 7};
    const char* names[] = {"www.example", "ads.example", "tracking.intl.miui.com", "graph.facebook.com",
                           "xn--bcher-kva.example"};
    std::vector<querylog::Record> batch(60);
    for (int i = 0; i < 60; ++i) {
      sockaddr_in client{};
      client.sin_family = AF_INET;
      client.sin_addr.s_addr = htonl(i % 2 ? 0x7f000001 : 0xc0000201);  // 127.0.0.1, 192.0.2.1
      querylog::Event e;
      e.time_us = now - int64_t(60 - i) * 60 * 1000000;
      e.client = reinterpret_cast<const sockaddr*>(&client);
      e.name = names[i % 5];
      e.qtype = i % 3 == 0 ? 28 : 1;
      e.status = querylog::Status(i % querylog::kStatusCount);
      e.reason = e.status == querylog::Status::Blocked ? "ads: 0.0.0.0 ads.example" : "forwarded";
      e.answer = answer;
      e.answer_len = sizeof answer;
      e.upstream = "127.0.0.1:5398";
      e.latency_us = 900 + uint32_t(i);
      querylog::fill(batch[size_t(i)], e);
    }
    clients::Directory none;
    if (auto e = store.write(batch, none)) fail("cannot write the query log", e.message);
  }

  web::HttpServer::RawExchange send(const std::string& raw, const char* from = kHarnessAddr) {
    return dashboard->server().handle_raw(raw, from);
  }

  void log_in() {
    std::string body = "{\"password\": \"" + std::string(kPassword) + "\"}";
    auto ex = send("POST /api/login HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body);
    const std::string& reply = ex.bytes;
    size_t c = reply.find("hush_session=");
    size_t t = reply.find("\"csrf\":\"");
    if (ex.statuses != std::vector<int>{200} || c == std::string::npos || t == std::string::npos)
      fail("the harness cannot log in", reply);
    session = reply.substr(c + 13, reply.find(';', c) - c - 13);
    csrf = reply.substr(t + 8, 64);
  }

  std::string with_credentials(std::string in) const {
    const std::pair<const char*, const std::string*> marks[] = {
        {"{{session}}", &session}, {"{{csrf}}", &csrf}, {"{{token}}", &token}};
    static const std::string password(kPassword);
    for (auto [mark, value] : marks)
      for (size_t at = in.find(mark); at != std::string::npos; at = in.find(mark, at + value->size()))
        in.replace(at, std::string(mark).size(), *value);
    for (size_t at = in.find("{{password}}"); at != std::string::npos; at = in.find("{{password}}", at))
      in.replace(at, 12, password);
    return in;
  }

  // The session still answers and a live view can still be opened.
  void check_service(const std::string& input) {
    auto probe = [this] {
      std::string cookie = "Cookie: hush_session=" + session + "\r\n\r\n";
      return send("GET /api/session HTTP/1.1\r\n" + cookie + "GET /api/log/stream HTTP/1.1\r\n" + cookie).statuses;
    };
    std::vector<int> st = probe();
    if (st.size() == 2 && st[1] == 401) {
      // Logged out, or pushed out by the inputs' own logins: both allowed
      // (/api/session then says logged_in false, the live view 401).
      log_in();
      st = probe();
    }
    if (st != std::vector<int>{200, 200})
      fail("after this input the dashboard no longer serves a session or a live view", input);
  }

  void restore() {
    if (read_text(dir / "web-auth.json") != auth_text) write_text(dir / "web-auth.json", auth_text);
    if (read_text(dir / "rules.json") != rules_text) write_text(dir / "rules.json", rules_text);
    std::filesystem::remove(dir / "schedules.json");
    std::string error;
    for (const auto& s : subs->list()) subs->remove(s.name, error);
    runtime->set_blocking(true, 0);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  std::string input = fx.with_credentials(std::string(reinterpret_cast<const char*>(data), size));
  auto reply = fx.send(input, "127.0.0.1");
  for (int status : reply.statuses)
    if (status == 500) fail("a 500 answer", input + "\n---\n" + reply.bytes);
  fx.restore();
  fx.check_service(input);
  return 0;
}

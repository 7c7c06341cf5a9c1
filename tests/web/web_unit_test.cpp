// Unit tests of the dashboard's pieces without a server: password hashing,
// API tokens, sessions, the login limit, TOTP and recovery codes, read-only
// users, the allow/deny store, cookies and the embedded files.
#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"
#include "web/assets.hpp"
#include "web/auth.hpp"
#include "web/http_server.hpp"
#include "web/request_checks.hpp"
#include "web/totp.hpp"

namespace fs = std::filesystem;
using hush::test::TempDir;
using namespace hush::web;

TEST_CASE("passwords: scrypt hash verifies only the same password") {
  std::string h = hash_password("correct horse");
  CHECK(h.rfind("scrypt$15$8$1$", 0) == 0);
  CHECK(verify_password("correct horse", h));
  CHECK_FALSE(verify_password("correct horsE", h));
  CHECK_FALSE(verify_password("", h));
  CHECK(hash_password("correct horse") != h);  // salted
  std::string tampered = h;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  CHECK_FALSE(verify_password("correct horse", tampered));
  CHECK_FALSE(verify_password("x", "scrypt$40$8$1$00$00"));  // absurd cost refused, not attempted
  CHECK_FALSE(verify_password("x", "md5$abc"));
}

TEST_CASE("auth store: password, generated password, tokens") {
  TempDir d;
  AuthStore store(d.path.string());
  std::string error;
  CHECK_FALSE(store.has_password());
  CHECK_FALSE(store.check_password("anything"));
  auto generated = store.ensure_password(error);
  REQUIRE(generated);
  CHECK(generated->size() == 16);
  CHECK(store.check_password(*generated));
  CHECK_FALSE(store.ensure_password(error));  // only the first time
  CHECK((fs::status(store.path()).permissions() & fs::perms::others_read) == fs::perms::none);

  CHECK_FALSE(store.set_password("short", error));
  CHECK(error.find("8 characters") != std::string::npos);
  REQUIRE(store.set_password("a longer secret", error));
  CHECK_FALSE(store.check_password(*generated));
  CHECK(store.check_password("a longer secret"));

  std::string token = store.create_token("backup script", error);
  REQUIRE(token.rfind("hush_", 0) == 0);
  CHECK(store.check_token(token)->name == "backup script");
  CHECK(store.check_token(token)->role == Role::Admin);
  CHECK_FALSE(store.check_token(token + "x"));
  CHECK_FALSE(store.check_token("hush_nothing"));
  auto list = store.tokens();
  REQUIRE(list.size() == 1);
  // Another process (hush token create) writes the file: this store sees it.
  AuthStore other(d.path.string());
  std::string second = other.create_token("second", error);
  CHECK(store.check_token(second));
  REQUIRE(store.remove_token(list[0].id, error));
  CHECK_FALSE(store.check_token(token));
  CHECK_FALSE(store.remove_token(list[0].id, error));
  // Neither the password nor a token is in the file.
  std::ifstream in(store.path());
  std::string text((std::istreambuf_iterator<char>(in)), {});
  CHECK(text.find("a longer secret") == std::string::npos);
  CHECK(text.find(second) == std::string::npos);
}

TEST_CASE("auth store: run as root on the service's directory, the file goes to its owner") {
  if (::geteuid() != 0) return;  // only root can give files away; nothing to check otherwise
  TempDir d;
  REQUIRE(::chown(d.path.c_str(), 65534, 65534) == 0);
  AuthStore store(d.path.string());
  std::string error;
  REQUIRE(store.set_password("a longer secret", error));
  struct stat st{};
  REQUIRE(::stat(store.path().c_str(), &st) == 0);
  CHECK(st.st_uid == 65534u);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("auth store: a damaged file lets nobody in") {
  TempDir d;
  AuthStore store(d.path.string());
  std::string error;
  REQUIRE(store.set_password("a longer secret", error));
  std::ofstream(store.path()) << "{ not json";
  CHECK_FALSE(store.check_password("a longer secret"));
  CHECK(store.has_password());  // so no new password is generated over it
}

TEST_CASE("login limiter: five attempts a minute per address, then wait") {
  using std::chrono::seconds;
  LoginLimiter limit(5, 20, seconds(60));
  auto t0 = LoginLimiter::Clock::now();
  for (int i = 0; i < 5; ++i) CHECK(limit.begin("192.0.2.1", t0 + seconds(i)) == 0);
  int64_t wait = limit.begin("192.0.2.1", t0 + seconds(5));
  CHECK(wait > 0);
  CHECK(wait <= 56);
  CHECK(limit.begin("192.0.2.2", t0 + seconds(5)) == 0);  // per address
  CHECK(limit.begin("192.0.2.1", t0 + seconds(61)) == 0);  // the oldest aged out
  CHECK(limit.begin("192.0.2.3", t0) == 0);
  limit.succeeded("192.0.2.3");
  for (int i = 0; i < 5; ++i) CHECK(limit.begin("192.0.2.3", t0 + seconds(1)) == 0);
}

TEST_CASE("login limiter: attempts count when they begin, so parallel guesses cannot pass the check together") {
  LoginLimiter limit(5, 20, std::chrono::seconds(60));
  auto t0 = LoginLimiter::Clock::now();
  int allowed = 0;
  for (int i = 0; i < 30; ++i) allowed += limit.begin("192.0.2.1", t0) == 0;  // none has finished yet
  CHECK(allowed == 5);
}

TEST_CASE("login limiter: all addresses together get 20 a minute, and a flood of addresses resets nothing") {
  LoginLimiter limit(5, 20, std::chrono::seconds(60), 100);
  auto t0 = LoginLimiter::Clock::now();
  for (int i = 0; i < 5; ++i) REQUIRE(limit.begin("198.51.100.1", t0) == 0);
  int allowed = 0;
  for (int i = 0; i < 10000; ++i) allowed += limit.begin("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250), t0) == 0;
  CHECK(allowed == 15);
  CHECK(limit.begin("198.51.100.1", t0 + std::chrono::seconds(30)) > 0);
}

TEST_CASE("sessions: random ids, CSRF tokens, expiry and logout") {
  Sessions sessions;
  auto a = sessions.create();
  auto b = sessions.create();
  CHECK(a.id.size() == 64);
  CHECK(a.id != b.id);
  CHECK(a.csrf != a.id);
  REQUIRE(sessions.find(a.id));
  CHECK(sessions.find(a.id)->csrf == a.csrf);
  CHECK_FALSE(sessions.find(""));
  CHECK_FALSE(sessions.find(a.id + "0"));
  sessions.remove(a.id);
  CHECK_FALSE(sessions.find(a.id));
  Sessions idle(std::chrono::seconds(0));
  auto c = idle.create();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK_FALSE(idle.find(c.id));
  Sessions few(std::chrono::hours(1), std::chrono::hours(1), 2);
  auto s1 = few.create();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto s2 = few.create();
  few.find(s1.id);  // s1 used last: s2 is the one to go
  few.create();
  CHECK(few.find(s1.id));
  CHECK_FALSE(few.find(s2.id));
}

TEST_CASE("sessions: a new admin password ends the sessions made under the old one") {
  Sessions sessions;
  auto before = sessions.create("$scrypt$old");
  CHECK(sessions.find(before.id, "$scrypt$old"));
  CHECK_FALSE(sessions.find(before.id, "$scrypt$new"));
  CHECK_FALSE(sessions.find(before.id, "$scrypt$old"));  // ended for good, not only hidden
  auto after = sessions.create("$scrypt$new");
  CHECK(sessions.find(after.id, "$scrypt$new"));
}

TEST_CASE("requests: cookies and headers; errors as JSON") {
  Request r;
  r.headers.emplace("Cookie", "a=1; hush_session=abc; other=x=y");
  r.headers.emplace("x-csrf-token", "t");
  CHECK(r.cookie("hush_session") == "abc");
  CHECK(r.cookie("other") == "x=y");
  CHECK(r.cookie("missing").empty());
  CHECK(r.header("X-CSRF-Token") == "t");
  CHECK(json_error("bad \"<x>\"\n") == "{\"error\":\"bad \\\"<x>\\\"\\n\"}");
  CHECK(json_error(std::string("\xff\xfe", 2)).find("error") != std::string::npos);  // not UTF-8: still JSON
}

TEST_CASE("embedded files: the pages, uPlot and the API description") {
  for (const char* p : {"/index.html", "/app.js", "/app.css", "/vendor/uPlot.iife.min.js", "/vendor/uPlot.min.css",
                        "/openapi.yaml"}) {
    const Asset* a = find_asset(p);
    INFO(p);
    REQUIRE(a);
    CHECK(a->size > 100);
  }
  CHECK(find_asset("/index.html")->content_type == "text/html; charset=utf-8");
  CHECK(find_asset("/app.js")->content_type == "text/javascript; charset=utf-8");
  CHECK(find_asset("/app.js")->bytes().find(".innerHTML") == std::string_view::npos);
  CHECK(find_asset("/app.js")->bytes().find("insertAdjacentHTML") == std::string_view::npos);
  CHECK(find_asset("/index.html")->bytes().find("<script>") == std::string_view::npos);
  // ETags: quoted, one per content, the same for the same bytes.
  for (const Asset& a : assets()) {
    INFO(a.path);
    CHECK(a.etag.size() == 22);
    CHECK(a.etag.front() == '"');
    CHECK(a.etag.back() == '"');
  }
  CHECK(find_asset("/app.js")->etag != find_asset("/app.css")->etag);
  // index.html names each file by its hashed name, served with the same bytes
  // and marked immutable; index.html itself is not.
  std::string_view html = find_asset("/index.html")->bytes();
  CHECK_FALSE(find_asset("/index.html")->immutable);
  CHECK(html.find("\"/app.js\"") == std::string_view::npos);
  for (const char* plain : {"/app.js", "/app.css", "/phonehome.js", "/vendor/uPlot.iife.min.js", "/vendor/uPlot.min.css"}) {
    INFO(plain);
    const Asset* a = find_asset(plain);
    REQUIRE(a);
    const Asset* hashed = nullptr;
    for (const Asset& b : assets())
      if (b.immutable && b.data == a->data) hashed = &b;
    REQUIRE(hashed);
    CHECK(hashed->path != a->path);
    CHECK(html.find("\"" + std::string(hashed->path) + "\"") != std::string_view::npos);
  }
  CHECK_FALSE(find_asset("/../CMakeLists.txt"));
  CHECK_FALSE(find_asset("/ui/index.html"));
}

TEST_CASE("raw requests: httplib's parser and the routes without a socket") {
  HttpServer s;
  s.set_default_headers({{"X-Frame-Options", "DENY"}});
  s.get("/a/([0-9]+)", [](const Request& r) {
    return Response{200, "text/plain", r.matches.at(1) + " " + r.param("q") + " " + r.remote_addr, {}, {}};
  });
  s.post("/echo", [](const Request& r) { return Response{201, "text/plain", r.body, {}, {}}; });
  s.get("/fail", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  int pieces = 0;
  s.get("/stream", [&pieces](const Request&) {
    Response r;
    r.stream = [&pieces](const StreamWrite& write) {
      for (int i = 0; i < 1000 && write("piece\n"); ++i) ++pieces;
    };
    return r;
  });

  auto one = s.handle_raw("GET /a/42?q=x%20y HTTP/1.1\r\n\r\n", "192.0.2.9");
  CHECK(one.statuses == std::vector<int>{200});
  CHECK(one.bytes.find("X-Frame-Options: DENY") != std::string::npos);
  CHECK(one.bytes.substr(one.bytes.size() - 16) == "42 x y 192.0.2.9");

  // Several on one connection, a chunked body, an interim 100 Continue.
  auto many = s.handle_raw(
      "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
      "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"
      "GET /nowhere HTTP/1.1\r\n\r\n"
      "GET /fail HTTP/1.1\r\n\r\n");
  CHECK(many.statuses == std::vector<int>{201, 201, 201, 404, 500});
  CHECK(many.bytes.find("\r\n\r\nhello") != std::string::npos);
  CHECK(many.bytes.find("\r\n\r\nabc") != std::string::npos);
  CHECK(many.bytes.find("HTTP/1.1 100 Continue") != std::string::npos);
  CHECK(many.bytes.find("boom") != std::string::npos);

  // A bad request line gets a 400 (so does the empty line after it), and the
  // connection goes on, as httplib does on a socket.
  CHECK(s.handle_raw("\x01\x02 / HTTP/9\r\n\r\nGET /a/1 HTTP/1.1\r\n\r\n").statuses ==
        std::vector<int>{400, 400, 200});
  CHECK(s.handle_raw("").statuses.empty());

  // The client stops reading after the first piece of a streamed body.
  CHECK(s.handle_raw("GET /stream HTTP/1.1\r\n\r\n").statuses == std::vector<int>{200});
  CHECK(pieces <= 1);

  // A browser takes brotli and gzip: it gets gzip (brotli at httplib's
  // quality was most of a dashboard page's CPU); a client that takes only
  // brotli gets the body as it is.
  std::string text;
  for (int i = 0; i < 200; ++i) text += "{\"name\":\"host" + std::to_string(i) + ".example\"},";
  s.get("/big", [&text](const Request&) { return Response{200, "application/json", text, {}, {}}; });
  auto browser = s.handle_raw("GET /big HTTP/1.1\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n");
  REQUIRE(browser.statuses == std::vector<int>{200});
  CHECK(browser.bytes.find("Content-Encoding: gzip\r\n") != std::string::npos);
  size_t body = browser.bytes.find("\r\n\r\n");
  REQUIRE(body != std::string::npos);
  CHECK(browser.bytes.substr(body + 4, 2) == "\x1f\x8b");  // gzip's magic
  CHECK(browser.bytes.size() < body + 4 + text.size() / 2);
  auto only_br = s.handle_raw("GET /big HTTP/1.1\r\nAccept-Encoding: br\r\n\r\n");
  REQUIRE(only_br.statuses == std::vector<int>{200});
  CHECK(only_br.bytes.find("Content-Encoding") == std::string::npos);
  CHECK(only_br.bytes.substr(only_br.bytes.size() - text.size()) == text);
}

TEST_CASE("request checks: Host, Origin, Sec-Fetch-Site and the POST body's type") {
  RequestChecks checks({"hush", "hush.lan", "pi.hole"});
  auto req = [](std::string method, std::multimap<std::string, std::string> headers, std::string body = "") {
    Request r;
    r.method = std::move(method);
    r.path = "/api/login";
    r.headers = std::move(headers);
    r.body = std::move(body);
    return r;
  };
  // Hosts: addresses and hush's own names pass; a rebinding name does not.
  CHECK_FALSE(checks.check(req("GET", {{"Host", "192.168.1.2:8080"}})));
  CHECK_FALSE(checks.check(req("GET", {{"Host", "[::1]:8080"}})));
  CHECK_FALSE(checks.check(req("GET", {{"Host", "Pi.Hole."}})));
  CHECK_FALSE(checks.check(req("GET", {{"Host", "localhost:8080"}})));
  CHECK(checks.check(req("GET", {{"Host", "rebind.evil.example:8080"}}))->status == 403);
  // POSTs: JSON, or no body and a header a cross-site form cannot send.
  std::string login = R"({"password":"x"})";
  CHECK_FALSE(checks.check(req("POST", {{"Host", "hush.lan"}, {"Content-Type", "application/json"}}, login)));
  CHECK(checks.check(req("POST", {{"Host", "hush.lan"}, {"Content-Type", "text/plain"}}, login))->status == 415);
  CHECK(checks.check(req("POST", {{"Host", "hush.lan"}}, login))->status == 415);
  CHECK_FALSE(checks.check(req("POST", {{"Host", "hush.lan"}, {"X-CSRF-Token", "t"}})));
  CHECK(checks.check(req("POST", {{"Host", "hush.lan"}})));
  // Origin and Sec-Fetch-Site, when sent, must say same origin.
  CHECK_FALSE(checks.check(req("POST", {{"Host", "hush.lan:8080"}, {"Origin", "http://hush.lan:8080"},
                                       {"Sec-Fetch-Site", "same-origin"}, {"Content-Type", "application/json"}}, login)));
  CHECK(checks.check(req("POST", {{"Host", "hush.lan:8080"}, {"Origin", "http://evil.example"},
                                 {"Content-Type", "application/json"}}, login))->status == 403);
  CHECK(checks.check(req("DELETE", {{"Host", "hush.lan"}, {"Sec-Fetch-Site", "cross-site"}}))->status == 403);
}

TEST_CASE("totp: RFC 6238's test vector, one step either side, and the QR code") {
  const std::string secret = "12345678901234567890";  // RFC 6238 appendix B, SHA-1
  CHECK(totp_code(secret, 59) == "287082");
  CHECK(totp_code(secret, 1111111109) == "081804");
  CHECK(totp_step(secret, "081804", 1111111109) == std::optional<uint64_t>(1111111109 / 30));
  CHECK(totp_step(secret, "081804", 1111111109 + 30));      // a phone a step behind
  CHECK_FALSE(totp_step(secret, "081804", 1111111109 + 90));  // too old
  CHECK_FALSE(totp_step(secret, "08180", 1111111109));
  CHECK_FALSE(totp_step(secret, "08180x", 1111111109));
  CHECK(base32(secret) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  std::string uri = totp_uri(secret, "admin");
  CHECK(uri == "otpauth://totp/hush:admin?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=hush&algorithm=SHA1&digits=6&period=30");
  std::string svg = qr_svg(uri);
  CHECK(svg.rfind("<svg xmlns=", 0) == 0);
  CHECK(svg.find("h1v1h-1z") != std::string::npos);
  CHECK(new_totp_secret().size() == 20);
  CHECK(new_totp_secret() != new_totp_secret());
}

TEST_CASE("second factor: codes work once, recovery codes once, both end with disable") {
  TempDir dir;
  AuthStore store(dir.path.string());
  std::string error;
  REQUIRE(store.set_password("correct horse", error));
  CHECK_FALSE(store.totp_enabled());
  CHECK_FALSE(store.check_second_factor("123456", 1000));
  std::string secret = new_totp_secret();
  auto recovery = store.enable_totp(secret, error);
  REQUIRE(recovery.size() == kRecoveryCodes);
  CHECK(store.totp_enabled());
  int64_t now = 1700000000;
  std::string code = totp_code(secret, now);
  CHECK(store.check_second_factor(code, now));
  CHECK_FALSE(store.check_second_factor(code, now));  // a replay
  CHECK(store.check_second_factor(totp_code(secret, now + 30), now + 30));
  std::string wrong = totp_code(secret, now + 60);
  wrong[0] = wrong[0] == '9' ? '0' : char(wrong[0] + 1);
  CHECK_FALSE(store.check_second_factor(wrong, now + 60));
  // Another process (the CLI) reads the same file: it sees the used step.
  AuthStore other(dir.path.string());
  CHECK_FALSE(other.check_second_factor(totp_code(secret, now + 30), now + 30));
  CHECK(other.check_second_factor(recovery[0], now));
  CHECK_FALSE(other.check_second_factor(recovery[0], now));
  CHECK(store.recovery_codes_left() == kRecoveryCodes - 1);
  // Hashed on disk: neither the codes nor the secret in base32 appear.
  std::ifstream in(store.path());
  std::string text((std::istreambuf_iterator<char>(in)), {});
  CHECK(text.find(recovery[1]) == std::string::npos);
  CHECK(text.find(base32(secret)) == std::string::npos);
  CHECK(store.check_second_factor(" " + recovery[1] + " ", now));  // typed with spaces
  REQUIRE(store.disable_totp(error));
  CHECK_FALSE(store.totp_enabled());
  CHECK_FALSE(store.check_second_factor(recovery[2], now));
  CHECK(store.check_password("correct horse"));
}

TEST_CASE("second factor per account: a read-only user's codes are theirs alone, kept in the file") {
  TempDir dir;
  AuthStore store(dir.path.string());
  std::string error;
  REQUIRE(store.set_password("correct horse", error));
  REQUIRE(store.add_user("viewer", "viewer password", error));
  CHECK_FALSE(store.totp_enabled("viewer"));
  CHECK(store.enable_totp(new_totp_secret(), error, "nobody").empty());
  std::string secret = new_totp_secret();
  auto recovery = store.enable_totp(secret, error, "viewer");
  REQUIRE(recovery.size() == kRecoveryCodes);
  CHECK(store.totp_enabled("viewer"));
  CHECK_FALSE(store.totp_enabled());  // the admin's is still off
  int64_t now = 1700000000;
  CHECK_FALSE(store.check_second_factor(totp_code(secret, now), now));  // not the admin's code
  CHECK(store.check_second_factor(totp_code(secret, now), now, "viewer"));
  CHECK_FALSE(store.check_second_factor(totp_code(secret, now), now, "viewer"));  // a replay
  // Another process reads it from the file, with the used step and codes.
  AuthStore other(dir.path.string());
  CHECK(other.totp_enabled("viewer"));
  CHECK(other.check_second_factor(recovery[0], now, "viewer"));
  CHECK(store.recovery_codes_left("viewer") == kRecoveryCodes - 1);
  CHECK(store.recovery_codes_left() == 0);
  // The admin enrols too: two secrets, each checked for its own account.
  std::string admin_secret = new_totp_secret();
  REQUIRE(store.enable_totp(admin_secret, error).size() == kRecoveryCodes);
  CHECK_FALSE(store.check_second_factor(recovery[1], now, kAdminUser));
  CHECK(store.check_second_factor(totp_code(admin_secret, now + 30), now + 30));
  REQUIRE(store.disable_totp(error, "viewer"));
  CHECK_FALSE(store.totp_enabled("viewer"));
  CHECK(store.totp_enabled());
  CHECK(store.check_user("viewer", "viewer password") == Role::ReadOnly);
}

TEST_CASE("read-only users and tokens: roles kept in the file") {
  TempDir dir;
  AuthStore store(dir.path.string());
  std::string error;
  REQUIRE(store.set_password("correct horse", error));
  CHECK_FALSE(store.add_user("admin", "password1", error));
  CHECK_FALSE(store.add_user("Bad Name", "password1", error));
  CHECK_FALSE(store.add_user("viewer", "short", error));
  REQUIRE(store.add_user("viewer", "viewer password", error));
  CHECK_FALSE(store.add_user("viewer", "viewer password", error));
  CHECK(store.check_user("viewer", "viewer password") == std::optional<Role>(Role::ReadOnly));
  CHECK_FALSE(store.check_user("viewer", "correct horse"));
  CHECK_FALSE(store.check_user("admin", "correct horse"));  // the admin logs in through check_password
  std::string old_hash = store.password_hash("viewer");
  REQUIRE(store.set_user_password("viewer", "another password", error));
  CHECK(store.password_hash("viewer") != old_hash);
  CHECK(store.password_hash("admin") == store.password_hash());
  std::string token = store.create_token("grafana", error, Role::ReadOnly);
  AuthStore other(dir.path.string());
  REQUIRE(other.check_token(token));
  CHECK(other.check_token(token)->role == Role::ReadOnly);
  REQUIRE(other.users().size() == 1);
  CHECK(other.users()[0].role == Role::ReadOnly);
  REQUIRE(other.remove_user("viewer", error));
  CHECK(store.password_hash("viewer").empty());
  for (int i = 0; i < 20; ++i) REQUIRE(store.add_user("u" + std::to_string(i), "password1", error));
  CHECK_FALSE(store.add_user("u20", "password1", error));
  CHECK(error == "at most 20 users");
  CHECK(parse_role("read-only") == std::optional<Role>(Role::ReadOnly));
  CHECK_FALSE(parse_role("root"));
}

TEST_CASE("sessions: a password change keeps the changing session and ends the user's others") {
  Sessions sessions;
  auto mine = sessions.create("h1");
  auto other = sessions.create("h1");
  auto viewer = sessions.create("v1", "viewer", Role::ReadOnly);
  sessions.keep_only(kAdminUser, mine.id, "h2");
  CHECK(sessions.find(mine.id, "h2"));
  CHECK_FALSE(sessions.find(other.id));
  REQUIRE(sessions.find(viewer.id, "v1"));
  CHECK(sessions.find(viewer.id)->role == Role::ReadOnly);
}

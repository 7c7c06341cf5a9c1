// fetch(): one URL to one file, against the misbehaving list host.
#include <catch2/catch.hpp>

#include <chrono>

#include "helpers.hpp"
#include "hush/blocklists/subscriptions/download.h"

using namespace subs_test;
namespace subs = hush::blocklists::subs;
using Status = subs::FetchResult::Status;

namespace {
subs::FetchOptions quick() {
  subs::FetchOptions o;
  o.connect_timeout_s = 5;
  o.total_timeout_s = 10;
  return o;
}
}  // namespace

TEST_CASE("fetch: a list, then 304 with its ETag", "[download]") {
  ListServer srv;
  TempDir d;
  auto dest = (d.path() / "out").string();
  auto r = subs::fetch(srv.url("/lists/xiaomi-adblock.txt"), dest, quick());
  REQUIRE(r.status == Status::Ok);
  CHECK(r.http_code == 200);
  CHECK(read_file(dest) == read_file(data_dir() + "/xiaomi-adblock.txt"));
  REQUIRE(!r.etag.empty());
  CHECK(r.last_modified > 0);

  auto o = quick();
  o.etag = r.etag;
  auto again = subs::fetch(srv.url("/lists/xiaomi-adblock.txt"), dest + "2", o);
  CHECK(again.status == Status::NotModified);
  CHECK(again.http_code == 304);
  CHECK_FALSE(fs::exists(dest + "2"));
  CHECK(srv.log().find("/lists/xiaomi-adblock.txt 304 " + r.etag) != std::string::npos);
}

TEST_CASE("fetch: failures say why", "[download]") {
  ListServer srv;
  TempDir d;
  auto dest = (d.path() / "out").string();
  struct Case {
    const char* path;
    const char* error;
  };
  auto o = quick();
  o.max_bytes = 64 * 1024;
  for (Case c : {Case{"/status/404", "HTTP 404"}, Case{"/status/500", "HTTP 500"},
                 Case{"/loop", "redirects"}, Case{"/truncated/xiaomi-adblock.txt", "closed before"},
                 Case{"/binary", "binary"}, Case{"/big/655360", "larger than the limit"},
                 Case{"/bigstream/655360", "larger than the limit"}}) {
    INFO(c.path);
    auto r = subs::fetch(srv.url(c.path), dest, o);
    CHECK(r.status == Status::Failed);
    CHECK(r.error.find(c.error) != std::string::npos);
    CHECK_FALSE(fs::exists(dest));  // no partial body left behind
  }
  auto refused = subs::fetch("http://127.0.0.1:1/x", dest, o);
  CHECK(refused.status == Status::Failed);
  CHECK(!refused.error.empty());
  auto scheme = subs::fetch("ftp://127.0.0.1/x", dest, o);
  CHECK(scheme.status == Status::Failed);
}

TEST_CASE("fetch: the total timeout bounds a slow body", "[download]") {
  ListServer srv;
  TempDir d;
  auto o = quick();
  o.total_timeout_s = 1;
  auto t0 = std::chrono::steady_clock::now();
  auto r = subs::fetch(srv.url("/slow/xiaomi-adblock.txt"), (d.path() / "out").string(), o);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(r.status == Status::Failed);
  CHECK(r.error.find("timed out") != std::string::npos);
  CHECK(took < std::chrono::seconds(4));
}

TEST_CASE("fetch: redirects, gzip and file://", "[download]") {
  ListServer srv;
  TempDir d;
  auto dest = (d.path() / "out").string();
  const std::string want = read_file(data_dir() + "/xiaomi-adblock.txt");

  auto r = subs::fetch(srv.url("/redirect/3/lists/xiaomi-adblock.txt"), dest, quick());
  REQUIRE(r.status == Status::Ok);
  CHECK(read_file(dest) == want);
  CHECK(r.effective_url == srv.url("/lists/xiaomi-adblock.txt"));
  auto o = quick();
  o.max_redirects = 2;
  CHECK(subs::fetch(srv.url("/redirect/3/lists/xiaomi-adblock.txt"), dest, o).status == Status::Failed);

  auto g = subs::fetch(srv.url("/gzip/xiaomi-adblock.txt"), dest, quick());
  REQUIRE(g.status == Status::Ok);  // the server answers 406 unless gzip was offered
  CHECK(read_file(dest) == want);   // decoded

  auto f = subs::fetch("file://" + data_dir() + "/samsung-adblock.txt", dest, quick());
  REQUIRE(f.status == Status::Ok);
  CHECK(read_file(dest) == read_file(data_dir() + "/samsung-adblock.txt"));
}

TEST_CASE("sniff_body: HTML and binary bodies are not lists", "[download]") {
  CHECK(subs::sniff_body("<!DOCTYPE html><html><body>x</body></html>").find("HTML") != std::string::npos);
  CHECK(subs::sniff_body("\n  <html>\n<head></head></html>").find("HTML") != std::string::npos);
  CHECK(subs::sniff_body(std::string("0.0.0.0 a.com\n\0", 15)).find("binary") != std::string::npos);
  CHECK(subs::sniff_body("||a.com^\n! <html> in a comment is fine\n").empty());
  CHECK(subs::sniff_body(read_file(data_dir() + "/stevenblack-excerpt.hosts")).empty());
}

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/file.hpp"
#include "config/config.hpp"
#include "config/edit.hpp"

using hush::ConfigEdit;

namespace {
const char* kFile = R"(# my resolver
[upstream]
# the ISP's is slow
servers = ["192.0.2.1", # first
  "192.0.2.2"]  # second
timeout_ms = 1500

[blocking]
mode = "null"   # keep null
)";

std::string edit(const std::string& text, std::vector<ConfigEdit> edits) {
  std::string out, error;
  REQUIRE(hush::edit_config_text(text, edits, out, error));
  CHECK(error.empty());
  return out;
}

hush::Config load(const std::string& text) {
  hush::Config c;
  std::vector<std::string> errors;
  REQUIRE(hush::load_config_text(text, "t.toml", c, errors));
  return c;
}

std::string temp_file(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / ("hush-edit-test-" + name);
  std::ofstream(path) << text;
  return path.string();
}
}  // namespace

TEST_CASE("an edit replaces only the value's text: comments and layout stay") {
  std::string out = edit(kFile, {{"upstream.servers", R"(["9.9.9.9"])"}, {"blocking.mode", R"("nxdomain")"}});
  CHECK(out == R"(# my resolver
[upstream]
# the ISP's is slow
servers = ["9.9.9.9"]  # second
timeout_ms = 1500

[blocking]
mode = "nxdomain"   # keep null
)");
  hush::Config c = load(out);
  CHECK(c.upstream.servers == std::vector<std::string>{"9.9.9.9"});
  CHECK(c.blocking.mode == "nxdomain");
}

TEST_CASE("a new key goes under its table's header, or into a new table") {
  std::string out = edit(kFile, {{"blocking.ttl", "5"}, {"cache.max_entries", "2000"}});
  CHECK(out.find("[blocking]\nttl = 5\nmode = \"null\"") != std::string::npos);
  CHECK(out.find("\n[cache]\nmax_entries = 2000\n") != std::string::npos);
  CHECK(out.find("# the ISP's is slow") != std::string::npos);
  hush::Config c = load(out);
  CHECK(c.blocking.ttl == 5);
  CHECK(c.cache.max_entries == 2000);
  // Tables made by dotted keys get a dotted key.
  std::string dotted = edit("cache.min_ttl = 1\n", {{"cache.max_entries", "7"}});
  CHECK(load(dotted).cache.max_entries == 7);
  CHECK(load(dotted).cache.min_ttl == 1);
}

TEST_CASE("removing a key drops its lines and leaves the default") {
  std::string out = edit(kFile, {{"upstream.servers", std::nullopt}, {"absent.key", std::nullopt}});
  CHECK(out.find("servers") == std::string::npos);
  CHECK(out.find("timeout_ms = 1500") != std::string::npos);
  CHECK(load(out).upstream.servers.empty());
}

TEST_CASE("strings are quoted and escaped as TOML basic strings") {
  CHECK(hush::toml_string("a\"b\\c\n") == R"("a\"b\\c\u000a")");
  std::string out = edit(kFile, {{"blocking.mode", hush::toml_string("we\"ird")}});
  CHECK(load(out).blocking.mode == "we\"ird");
}

TEST_CASE("a file that does not parse, or a key that cannot be placed, is refused") {
  std::string out, error;
  CHECK_FALSE(hush::edit_config_text("[upstream\n", {{"upstream.servers", "[]"}}, out, error));
  CHECK(error.find("line 1") != std::string::npos);
  error.clear();
  CHECK_FALSE(hush::edit_config_text("", {{"a.b.c", "1"}}, out, error));
  CHECK(error.find("a.b.c") != std::string::npos);
}

TEST_CASE("edit_config_file checks as hush check does and leaves a bad edit unwritten") {
  std::string path = temp_file("check.toml", std::string(kFile) + "[server]\nlisten = [\"127.0.0.1:5399\"]\n");
  std::vector<hush::KeyChange> changed;
  std::vector<std::string> errors;
  auto make = [](ConfigEdit e) { return [e](const std::string&) { return std::vector<ConfigEdit>{e}; }; };
  CHECK_FALSE(hush::edit_config_file(path, make({"blocking.ttl", "999999"}), changed, errors));
  REQUIRE(errors.size() == 1);
  // The same words as `hush check`: the file, the line, the key, the bounds.
  CHECK(errors[0] == path + ":9: blocking.ttl: expected an integer from 0 to 86400");
  CHECK(hush::read_file(path)->find("999999") == std::string::npos);
  errors.clear();
  CHECK_FALSE(hush::edit_config_file(path, make({"blocking.mode", "\"loud\""}), changed, errors));
  CHECK(errors.at(0).find("blocking.mode: expected one of null, nxdomain, nodata, ip") != std::string::npos);
  errors.clear();
  REQUIRE(hush::edit_config_file(path, make({"cache.max_entries", "500"}), changed, errors));
  CHECK(errors.empty());
  REQUIRE(changed.size() == 1);
  CHECK(changed[0].name == "cache.max_entries");
  CHECK_FALSE(changed[0].live);
  CHECK(hush::read_file(path)->find("# keep null") != std::string::npos);
  std::filesystem::remove(path);
}

TEST_CASE("switching a list off and on edits blocking.disabled_lists, a live key") {
  std::string text = kFile;
  ConfigEdit off = hush::list_switch_edit(text, "ads", false);
  std::string out = edit(text, {off});
  CHECK(load(out).blocking.disabled_lists == std::vector<std::string>{"ads"});
  out = edit(out, {hush::list_switch_edit(out, "trackers", false)});
  CHECK(load(out).blocking.disabled_lists == std::vector<std::string>{"ads", "trackers"});
  out = edit(out, {hush::list_switch_edit(out, "ads", true)});
  CHECK(load(out).blocking.disabled_lists == std::vector<std::string>{"trackers"});
  out = edit(out, {hush::list_switch_edit(out, "trackers", true)});
  CHECK(out.find("disabled_lists") == std::string::npos);
  CHECK(hush::key_is_live("blocking.disabled_lists") == true);
  CHECK(hush::key_is_live("alerts.sink") == true);  // Alerting::apply takes new sinks on SIGHUP
  CHECK(hush::key_is_live("cache.max_entries") == false);
  CHECK_FALSE(hush::key_is_live("no.such").has_value());
}

TEST_CASE("sync: a replica's file takes the primary's settings and keeps its own local keys") {
  CHECK(hush::key_is_local("server.listen"));
  CHECK(hush::key_is_local("http.tls"));
  CHECK(hush::key_is_local("sync.primary"));
  CHECK(hush::key_is_local("dnssec.trust_anchor"));
  CHECK_FALSE(hush::key_is_local("upstream.servers"));
  CHECK_FALSE(hush::key_is_local("lists"));
  CHECK_FALSE(hush::key_is_local("blocking.mode"));

  const std::string primary = R"(# the primary
[server]
listen = ["192.0.2.53:53"]
data_dir = "/var/lib/hush"
[upstream]
servers = ["9.9.9.9"]
[blocking]
mode = "nxdomain"
[http]
listen = "192.0.2.53:8080"

[[lists]]
name = "ads"
path = "/etc/hush/ads.txt"
)";
  std::string error;
  auto shared = hush::shared_config_text(primary, error);
  REQUIRE(shared);
  CHECK(shared->find("192.0.2.53") == std::string::npos);
  CHECK(shared->find("/var/lib/hush") == std::string::npos);
  CHECK(shared->find("nxdomain") != std::string::npos);
  CHECK(shared->find("/etc/hush/ads.txt") != std::string::npos);
  CHECK_FALSE(hush::shared_config_text("[server", error));

  const std::string replica = R"([server]
listen = ["192.0.2.54:53",
          "[2001:db8::54]:53"]
data_dir = "/srv/hush"
[upstream]
servers = ["1.1.1.1"]
[sync]
primary = "https://192.0.2.53:8080"
token = "abc"
)";
  std::string out;
  REQUIRE(hush::follow_config_text(replica, *shared, out, error));
  INFO(out);
  hush::Config c;
  std::vector<std::string> errors;
  REQUIRE(hush::load_config_text(out, "replica", c, errors));
  CHECK(c.server.listen == std::vector<std::string>{"192.0.2.54:53", "[2001:db8::54]:53"});
  CHECK(c.server.data_dir == "/srv/hush");
  CHECK(c.sync.primary == "https://192.0.2.53:8080");
  CHECK(c.upstream.servers == std::vector<std::string>{"9.9.9.9"});
  CHECK(c.blocking.mode == "nxdomain");
  CHECK(c.http.listen == "127.0.0.1:8080");  // the primary's is not taken; the replica set none
  REQUIRE(c.lists.size() == 1);
  CHECK(c.lists[0].path == "/etc/hush/ads.txt");
  // Following again changes nothing.
  std::string twice;
  REQUIRE(hush::follow_config_text(out, *shared, twice, error));
  CHECK(twice == out);
}

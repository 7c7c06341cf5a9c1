// hush backup / hush restore with the real binary: a populated instance's
// backup restored into an empty data directory answers like the original;
// damaged, cut-short and newer-version files and a dry run change nothing.
// Timed controls and schedules travel with the rest.
#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

// Every file under `dir` with its contents, but SQLite's -wal/-shm, which a
// reader may create without changing anything.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    std::string p = e.path().string();
    if (!e.is_regular_file() || p.ends_with("-wal") || p.ends_with("-shm")) continue;
    out[fs::relative(e.path(), dir).string()] = read_file(e.path());
  }
  return out;
}

CommandResult hush_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), hush_binary());
  return run_command(args, 20s);
}

// A --with-log backup: the document on its first line, then the log's bytes.
std::pair<nlohmann::json, std::string> split_backup(const std::string& file) {
  std::string text = read_file(file);
  size_t nl = text.find('\n');
  return {nlohmann::json::parse(text.substr(0, nl)), text.substr(nl + 1)};
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += "0123456789abcdef"[md[i] >> 4], out += "0123456789abcdef"[md[i] & 15];
  return out;
}

// The same backup in format version 1: the log base64 inside the document.
std::string as_version1(const std::string& file) {
  auto [doc, log] = split_backup(file);
  std::string b64(4 * ((log.size() + 2) / 3), '\0');
  b64.resize(size_t(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                    reinterpret_cast<const unsigned char*>(log.data()), int(log.size()))));
  doc["version"] = 1;
  doc["contents"]["log"] = b64;
  doc["sha256"] = sha256_hex(doc["contents"].dump());
  return doc.dump(1) + "\n";
}

const char* const kRules =
    R"({"rules": [{"id": "0a1b", "kind": "deny", "pattern": "good.tracker.test", "groups": ["default"], "comment": "", "added": 1}]})";

// (source address, name): what each instance is asked.
const std::vector<std::pair<std::string, std::string>> kQuestions = {
    {"127.0.0.1", "www.test"},          // forwarded
    {"127.0.0.1", "nas.lan"},           // local record (hush local add)
    {"127.0.0.1", "sub.ads.test"},      // blocking.deny in the configuration
    {"127.0.0.1", "good.tracker.test"}, // rules.json
    {"127.0.0.1", "kids-only.test"},    // the kids list is not for the default group
    {"127.0.0.2", "kids-only.test"},    // ...but for the device put in group kids
    {"127.0.0.1", "mail.test"},         // a timed block (controls.json)
    {"127.0.0.1", "cached.test"},       // a schedule in its window all day (schedules.json)
};

std::string answers(const Endpoint& ep) {
  std::string out;
  for (const auto& [from, name] : kQuestions) {
    auto r = dig(ep, {"-b", from, name, "A", "+noall", "+answer", "+nottlid"});
    out += from + " " + name + " -> " + r.out + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("a backup restored into an empty data directory answers like the original", "[integration][backup]") {
  TempDir lists_dir("hush-it-lists-");
  write_file(lists_dir.path() / "kids.txt", "kids-only.test\n");
  HushOptions o;
  o.use_config_file = true;
  o.extra_config = "[blocking]\ndeny = [\"sub.ads.test\"]\n";
  Env env(o);
  const std::string data = env.hush.data_dir().string();
  const std::string config = env.hush.config_path().string();
  write_file(env.hush.data_dir() / "rules.json", kRules);
  REQUIRE(hush_cmd({"local", "add", "nas.lan", "A", "192.168.1.10", "-d", data}).exit_code() == 0);
  auto added = hush_cmd({"lists", "add", "file://" + (lists_dir.path() / "kids.txt").string(), "--name", "kids",
                         "--group", "kids", "-d", data});
  INFO(added.out << added.err);
  REQUIRE(added.exit_code() == 0);
  // The device exists once it has asked; then it gets a name and a group.
  dig(env.ep(), {"-b", "127.0.0.2", "www.test", "A"});
  REQUIRE(wait_until([&] { return hush_cmd({"clients", "-d", data}).out.find("127.0.0.2") != std::string::npos; },
                     10s, 100ms));
  REQUIRE(hush_cmd({"clients", "group", "127.0.0.2", "default,kids", "-d", data}).exit_code() == 0);
  REQUIRE(hush_cmd({"clients", "rename", "127.0.0.2", "tablet", "-d", data}).exit_code() == 0);
  REQUIRE(hush_cmd({"timed", "block", "mail.test", "--for", "2h", "-d", data}).exit_code() == 0);
  REQUIRE(hush_cmd({"schedule", "add", "--days", "daily", "--from", "00:00", "--to", "24:00", "--block", "cached.test",
                    "-d", data}).exit_code() == 0);
  REQUIRE(wait_until([&] { return dig(env.ep(), {"-b", "127.0.0.2", "kids-only.test", "+short"}).out == "0.0.0.0\n"; },
                     10s, 100ms));
  for (const char* name : {"mail.test", "cached.test"})
    REQUIRE(wait_until([&] { return dig(env.ep(), {name, "A", "+short"}).out == "0.0.0.0\n"; }, 10s, 100ms));
  const std::string original = answers(env.ep());

  const fs::path file = env.dir.path() / "backup.json";
  auto made = hush_cmd({"backup", file.string(), "-c", config, "--with-lists"});
  INFO(made.out << made.err);
  REQUIRE(made.exit_code() == 0);
  CHECK((fs::status(file).permissions() & fs::perms::others_read) == fs::perms::none);

  TempDir fresh("hush-it-restored-");
  const fs::path restored_config = fresh.path() / "restored.toml";
  const fs::path restored_data = fresh.path() / "hush" / "hush-data";
  auto restored = hush_cmd({"restore", file.string(), "-c", restored_config.string(), "-d", restored_data.string()});
  INFO(restored.out << restored.err);
  REQUIRE(restored.exit_code() == 0);
  CHECK(read_file(restored_config) == read_file(config));
  CHECK(read_file(restored_data / "rules.json") == kRules);

  // The restored data directory under a hush of its own (its own ports, so
  // the harness writes its configuration; the same [blocking] as above).
  Unbound unbound(fresh.path() / "unbound");
  HushOptions o2 = o;
  o2.upstreams = {unbound.endpoint()};
  Hush copy(fresh.path() / "hush", o2);
  const std::string again = answers(copy.v4());
  INFO(original << "----\n" << again << copy.log());
  CHECK(original.find("0.0.0.0") != std::string::npos);
  CHECK(original.find("192.168.1.10") != std::string::npos);
  CHECK(again == original);
  CHECK(hush_cmd({"clients", "-d", restored_data.string()}).out.find("tablet") != std::string::npos);
}

TEST_CASE("restore refuses damaged, cut-short and newer files, and a dry run changes nothing", "[integration][backup]") {
  TempDir dir("hush-it-restore-");
  const std::string from = (dir.path() / "from").string();
  const std::string to = (dir.path() / "to").string();
  REQUIRE(hush_cmd({"local", "add", "nas.lan", "A", "192.168.1.10", "-d", from}).exit_code() == 0);
  write_file(dir.path() / "list.txt", "ads.test\n");
  REQUIRE(hush_cmd({"lists", "add", "file://" + (dir.path() / "list.txt").string(), "--name", "ads", "-d", from})
              .exit_code() == 0);
  REQUIRE(hush_cmd({"timed", "allow", "www.test", "--for", "2h", "-d", from}).exit_code() == 0);
  REQUIRE(hush_cmd({"schedule", "add", "--days", "mon-fri", "--from", "21:00", "--to", "07:00", "--block",
                    "games.test", "-d", from}).exit_code() == 0);
  const fs::path good = dir.path() / "good.json";
  REQUIRE(hush_cmd({"backup", good.string(), "-d", from}).exit_code() == 0);
  REQUIRE(hush_cmd({"local", "add", "printer.lan", "A", "192.168.1.30", "-d", to}).exit_code() == 0);
  const auto before = snapshot(to);

  const std::string text = read_file(good);
  std::string damaged = text;
  damaged.replace(damaged.find("192.168.1.10"), 12, "192.168.1.11");
  std::string newer = text;
  newer.replace(newer.find("\"version\": 2"), 12, "\"version\": 9");
  struct Bad {
    const char* name;
    std::string text;
    const char* message;
  };
  for (const Bad& bad : {Bad{"damaged", damaged, "checksum does not match"},
                         Bad{"cut short", text.substr(0, text.size() / 2), "cut short"},
                         Bad{"newer", newer, "newer hush"}}) {
    const fs::path f = dir.path() / "bad.json";
    write_file(f, bad.text);
    auto r = hush_cmd({"restore", f.string(), "-d", to});
    INFO(bad.name << ": " << r.out << r.err);
    CHECK(r.exit_code() == 1);
    CHECK(r.err.find(bad.message) != std::string::npos);
    CHECK(r.err.find("nothing changed") != std::string::npos);
    CHECK(snapshot(to) == before);
  }

  auto dry = hush_cmd({"restore", good.string(), "-d", to, "--dry-run"});
  INFO(dry.out << dry.err);
  CHECK(dry.exit_code() == 0);
  CHECK(dry.out.find("local records: 1 record, changed") != std::string::npos);
  CHECK(dry.out.find("list subscriptions: none -> ads") != std::string::npos);
  CHECK(dry.out.find("timed exceptions, pauses and blocked services: 0 in force -> 1 in force") != std::string::npos);
  CHECK(dry.out.find("schedules: 0 schedules -> 1 schedule") != std::string::npos);
  CHECK(snapshot(to) == before);

  // Applied, the target holds the backup's records and no longer its own.
  REQUIRE(hush_cmd({"restore", good.string(), "-d", to}).exit_code() == 0);
  auto ls = hush_cmd({"local", "ls", "-d", to});
  CHECK(ls.out.find("nas.lan") != std::string::npos);
  CHECK(ls.out.find("printer.lan") == std::string::npos);
  CHECK(hush_cmd({"timed", "ls", "-d", to}).out.find("www.test") != std::string::npos);
  CHECK(hush_cmd({"schedule", "ls", "-d", to}).out.find("games.test") != std::string::npos);
  // A schedules file that does not parse is refused before anything changes.
  const fs::path bad_schedules = dir.path() / "bad-schedules";
  REQUIRE(hush_cmd({"local", "add", "tv.lan", "A", "192.168.1.40", "-d", bad_schedules.string()}).exit_code() == 0);
  write_file(bad_schedules / "schedules.json", "{\"schedules\": [");
  const fs::path with_bad = dir.path() / "bad-schedules.json";
  REQUIRE(hush_cmd({"backup", with_bad.string(), "-d", bad_schedules.string()}).exit_code() == 0);
  auto refused = hush_cmd({"restore", with_bad.string(), "-d", to});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code() == 1);
  CHECK(refused.out.find("error: schedules.json") != std::string::npos);
  CHECK(refused.err.find("nothing changed") != std::string::npos);
  CHECK(hush_cmd({"local", "ls", "-d", to}).out.find("tv.lan") == std::string::npos);

  // With --with-log the database comes along (SQLite's online backup) after
  // the one-line document, and is restored into a data directory that has none.
  const fs::path with_log = dir.path() / "with-log.backup";
  REQUIRE(hush_cmd({"backup", with_log.string(), "-d", from, "--with-log"}).exit_code() == 0);
  auto [doc, log] = split_backup(with_log.string());
  CHECK(doc["version"] == 2);
  CHECK(log.starts_with(std::string("SQLite format 3\0", 16)));
  CHECK(doc["contents"]["log"]["bytes"] == log.size());
  const std::string whole = read_file(with_log);
  std::string bad_log = whole;
  bad_log[whole.size() - log.size() / 2] ^= 1;
  const fs::path never = dir.path() / "never";
  const auto at_log = snapshot(to);
  for (const Bad& bad : {Bad{"damaged log", bad_log, "query log's checksum does not match"},
                         Bad{"log cut short", whole.substr(0, whole.size() - 100), "cut short"},
                         Bad{"bytes after the log", whole + "x", "bytes after its query log"}}) {
    const fs::path f = dir.path() / "bad.backup";
    write_file(f, bad.text);
    for (const fs::path& into : {fs::path(to), never}) {
      auto r = hush_cmd({"restore", f.string(), "-d", into.string()});
      INFO(bad.name << ": " << r.out << r.err);
      CHECK(r.exit_code() == 1);
      CHECK(r.err.find(bad.message) != std::string::npos);
      CHECK(r.err.find("nothing changed") != std::string::npos);
    }
    CHECK(snapshot(to) == at_log);
    CHECK(!fs::exists(never));
  }
  const fs::path fresh = dir.path() / "fresh";
  auto dry_fresh = hush_cmd({"restore", with_log.string(), "-d", fresh.string(), "--dry-run"});
  INFO(dry_fresh.out << dry_fresh.err);
  CHECK(dry_fresh.out.find("query log: restored from the backup") != std::string::npos);
  CHECK(!fs::exists(fresh));
  for (const auto& e : fs::directory_iterator(dir.path())) CHECK(e.path().filename().string().find(".restore") != 0);
  auto into_fresh = hush_cmd({"restore", with_log.string(), "-d", fresh.string()});
  INFO(into_fresh.out << into_fresh.err);
  CHECK(into_fresh.exit_code() == 0);
  CHECK(into_fresh.out.find("query log: restored from the backup") != std::string::npos);
  auto into_used = hush_cmd({"restore", with_log.string(), "-d", to, "--dry-run"});
  CHECK(into_used.out.find("query log: in the backup, not restored") != std::string::npos);
  // A file of format version 1 (the log base64 inside the document) still restores.
  const fs::path old = dir.path() / "version1.json";
  write_file(old, as_version1(with_log.string()));
  auto from_old = hush_cmd({"restore", old.string(), "-d", (dir.path() / "from-old").string()});
  INFO(from_old.out << from_old.err);
  CHECK(from_old.exit_code() == 0);
  CHECK(from_old.out.find("query log: restored from the backup") != std::string::npos);
  CHECK(hush_cmd({"local", "ls", "-d", (dir.path() / "from-old").string()}).out.find("nas.lan") != std::string::npos);
}

TEST_CASE("a --with-log backup of a serving hush holds every logged query, and restore brings each back",
          "[integration][backup]") {
  Env env;
  const std::string data = env.hush.data_dir().string();
  constexpr int kQueries = 300;
  for (int i = 0; i < kQueries; ++i) udp_query(env.ep(), "row" + std::to_string(i) + ".rows.test", rr::A);
  auto logged = [&](const std::string& dir) {
    return hush_cmd({"log", "search", "--domain", ".rows.test", "-n", "1000", "-d", dir}).out;
  };
  // Every query written by the server's writer (it batches them).
  REQUIRE(wait_until([&] { return lines(logged(data)).size() == size_t(kQueries); }, 20s, 100ms));
  const std::string original = logged(data);
  const fs::path file = env.dir.path() / "log.backup";
  auto made = hush_cmd({"backup", file.string(), "-d", data, "--with-log"});
  INFO(made.out << made.err);
  REQUIRE(made.exit_code() == 0);
  const fs::path restored = env.dir.path() / "restored";
  auto r = hush_cmd({"restore", file.string(), "-d", restored.string()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code() == 0);
  const std::string again = logged(restored.string());
  CHECK(lines(again).size() == size_t(kQueries));
  CHECK(again == original);
}

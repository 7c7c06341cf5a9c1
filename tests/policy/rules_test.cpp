// The dashboard's allow/deny store: checks, batches, removal, and one
// writer at a time across processes (the server and `hush report block`).
#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "clients/groups.hpp"
#include "policy/rules.hpp"

namespace fs = std::filesystem;
using hush::test::TempDir;
using hush::clients::valid_group;
using hush::policy::Rule;
using hush::policy::RulesStore;

TEST_CASE("rules store: add, refuse bad and duplicate entries, remove, apply") {
  TempDir d;
  RulesStore rules(d.path.string());
  std::string error;
  Rule r;
  r.kind = "deny";
  r.pattern = "Ads.Example.";
  auto added = rules.add(r, error);
  REQUIRE(added);
  CHECK(added->pattern == "ads.example");
  CHECK(added->groups == std::vector<std::string>{"default"});
  CHECK_FALSE(rules.add(r, error));
  CHECK(error.find("already") != std::string::npos);
  Rule bad = r;
  bad.pattern = "/(unclosed/";
  CHECK_FALSE(rules.add(bad, error));
  bad.pattern = "two words";
  CHECK_FALSE(rules.add(bad, error));
  bad = r;
  bad.kind = "maybe";
  CHECK_FALSE(rules.add(bad, error));
  bad = r;
  bad.pattern = "x.example";
  bad.groups = {"Kids"};
  CHECK_FALSE(rules.add(bad, error));
  Rule allow;
  allow.kind = "allow";
  allow.pattern = "||good.example^";
  allow.groups = {"kids"};
  REQUIRE(rules.add(allow, error));
  std::vector<hush::blocklists::Entry> a, dn;
  rules.append_to(a, dn);
  REQUIRE(a.size() == 1);
  REQUIRE(dn.size() == 1);
  CHECK(a[0].pattern == "||good.example^");
  CHECK(a[0].groups == std::vector<std::string>{"kids"});
  CHECK(dn[0].pattern == "ads.example");
  REQUIRE(rules.remove(added->id, error));
  CHECK_FALSE(rules.remove(added->id, error));
  CHECK(RulesStore(d.path.string()).list().size() == 1);  // on disk
  CHECK(valid_group("kids_2-a"));
  CHECK_FALSE(valid_group(""));
  CHECK_FALSE(valid_group("a b"));
}

TEST_CASE("rules store: many entries with one write, all or none") {
  TempDir d;
  RulesStore rules(d.path.string());
  std::string error;
  std::vector<Rule> batch;
  for (int i = 0; i < 300; ++i) {
    Rule r;
    r.kind = "deny";
    r.pattern = "||Host" + std::to_string(i) + ".Example^";
    r.groups = {"device-3"};
    r.comment = "company:example";
    batch.push_back(r);
  }
  auto added = rules.add_all(batch, error);
  REQUIRE(added);
  REQUIRE(added->size() == 300);
  CHECK((*added)[7].pattern == "||host7.example^");
  CHECK(!(*added)[7].id.empty());
  CHECK(RulesStore(d.path.string()).list().size() == 300);
  struct stat before {};
  REQUIRE(::stat((d.path / "rules.json").c_str(), &before) == 0);
  // One bad entry, or one already there, fails the whole batch and leaves
  // the file as it was.
  Rule fresh = batch[0];
  fresh.pattern = "||fresh.example^";
  Rule bad = batch[0];
  bad.pattern = "/(unclosed/";
  CHECK_FALSE(rules.add_all({fresh, bad}, error));
  CHECK(error.find("(unclosed") != std::string::npos);
  CHECK_FALSE(rules.add_all({fresh, batch[5]}, error));
  CHECK(error == "'||host5.example^' is already on the deny list");
  CHECK_FALSE(rules.add_all({fresh, fresh}, error));
  CHECK(error.find("already") != std::string::npos);
  struct stat after {};
  REQUIRE(::stat((d.path / "rules.json").c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);  // every write renames a new file into place
  CHECK(rules.list().size() == 300);
  // Removal: unknown ids fail the whole call.
  std::vector<std::string> ids;
  for (size_t i = 0; i < 200; ++i) ids.push_back((*added)[i].id);
  CHECK_FALSE(rules.remove_all({ids[0], "nosuchid"}, error));
  CHECK(error == "no entry nosuchid");
  CHECK(rules.list().size() == 300);
  REQUIRE(rules.remove_all(ids, error));
  auto left = rules.list();
  REQUIRE(left.size() == 100);
  CHECK(left[0].id == (*added)[200].id);
}

TEST_CASE("rules store: processes adding at once lose no entry") {
  TempDir d;
  constexpr int kProcesses = 8, kEach = 25;  // 200 racing writes
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      RulesStore rules(d.path.string());
      std::string error;
      int ok = 0;
      for (int i = 0; i < kEach; ++i) {
        Rule r;
        r.kind = "deny";
        r.pattern = "p" + std::to_string(p) + "-" + std::to_string(i) + ".example";
        ok += bool(rules.add(r, error));
      }
      _exit(ok == kEach ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(RulesStore(d.path.string()).list().size() == size_t(kProcesses * kEach));
}

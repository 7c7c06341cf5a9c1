// The actions against a real data directory: deny entries in rules.json,
// a device's own group in the query log, subscriptions in hush.db, and the
// policy hush builds from them (the blocked device blocks, the other not).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "../querylog/helpers.hpp"
#include "clients/groups.hpp"
#include "config/config.hpp"
#include "querylog/reader.hpp"
#include "querylog/store.hpp"
#include "report/actions.hpp"
#include "policy/rules.hpp"
#include "policy/inputs.hpp"
#include "runtime/runtime.hpp"

using namespace hush;
using namespace hush::report;
using hush::test::kT0;
using hush::test::record;

namespace {

struct DataDir {
  hush::test::TempDir dir;
  int64_t phone = 0, tv = 0;
  std::shared_ptr<const CompanyMap> map = CompanyMap::builtin();

  DataDir() {
    querylog::Options opt;
    opt.path = dir.file("hush.db");
    querylog::Store store(opt);
    store.open(kT0);
    REQUIRE(store.is_open());
    clients::Directory names(clients::Inputs{}, kT0 / 1000000);
    REQUIRE(!store.write({record(kT0, "127.0.0.2", "api.account.xiaomi.com"), record(kT0, "127.0.0.3", "samsung.com")},
                         names));
    phone = device("127.0.0.2");
    tv = device("127.0.0.3");
  }
  const std::string& path() const { return dir.path(); }
  std::unique_ptr<querylog::Reader> log() {
    sqlite::Error e;
    auto r = querylog::Reader::open(dir.file("hush.db"), false, e);
    REQUIRE(r);
    return r;
  }
  int64_t device(const std::string& ip) {
    sqlite::Error e;
    auto ids = log()->find_devices(ip, e);
    REQUIRE(ids.size() == 1);
    return ids[0];
  }
  std::vector<std::string> groups(int64_t id) {
    sqlite::Error e;
    for (const auto& d : log()->devices(querylog::kForever, e))
      if (d.id == id) return d.groups;
    return {};
  }
  // What `hush serve` would decide for this client, from the same files.
  blocklists::Action decide(const std::string& name, const char* client) {
    Config cfg;
    cfg.server.data_dir = path();
    auto built = policy::build_policy(cfg, false);
    REQUIRE(built);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, client, &sa.sin_addr);
    auto* addr = reinterpret_cast<const sockaddr*>(&sa);
    return built->decide(name, 1, built->groups_for(addr), addr).action;
  }
};

}  // namespace

TEST_CASE("blocking a company for one device: its own group, one entry per domain", "[actions]") {
  DataDir d;
  BlockResult r;
  REQUIRE(block_company(d.path(), *d.map, "xiaomi", {d.phone, ""}, &r) == "");
  CHECK(r.group == device_group(d.phone));
  CHECK(r.group_added);
  CHECK(r.patterns.size() == d.map->find("xiaomi")->domains.size());
  CHECK(std::find(r.patterns.begin(), r.patterns.end(), "||xiaomi.com^") != r.patterns.end());
  CHECK(std::find(r.patterns.begin(), r.patterns.end(), "||miui.net^") != r.patterns.end());  // a built-in correction
  CHECK(d.groups(d.phone) == std::vector<std::string>{"default", r.group});
  CHECK(d.groups(d.tv) == std::vector<std::string>{"default"});
  for (const policy::Rule& rule : policy::RulesStore(d.path()).list()) {
    CHECK(rule.kind == "deny");
    CHECK(rule.groups == std::vector<std::string>{r.group});
    CHECK(rule.comment == "company:xiaomi");
  }

  CHECK(d.decide("api.account.xiaomi.com", "127.0.0.2") == blocklists::Action::Block);
  CHECK(d.decide("data.mistat.intl.miui.com", "127.0.0.2") == blocklists::Action::Block);
  CHECK(d.decide("api.account.xiaomi.com", "127.0.0.3") == blocklists::Action::Pass);
  CHECK(d.decide("www.example.com", "127.0.0.2") == blocklists::Action::Pass);

  BlockResult again;
  REQUIRE(block_company(d.path(), *d.map, "Xiaomi Inc.", {d.phone, ""}, &again) == "");
  CHECK(again.patterns.empty());
  CHECK(!again.group_added);

  std::string error;
  auto blocked = blocked_companies(d.path(), error);
  REQUIRE(blocked.size() == 1);
  CHECK(blocked[0].company == "xiaomi");
  CHECK(blocked[0].group == r.group);
  CHECK(blocked[0].entries == r.patterns.size());

  BlockResult undo;
  REQUIRE(unblock_company(d.path(), *d.map, "xiaomi", {d.phone, ""}, &undo) == "");
  CHECK(undo.patterns.size() == r.patterns.size());
  CHECK(undo.group_removed);
  CHECK(d.groups(d.phone) == std::vector<std::string>{"default"});
  CHECK(policy::RulesStore(d.path()).list().empty());
  CHECK(d.decide("api.account.xiaomi.com", "127.0.0.2") == blocklists::Action::Pass);
  CHECK(unblock_company(d.path(), *d.map, "xiaomi", {d.phone, ""}) ==
        "Xiaomi Inc. is not blocked for group " + r.group);
}

TEST_CASE("blocking for a group leaves the devices' groups alone", "[actions]") {
  DataDir d;
  BlockResult r;
  REQUIRE(block_company(d.path(), *d.map, "samsung", {std::nullopt, "tv"}, &r) == "");
  CHECK(r.group == "tv");
  CHECK(!r.group_added);
  CHECK(d.groups(d.tv) == std::vector<std::string>{"default"});
  CHECK(d.decide("samsungacr.com", "127.0.0.3") == blocklists::Action::Pass);  // the TV is not in "tv" yet
  sqlite::Error e;
  auto devices = clients::DeviceGroups::open(d.path(), true, e);
  REQUIRE(devices->set(d.tv, {"default", "tv"}, e));
  CHECK(d.decide("samsungacr.com", "127.0.0.3") == blocklists::Action::Block);
  CHECK(d.decide("samsungacr.com", "127.0.0.2") == blocklists::Action::Pass);
  // A device's block and its undo do not touch a group block of the same company.
  REQUIRE(block_company(d.path(), *d.map, "samsung", {d.tv, ""}) == "");
  REQUIRE(unblock_company(d.path(), *d.map, "samsung", {d.tv, ""}) == "");
  CHECK(d.decide("samsungacr.com", "127.0.0.3") == blocklists::Action::Block);
  REQUIRE(unblock_company(d.path(), *d.map, "samsung", {std::nullopt, "tv"}) == "");
  CHECK(d.decide("samsungacr.com", "127.0.0.3") == blocklists::Action::Pass);
}

TEST_CASE("actions refuse what they cannot do, and say why", "[actions]") {
  DataDir d;
  CHECK(block_company(d.path(), *d.map, "nobody-at-all", {d.phone, ""}) ==
        "no company 'nobody-at-all' in the map (hush report shows the ids)");
  CHECK(block_company(d.path(), *d.map, "xiaomi", {d.phone, "kids"}) == "give either a device or a group");
  CHECK(block_company(d.path(), *d.map, "xiaomi", {std::nullopt, ""}) == "give either a device or a group");
  CHECK(block_company(d.path(), *d.map, "xiaomi", {std::nullopt, "Kids!"}).find("group 'Kids!'") == 0);
  CHECK(block_company(d.path(), *d.map, "xiaomi", {999, ""}) == "no device 999");
  CHECK(policy::RulesStore(d.path()).list().empty());
  CHECK(subscribe_vendor(d.path(), {}, *d.map, "google", {d.phone, ""}) ==
        "the catalog has no list for Google (see hush lists catalog)");
  CHECK(subscribe_vendor(d.path(), {}, *d.map, "xiaomi", {d.phone, ""}, "hagezi-samsung")
            .find("'hagezi-samsung' is not a catalog list for Xiaomi Inc. (those are: hagezi-xiaomi)") == 0);
}

TEST_CASE("vendor lists: the catalog's lists for a company's products", "[actions]") {
  auto map = CompanyMap::builtin();
  auto ids = [&](const char* company) {
    std::vector<std::string> out;
    for (const auto* e : vendor_lists(*map->find(company))) out.emplace_back(e->id);
    return out;
  };
  CHECK(ids("xiaomi") == std::vector<std::string>{"hagezi-xiaomi"});
  CHECK(ids("samsung") == std::vector<std::string>{"hagezi-samsung"});
  CHECK(ids("huawei") == std::vector<std::string>{"hagezi-huawei"});
  CHECK(ids("bytedance_inc") == std::vector<std::string>{"hagezi-tiktok", "hagezi-tiktok-extended"});
  CHECK(ids("amazon_associates") == std::vector<std::string>{"hagezi-amazon", "perflyst-firetv"});
  CHECK(ids("lgcorp") == std::vector<std::string>{"hagezi-lgwebos"});
  auto ms = ids("microsoft");
  REQUIRE(ms.size() == 4);
  CHECK(ms[0] == "hagezi-winoffice");
  CHECK(ids("google").empty());
}

TEST_CASE("subscribing a device to its vendor's list: a new list, then a group more", "[actions]") {
  DataDir d;
  SubscribeResult r;
  REQUIRE(subscribe_vendor(d.path(), {}, *d.map, "xiaomi", {d.phone, ""}, "", "", &r) == "");
  CHECK(r.list == "hagezi-xiaomi");
  CHECK(r.group == device_group(d.phone));
  CHECK(r.created);
  CHECK(d.groups(d.phone) == std::vector<std::string>{"default", r.group});
  std::string error;
  auto subs = blocklists::subs::Subscriptions::open(d.path(), {}, error);
  REQUIRE(subs);
  auto s = subs->get("hagezi-xiaomi");
  REQUIRE(s);
  CHECK(s->catalog_id == "hagezi-xiaomi");
  CHECK(s->groups == std::vector<std::string>{r.group});
  int64_t generation = subs->generation();

  SubscribeResult more;
  REQUIRE(subscribe_vendor(d.path(), {}, *d.map, "xiaomi", {std::nullopt, "kids"}, "", "", &more) == "");
  CHECK(!more.created);
  CHECK(subs->get("hagezi-xiaomi")->groups == std::vector<std::string>{r.group, "kids"});
  CHECK(subs->generation() > generation);  // a running server rebuilds
  REQUIRE(subscribe_vendor(d.path(), {}, *d.map, "xiaomi", {std::nullopt, "kids"}) == "");
  CHECK(subs->list().size() == 1);

  // A mirror instead of the catalog's URL.
  SubscribeResult mirror;
  std::string url = "file://" HUSH_SOURCE_DIR "/tests/data/subscriptions/samsung-adblock.txt";
  REQUIRE(subscribe_vendor(d.path(), {}, *d.map, "samsung", {d.tv, ""}, "", url, &mirror) == "");
  CHECK(subs->get("hagezi-samsung")->url == url);
  REQUIRE(subs->update("hagezi-samsung").outcome == blocklists::subs::UpdateResult::Outcome::Updated);
  CHECK(d.decide("samsungads.com", "127.0.0.3") == blocklists::Action::Block);
  CHECK(d.decide("samsungads.com", "127.0.0.2") == blocklists::Action::Pass);
}

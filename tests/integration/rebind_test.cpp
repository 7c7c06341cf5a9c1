// DNS-rebinding protection and EDNS Client Subnet, end to end: unbound
// answers public names with private addresses and hush replaces them with a
// blocked answer (EDE 15), logged as "rebind" and counted on /metrics, while
// allowed names and a forward zone to the "router" pass; a recording fake
// upstream shows what hush sends of a client's subnet.
#include <catch2/catch.hpp>

#include <array>
#include <memory>

#include "dns_client.hpp"
#include "fake_upstream.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

constexpr const char* kRouterA = "192.168.1.254";  // what the "router" (a forward zone) answers


QueryOpts edns() {
  QueryOpts o;
  o.edns = true;
  return o;
}

long metric(uint16_t http_port, const std::string& key) {
  auto r = run_command({"curl", "-s", "http://127.0.0.1:" + std::to_string(http_port) + "/metrics"}, 5s);
  const std::string line = "\n" + key + " ";  // the sample, not its # HELP line
  size_t at = r.out.find(line);
  return at == std::string::npos ? -1 : std::stol(r.out.substr(at + line.size()));
}

void check_rebind_blocked(const Endpoint& ep, const std::string& name, uint16_t type, const std::string& sinkhole) {
  auto m = udp_query(ep, name, type, edns());
  INFO(name << ": " << m.summary());
  CHECK(m.rcode() == rcode::NOERROR);
  CHECK(m.texts(type) == std::vector<std::string>{sinkhole});
  CHECK(ede_of(m).code == 15);
  CHECK(ede_of(m).text.find("rebinding protection") != std::string::npos);
  CHECK_FALSE(m.aa);
}

}  // namespace

TEST_CASE("rebinding: private addresses for public names are blocked, logged and counted; exemptions pass",
          "[integration][rebind]") {
  FakeUpstream router([](const UpstreamQuery& q) { return answer_a(q, kRouterA); });
  const uint16_t http_port = pick_free_port();
  HushOptions o;
  o.unbound_config =
      "local-zone: \"rebind.example.\" static\n"
      "local-data: \"evil.rebind.example. A 192.168.1.1\"\n"
      "local-data: \"evil.rebind.example. AAAA fe80::1\"\n"
      "local-data: \"ula.rebind.example. AAAA fd12:3456::1\"\n"
      "local-data: \"mapped.rebind.example. AAAA ::ffff:10.0.0.1\"\n"
      "local-data: \"loop.rebind.example. A 127.0.0.1\"\n"
      "local-data: \"public.rebind.example. A 203.0.113.5\"\n"
      "local-zone: \"myddns.example.\" static\n"
      "local-data: \"home.myddns.example. A 192.168.1.2\"\n";
  o.extra_args = {"--http", "127.0.0.1:" + std::to_string(http_port)};
  o.extra_config = "[rebind]\nallow = [\"MyDDNS.example.\"]\n"
                   "[[forward]]\ndomain = \"home.arpa\"\nservers = [\"" +
                   router.endpoint().str() + "\"]\n";
  Env env(o);
  auto ep = env.ep();
  INFO(env.logs());

  check_rebind_blocked(ep, "evil.rebind.example.", rr::A, "0.0.0.0");
  check_rebind_blocked(ep, "evil.rebind.example.", rr::A, "0.0.0.0");  // from the cache now
  check_rebind_blocked(ep, "evil.rebind.example.", rr::AAAA, "::");
  check_rebind_blocked(ep, "ula.rebind.example.", rr::AAAA, "::");
  check_rebind_blocked(ep, "mapped.rebind.example.", rr::AAAA, "::");
  check_rebind_blocked(ep, "loop.rebind.example.", rr::A, "0.0.0.0");

  auto pub = udp_query(ep, "public.rebind.example.", rr::A, edns());
  CHECK(pub.texts(rr::A) == std::vector<std::string>{"203.0.113.5"});
  CHECK_FALSE(ede_of(pub).present);
  auto allowed = udp_query(ep, "home.myddns.example.", rr::A, edns());
  INFO("allowed: " << allowed.summary());
  CHECK(allowed.texts(rr::A) == std::vector<std::string>{"192.168.1.2"});
  auto routed = udp_query(ep, "printer.home.arpa.", rr::A, edns());
  INFO("forward zone: " << routed.summary());
  CHECK(routed.texts(rr::A) == std::vector<std::string>{kRouterA});
  CHECK(router.count("printer.home.arpa.") == 1);

  // Six blocked answers, one of them from the cache.
  // (The dashboard, which serves /metrics, may still be starting.)
  CHECK(wait_until([&] { return metric(http_port, "hush_rebind_blocked_total") == 6; }, 10s, 100ms));

  const std::string data_dir = env.hush.data_dir().string();
  std::string rows;
  REQUIRE(wait_until(
      [&] {
        rows = run_command({hush_binary(), "log", "search", "--domain", "rebind.example", "--data-dir", data_dir}, 5s)
                   .out;
        return rows.find("loop.rebind.example") != std::string::npos;
      },
      20s, 300ms));
  INFO(rows);
  CHECK(rows.find("rebind: private address from upstream") != std::string::npos);
  CHECK(rows.find("blocked") != std::string::npos);
}

TEST_CASE("rebinding protection off: private addresses pass", "[integration][rebind]") {
  HushOptions o;
  o.unbound_config =
      "local-zone: \"rebind.example.\" static\n"
      "local-data: \"evil.rebind.example. A 192.168.1.1\"\n";
  o.extra_config = "[rebind]\nprotect = false\n";
  Env env(o);
  auto m = udp_query(env.ep(), "evil.rebind.example.", rr::A, edns());
  INFO(m.summary() << "\n" << env.logs());
  CHECK(m.texts(rr::A) == std::vector<std::string>{"192.168.1.1"});
  CHECK_FALSE(ede_of(m).present);
}

namespace {

// A query for `name` A with EDNS carrying a Client Subnet option for
// `addr`/`source` (IPv4).
Bytes query_with_subnet(const std::string& name, std::array<uint8_t, 4> addr, uint8_t source) {
  Bytes q = make_query(name, rr::A, QueryOpts{});
  q[11] = 1;  // ARCOUNT
  uint8_t len = uint8_t((source + 7) / 8);
  Bytes opt{0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, uint8_t(8 + len), 0, 8, 0, uint8_t(4 + len), 0, 1, source, 0};
  opt.insert(opt.end(), addr.begin(), addr.begin() + len);
  q.insert(q.end(), opt.begin(), opt.end());
  return q;
}

// The Client Subnet option of a query as the upstream received it, or nothing.
std::optional<Bytes> subnet_of(const UpstreamQuery& q) {
  Message m = parse_message(q.wire);
  if (!m.opt) return std::nullopt;
  const Bytes* e = m.opt->option(8);
  return e ? std::optional<Bytes>(*e) : std::nullopt;
}

struct SubnetEnv {
  FakeUpstream up{[](const UpstreamQuery& q) { return answer_a(q, "203.0.113.9"); }};
  TempDir dir;
  std::unique_ptr<Hush> hush;
  explicit SubnetEnv(const std::string& config) {
    HushOptions o;
    o.upstreams = {up.endpoint()};
    o.probe_with_query = false;
    o.extra_config = config;
    hush = std::make_unique<Hush>(dir.path() / "hush", o);
  }
  const UpstreamQuery* last(const std::string& name) {
    static std::vector<UpstreamQuery> seen;
    seen = up.queries();
    for (auto it = seen.rbegin(); it != seen.rend(); ++it)
      if (lower(it->qname) == name) return &*it;
    return nullptr;
  }
};

}  // namespace

TEST_CASE("EDNS Client Subnet: stripped by default, forwarded cut to the prefix when configured",
          "[integration][ecs]") {
  SECTION("default: never sent upstream") {
    SubnetEnv env("");
    auto r = udp_exchange(env.hush->v4(), query_with_subnet("strip.test.", {198, 51, 100, 77}, 32));
    REQUIRE(r);
    CHECK(parse_message(*r).rcode() == rcode::NOERROR);
    const UpstreamQuery* q = env.last("strip.test.");
    REQUIRE(q);
    CHECK_FALSE(subnet_of(*q));
  }
  SECTION("forward: cut to /24 and /56, each subnet its own cache entry") {
    // Appended to the harness's [upstream] table.
    SubnetEnv env("ecs = \"forward\"\necs_prefix_v4 = 24\n");
    auto r = udp_exchange(env.hush->v4(), query_with_subnet("fwd.test.", {198, 51, 100, 77}, 32));
    REQUIRE(r);
    const UpstreamQuery* q = env.last("fwd.test.");
    REQUIRE(q);
    auto ecs = subnet_of(*q);
    REQUIRE(ecs);
    CHECK(*ecs == Bytes{0, 1, 24, 0, 198, 51, 100});

    // A shorter prefix than the limit goes as it is; another subnet is asked anew.
    r = udp_exchange(env.hush->v4(), query_with_subnet("fwd.test.", {203, 0, 113, 0}, 16));
    REQUIRE(r);
    CHECK(env.up.count("fwd.test.") == 2);
    q = env.last("fwd.test.");
    REQUIRE(q);
    ecs = subnet_of(*q);
    REQUIRE(ecs);
    CHECK(*ecs == Bytes{0, 1, 16, 0, 203, 0});

    // The same /24 again comes from the cache.
    r = udp_exchange(env.hush->v4(), query_with_subnet("fwd.test.", {198, 51, 100, 1}, 32));
    REQUIRE(r);
    CHECK(parse_message(*r).texts(rr::A) == std::vector<std::string>{"203.0.113.9"});
    CHECK(env.up.count("fwd.test.") == 2);
  }
}

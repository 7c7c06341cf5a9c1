// A real net::Worker on loopback, with a scripted upstream: what reaches
// the sockets, over UDP and TCP, and what the worker does with the upstream.
#include <catch2/catch.hpp>

#include <memory>
#include <set>
#include <thread>

#include "loopback.hpp"
#include "net/sockets.hpp"
#include "net/worker.hpp"
#include "support/wire_builder.hpp"

using namespace hush;
using namespace hush::test;
using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 3000ms;

// One worker thread listening on a free loopback port, forwarding to
// `upstream_port`; `tune` adjusts the settings first.
class Server {
 public:
  template <class Tune>
  Server(uint16_t upstream_port, Tune tune) {
    cfg_.server.threads = 1;
    cfg_.upstream.servers = {"127.0.0.1:" + std::to_string(upstream_port)};
    cfg_.upstream.timeout_ms = 1000;
    tune(cfg_);
    net::ListenSockets sockets;
    for (int attempt = 0; attempt < 20 && sockets.udp.empty(); ++attempt) {
      port_ = free_port();
      cfg_.server.listen = {"127.0.0.1:" + std::to_string(port_)};
      std::vector<std::string> errors;
      REQUIRE(resolve(cfg_, errors));
      std::string error;
      if (!net::open_listen_sockets(cfg_.listen_addrs, cfg_.dot_addrs, cfg_.doh_addrs, sockets, error)) sockets = {};
    }
    REQUIRE(!sockets.udp.empty());
    shared_.reset(new net::Worker::Shared{cache_, policies_, BlockSettings{}, limiter_, local_, {}, {}});
    worker_ = std::make_unique<net::Worker>(cfg_, *shared_, 0, std::move(sockets));
    shared_->workers.push_back(worker_.get());
    thread_ = std::thread([this] { worker_->run(); });
  }
  explicit Server(uint16_t upstream_port) : Server(upstream_port, [](Config&) {}) {}
  ~Server() {
    worker_->stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  uint64_t counter(const std::atomic<uint64_t> Counters::*c) const { return (worker_->counters().*c).load(); }

 private:
  Config cfg_;
  cache::Cache cache_{1000, {}};
  PolicyStore policies_;
  RateLimiter limiter_;
  LocalStore local_;
  std::unique_ptr<net::Worker::Shared> shared_;
  std::unique_ptr<net::Worker> worker_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace

TEST_CASE("a UDP query is forwarded and answered") {
  FakeUpstream upstream;
  Server server(upstream.port());
  auto reply = udp_ask(server.port(), make_query("www.example.", LDNS_RR_TYPE_A, 0x4242), kWait);
  REQUIRE(reply);
  CHECK(id_of(*reply) == 0x4242);
  CHECK(ancount_of(*reply) == 1);
  auto p = parse(*reply);
  REQUIRE(p);
  CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_NOERROR);
  CHECK(upstream.udp_queries() == 1);
  CHECK(server.counter(&Counters::queries_udp) == 1);
}

TEST_CASE("pipelined TCP queries on one connection are answered in order of readiness") {
  FakeUpstream upstream(false, 400ms);
  Server server(upstream.port());
  // Cached first, so one of the pipelined questions is ready at once.
  REQUIRE(udp_ask(server.port(), make_query("cached.example.", LDNS_RR_TYPE_A, 1), kWait));

  TcpClient client(server.port());
  REQUIRE(client.connected());
  REQUIRE(client.send_framed({make_query("slow.example.", LDNS_RR_TYPE_A, 101),
                              make_query("cached.example.", LDNS_RR_TYPE_A, 102),
                              make_query("fast.example.", LDNS_RR_TYPE_A, 103)}));
  std::vector<uint16_t> ids;
  for (int i = 0; i < 3; ++i) {
    auto reply = client.read_framed(kWait);
    REQUIRE(reply);
    CHECK(ancount_of(*reply) == 1);
    ids.push_back(id_of(*reply));
  }
  CHECK(ids == std::vector<uint16_t>{102, 103, 101});
  CHECK(server.counter(&Counters::queries_tcp) == 3);
}

TEST_CASE("a truncated upstream answer is asked again over TCP") {
  FakeUpstream upstream(true);
  Server server(upstream.port());
  auto reply = udp_ask(server.port(), make_query("big.example.", LDNS_RR_TYPE_A, 7), kWait);
  REQUIRE(reply);
  CHECK(id_of(*reply) == 7);
  CHECK(ancount_of(*reply) == 1);  // the TCP answer, not the empty truncated one
  CHECK(upstream.udp_queries() == 1);
  CHECK(upstream.tcp_queries() == 1);
  CHECK(server.counter(&Counters::upstream_tcp_retries) == 1);
}

TEST_CASE("an idle TCP connection is closed after tcp.idle_timeout_ms") {
  FakeUpstream upstream;
  Server server(upstream.port(), [](Config& c) { c.tcp.idle_timeout_ms = 200; });
  TcpClient client(server.port());
  REQUIRE(client.connected());
  auto start = Clock::now();
  REQUIRE(client.wait_closed(kWait));
  CHECK(Clock::now() - start >= 150ms);
}

TEST_CASE("a client over its connection cap is refused; its other connections still work") {
  FakeUpstream upstream;
  Server server(upstream.port(), [](Config& c) { c.tcp.max_per_client = 2; });
  TcpClient first(server.port()), second(server.port());
  for (TcpClient* c : {&first, &second}) {
    REQUIRE(c->connected());
    REQUIRE(c->send_framed({make_query("www.example.", LDNS_RR_TYPE_A, 9)}));
    REQUIRE(c->read_framed(kWait));
  }
  TcpClient third(server.port());
  CHECK(third.wait_closed(kWait));
  CHECK(eventually([&] { return server.counter(&Counters::tcp_refused) == 1; }, kWait));
  REQUIRE(first.send_framed({make_query("www.example.", LDNS_RR_TYPE_A, 10)}));
  auto reply = first.read_framed(kWait);
  REQUIRE(reply);
  CHECK(id_of(*reply) == 10);
}

TEST_CASE("with every TCP slot taken, a new connection takes the slot of the one longest without a query") {
  FakeUpstream upstream;
  Server server(upstream.port(), [](Config& c) { c.tcp.max_connections = 2; });
  // The oldest asks once and is answered, so the server surely holds it
  // (a connect alone may wait in the backlog until after the busy one's
  // query on a loaded machine).
  TcpClient oldest(server.port());
  REQUIRE(oldest.connected());
  REQUIRE(oldest.send_framed({make_query("www.example.", LDNS_RR_TYPE_A, 7)}));
  REQUIRE(oldest.read_framed(kWait));
  TcpClient busy(server.port());
  REQUIRE(busy.connected());
  // The loop's clock counts milliseconds: let the busy one's query come a few later.
  std::this_thread::sleep_for(20ms);
  REQUIRE(busy.send_framed({make_query("www.example.", LDNS_RR_TYPE_A, 1)}));
  REQUIRE(busy.read_framed(kWait));
  TcpClient newcomer(server.port());
  REQUIRE(newcomer.send_framed({make_query("www.example.", LDNS_RR_TYPE_A, 2)}));
  auto reply = newcomer.read_framed(kWait);
  REQUIRE(reply);
  CHECK(id_of(*reply) == 2);
  CHECK(oldest.wait_closed(kWait));
  CHECK(server.counter(&Counters::tcp_evicted) == 1);
  REQUIRE(busy.send_framed({make_query("www.example.", LDNS_RR_TYPE_A, 3)}));
  CHECK(busy.read_framed(kWait));
}

TEST_CASE("a zero-length TCP frame closes its connection") {
  FakeUpstream upstream;
  Server server(upstream.port(), [](Config& c) { c.tcp.idle_timeout_ms = 60000; });
  TcpClient client(server.port());
  REQUIRE(client.connected());
  REQUIRE(client.send_framed({Bytes{}}));
  CHECK(client.wait_closed(kWait));
}

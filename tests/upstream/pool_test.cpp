// The logic behind hush's pooled upstream sockets: random numbers, the IDs
// of the queries waiting on one socket, which socket a query leaves on and
// when one is replaced, and the order attempts time out in.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "upstream/deadlines.hpp"
#include "upstream/ids.hpp"
#include "upstream/inflight.hpp"
#include "upstream/pool.hpp"
#include "upstream/random.hpp"

using namespace hush::upstream;

TEST_CASE("random numbers cover their range evenly and do not repeat in sequence") {
  Random r;
  std::map<uint32_t, int> counts;
  for (int i = 0; i < 70000; ++i) {
    uint32_t v = r.below(7);
    REQUIRE(v < 7);
    ++counts[v];
  }
  CHECK(counts.size() == 7);
  // 10,000 expected each; 5 standard deviations is about 460.
  for (auto [v, n] : counts) CHECK(std::abs(n - 10000) < 500);

  std::set<uint16_t> ids;
  int sequential = 0;
  uint16_t last = r.next16();
  for (int i = 0; i < 1000; ++i) {
    uint16_t id = r.next16();
    if (uint16_t(id - last) <= 2) ++sequential;
    ids.insert(id);
    last = id;
  }
  // 1,000 draws from 65,536: about 8 collisions expected.
  CHECK(ids.size() > 970);
  CHECK(sequential < 5);
  CHECK(r.below(1) == 0);
}

TEST_CASE("the IDs on one socket are unique and find their query") {
  Random r;
  IdTable t;
  std::vector<std::unique_ptr<Pending>> pendings;
  std::map<uint16_t, Pending*> given;
  for (int i = 0; i < 300; ++i) {
    pendings.push_back(std::make_unique<Pending>());
    uint16_t id = t.add(pendings.back().get(), r);
    CHECK(given.emplace(id, pendings.back().get()).second);
  }
  CHECK(t.size() == 300);
  for (auto [id, p] : given) CHECK(t.find(id) == p);

  // Removing some leaves the others findable; removed IDs answer nothing.
  int removed = 0;
  for (auto it = given.begin(); it != given.end(); ++removed) {
    if (removed % 3) {
      ++it;
      continue;
    }
    CHECK(t.remove(it->first));
    CHECK_FALSE(t.remove(it->first));
    CHECK(t.find(it->first) == nullptr);
    it = given.erase(it);
  }
  CHECK(t.size() == given.size());
  for (auto [id, p] : given) CHECK(t.find(id) == p);
  auto entries = t.entries();
  CHECK(entries.size() == given.size());
  for (auto [id, p] : entries) CHECK(given.at(id) == p);
}

TEST_CASE("an ID is never handed out twice while its query waits, even in a crowded table") {
  // Far more than a socket ever carries (PoolLimits::max_queries).
  Random r;
  IdTable t;
  Pending p;
  std::set<uint16_t> seen;
  for (int i = 0; i < 20000; ++i) REQUIRE(seen.insert(t.add(&p, r)).second);
}

TEST_CASE("a socket is replaced after its query budget or its age, whichever comes first") {
  PoolLimits limits{.sockets = 1, .max_queries = 3, .max_age_ms = 1000};
  Pool pool(limits);
  Random r;
  PooledSocket a, b, c;
  Pending p;

  auto first = pool.choose(r, 0);
  CHECK(first.slot == 0);
  CHECK(first.socket == nullptr);  // empty slot: open one
  CHECK(pool.replace(first.slot, &a, 0) == nullptr);

  for (int i = 0; i < 3; ++i) {
    auto ch = pool.choose(r, 10);
    REQUIRE(ch.socket == &a);
    a.carry(&p, r);
  }
  CHECK(a.queries == 3);
  // Spent: the next query needs a fresh socket; the old one keeps its
  // waiting queries until they are answered.
  CHECK(pool.choose(r, 10).socket == nullptr);
  CHECK(pool.replace(0, &b, 10) == &a);
  CHECK(a.retired);
  CHECK_FALSE(a.finished());
  for (auto [id, q] : a.waiting.entries()) a.waiting.remove(id);
  CHECK(a.finished());

  // Old enough: replaced even without a single query on it.
  CHECK(pool.choose(r, 1009).socket == &b);
  CHECK(pool.choose(r, 1010).socket == nullptr);
  CHECK(pool.replace(0, &c, 1010) == &b);
  CHECK(b.finished());
  CHECK(c.opened_ms == 1010);
  CHECK(c.queries == 0);
  CHECK_FALSE(c.retired);

  auto all = pool.take_all();
  CHECK(all == std::vector<PooledSocket*>{&c});
  CHECK(c.retired);
  CHECK(pool.choose(r, 1010).socket == nullptr);
}

TEST_CASE("a worn-out socket leaves its slot as soon as asked, a usable one stays") {
  PoolLimits limits{.sockets = 2, .max_queries = 2, .max_age_ms = 1000};
  Pool pool(limits);
  Random r;
  PooledSocket a, b;
  Pending p;
  pool.replace(0, &a, 0);
  pool.replace(1, &b, 0);
  a.carry(&p, r);
  CHECK_FALSE(pool.retire_if_worn_out(a, 10));
  CHECK_FALSE(a.retired);
  a.carry(&p, r);
  CHECK(pool.retire_if_worn_out(a, 10));  // spent
  CHECK(a.retired);
  CHECK(pool.retire_if_worn_out(b, 1000));  // too old
  CHECK(b.retired);
  pool.next_round();
  CHECK(pool.choose(r, 1000).socket == nullptr);
  CHECK(pool.take_all().empty());
}

TEST_CASE("each round of queries keeps to one socket, rounds spread over the pool at random") {
  PoolLimits limits{.sockets = 4, .max_queries = 1000000, .max_age_ms = 1000000};
  Pool pool(limits);
  Random r;
  PooledSocket s[4];
  for (size_t i = 0; i < 4; ++i) pool.replace(i, &s[i], 0);
  std::map<PooledSocket*, int> used;
  std::vector<size_t> slots;
  for (int round = 0; round < 4000; ++round) {
    pool.next_round();
    auto ch = pool.choose(r, 1);
    REQUIRE(ch.socket == &s[ch.slot]);
    for (int i = 0; i < 5; ++i) REQUIRE(pool.choose(r, 1).socket == ch.socket);
    ++used[ch.socket];
    slots.push_back(ch.slot);
  }
  CHECK(used.size() == 4);
  for (auto [sock, n] : used) CHECK(std::abs(n - 1000) < 160);
  // Not a rotation: the slot after slot k is not always k + 1.
  int in_turn = 0;
  for (size_t i = 1; i < slots.size(); ++i) in_turn += slots[i] == (slots[i - 1] + 1) % 4;
  CHECK(in_turn < 1300);
}

TEST_CASE("a round moves to another socket when its own wears out") {
  PoolLimits limits{.sockets = 2, .max_queries = 2, .max_age_ms = 1000000};
  Pool pool(limits);
  Random r;
  PooledSocket s[2];
  Pending p;
  for (size_t i = 0; i < 2; ++i) pool.replace(i, &s[i], 0);
  auto first = pool.choose(r, 1);
  first.socket->carry(&p, r);
  REQUIRE(pool.choose(r, 1).socket == first.socket);
  first.socket->carry(&p, r);
  // Spent: the round picks a slot again, and an empty answer means a fresh
  // socket for that slot.
  auto next = pool.choose(r, 1);
  CHECK(next.socket != first.socket);
  if (!next.socket) CHECK(next.slot == first.slot);
}

TEST_CASE("attempts time out in deadline order, and removed ones never") {
  Deadlines d;
  Pending a, b, c, e;
  CHECK_FALSE(d.next());
  CHECK(d.due(1000000) == nullptr);
  d.add(a, 100);
  d.add(b, 200);
  d.add(c, 300);
  CHECK(d.size() == 3);
  CHECK(*d.next() == 100);
  CHECK(d.due(99) == nullptr);
  CHECK(d.due(100) == &a);

  // Answered in the middle: the others keep their order.
  d.remove(b);
  d.remove(b);  // twice is harmless
  CHECK(d.size() == 2);
  d.remove(a);
  CHECK(d.due(250) == nullptr);
  CHECK(d.due(300) == &c);

  // One due earlier than the last goes in its place, not at the end.
  d.add(e, 150);
  d.add(a, 400);
  CHECK(d.due(150) == &e);
  d.remove(e);
  CHECK(d.due(399) == &c);
  d.remove(c);
  CHECK(d.due(400) == &a);
  d.remove(a);
  CHECK(d.size() == 0);
  CHECK_FALSE(d.next());

  // Re-added after removal (the next attempt of the same question).
  d.add(b, 500);
  CHECK(d.due(500) == &b);
  d.remove(b);
  CHECK_FALSE(b.has_deadline);
}

TEST_CASE("many attempts expire exactly when due") {
  Deadlines d;
  std::vector<Pending> ps(1000);
  for (size_t i = 0; i < ps.size(); ++i) d.add(ps[i], 1000 + i);
  // Every third one is answered before its deadline.
  for (size_t i = 0; i < ps.size(); i += 3) d.remove(ps[i]);
  std::vector<size_t> expired;
  for (uint64_t now = 1000; now < 2010; now += 7)
    while (Pending* p = d.due(now)) {
      CHECK(p->deadline_ms <= now);
      expired.push_back(size_t(p - ps.data()));
      d.remove(*p);
    }
  CHECK(expired.size() == 666);
  CHECK(std::is_sorted(expired.begin(), expired.end()));
  CHECK(d.size() == 0);
}

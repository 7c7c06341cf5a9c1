// Blocklist engine benchmark (not a test): 1,000,000 deterministic synthetic
// domains. Reports compile time, resident bytes per domain, lookup latency for
// hits (names on the list and subdomains of its wildcard entries), misses
// (names elsewhere, and subdomains of exact entries), and lookups with 1,000
// regexes.
//
//   cmake --build build --target hush_blocklist_bench
//   build/tests/bench/hush_blocklist_bench
//
// Latency benchmarks run 9 repetitions; read the *_median rows.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "hush/blocklists/compiled_set.h"
#include "hush/blocklists/policy.h"
#include "hush/blocklists/regex_set.h"

namespace bl = hush::blocklists;

namespace {

constexpr size_t kDomains = 1'000'000;
constexpr size_t kQueries = 1 << 16;

size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0;
  size_t pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Names shaped like real lists: a registrable domain under a common TLD with
// 0-3 extra labels; about eight names share each registrable domain.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  std::string label(size_t min_len, size_t max_len) {
    static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = min_len + rng_() % (max_len - min_len + 1);
    std::string s;
    for (size_t i = 0; i < n; ++i) {
      bool dash = i > 0 && i + 1 < n && rng_() % 12 == 0;
      s += dash ? '-' : kChars[rng_() % 36];
    }
    return s;
  }
  std::vector<std::string> domains(size_t n) {
    static const char* kTlds[] = {"com", "net", "org", "io", "de", "co.uk", "ru", "cn", "info", "xyz", "tv", "app",
                                  "jp", "fr", "com.br", "online", "site", "top"};
    std::vector<std::string> bases;
    for (size_t i = 0; i < n / 8; ++i) bases.push_back(label(4, 12) + "." + kTlds[rng_() % std::size(kTlds)]);
    std::unordered_set<std::string> seen;
    std::vector<std::string> out;
    out.reserve(n);
    while (out.size() < n) {
      std::string d = bases[rng_() % bases.size()];
      for (size_t k = rng_() % 4; k > 0; --k) d = label(2, 10) + "." + d;
      if (seen.insert(d).second) out.push_back(std::move(d));
    }
    return out;
  }
  uint64_t next() { return rng_(); }

 private:
  std::mt19937_64 rng_;
};

// Query names packed in one buffer: in the resolver the qname is hot in
// cache, so the benchmark must not charge a cache miss per query for
// fetching a scattered std::string.
class Queries {
 public:
  void add(std::string_view s) {
    offsets_.push_back({text_.size(), s.size()});
    text_.append(s);
  }
  std::string_view operator[](size_t i) const { return {text_.data() + offsets_[i].first, offsets_[i].second}; }
  size_t size() const { return offsets_.size(); }

 private:
  std::string text_;
  std::vector<std::pair<size_t, size_t>> offsets_;
};

struct Corpus {
  std::vector<std::string> names;  // the 1M list entries; every 5th is a wildcard
  Queries hits;                    // names the policy blocks
  Queries misses;                  // names it does not
  Queries near_misses;             // subdomains of exact entries: same registrable domain, not blocked
  std::string dir;
  std::string hosts_path, adblock_path, regex_path;

  Corpus() {
    Generator g(20240601);
    names = g.domains(kDomains);
    dir = (std::filesystem::temp_directory_path() / ("hush-bl-bench-" + std::to_string(getpid()))).string();
    std::filesystem::create_directories(dir);
    hosts_path = dir + "/hosts.txt";
    adblock_path = dir + "/adblock.txt";
    regex_path = dir + "/regex.list";
    std::ofstream hosts(hosts_path), adblock(adblock_path), regex(regex_path);
    hosts << "# Title: synthetic hosts\n127.0.0.1 localhost\n";
    adblock << "[Adblock Plus]\n! Title: synthetic\n";
    for (size_t i = 0; i < names.size(); ++i) {
      if (i % 5 == 0) {
        adblock << "||" << names[i] << "^\n";
      } else {
        hosts << "0.0.0.0 " << names[i] << "\n";
      }
    }
    // Pi-hole style: anchored to a registrable name or a label shape.
    for (int i = 0; i < 1000; ++i) {
      if (i % 2) {
        regex << "(^|\\.)" << g.label(5, 9) << "[0-9]*\\.(com|net)$\n";
      } else {
        regex << "^" << g.label(3, 5) << "[0-9]{2,}\\." << g.label(3, 6) << "\\.\n";
      }
    }
    for (size_t i = 0; i < kQueries; ++i) {
      size_t k = g.next() % names.size();
      hits.add(k % 5 == 0 && i % 2 ? "www." + names[k] : names[k]);
    }
    std::unordered_set<std::string> in(names.begin(), names.end());
    std::unordered_set<std::string_view> wildcards;
    for (size_t i = 0; i < names.size(); i += 5) wildcards.insert(names[i]);
    auto covered = [&](std::string_view n) {
      if (in.count(std::string(n))) return true;
      for (size_t dot = 0; (dot = n.find('.')) != std::string_view::npos;) {
        n.remove_prefix(dot + 1);
        if (wildcards.count(n)) return true;
      }
      return false;
    };
    while (near_misses.size() < kQueries) {
      size_t k = g.next() % names.size();
      std::string q = g.label(2, 6) + "." + names[k];
      if (k % 5 != 0 && !covered(q)) near_misses.add(q);
    }
    Generator other(99);
    for (std::string& d : other.domains(kQueries * 2)) {
      if (misses.size() < kQueries && !in.count(d)) misses.add(d);
    }
  }
  ~Corpus() { std::filesystem::remove_all(dir); }

  bl::PolicyConfig config(bool with_regex, std::string cache = {}) const {
    bl::PolicyConfig c;
    c.lists.push_back({"hosts", hosts_path});
    c.lists.push_back({"adblock", adblock_path});
    if (with_regex) c.lists.push_back({"regex", regex_path});
    c.compiled_cache_path = std::move(cache);
    return c;
  }
};

const Corpus& corpus() {
  static Corpus c;
  return c;
}

std::shared_ptr<const bl::Policy> policy(bool with_regex) {
  static std::shared_ptr<const bl::Policy> plain, regex;
  auto& p = with_regex ? regex : plain;
  if (!p) p = bl::Policy::build(corpus().config(with_regex), nullptr);
  return p;
}

// Compact set alone: 1M names in, sorted front-coded blocks out.
void BM_CompileSet(benchmark::State& state) {
  const Corpus& c = corpus();
  size_t bytes = 0;
  size_t rss_delta = 0;
  size_t entries = 0;
  for (auto _ : state) {
    state.PauseTiming();
    malloc_trim(0);
    const size_t before = rss_bytes();
    state.ResumeTiming();
    bl::SetTable sets(2);
    bl::CompiledSet set;
    {
      bl::CompiledSet::Builder b;
      for (size_t i = 0; i < c.names.size(); ++i) b.add(c.names[i], i % 5 == 0 ? 1 : 0, i % 5 == 0);
      set = b.build(sets, true);
    }
    state.PauseTiming();
    malloc_trim(0);
    rss_delta = rss_bytes() - before;
    bytes = set.memory_bytes();
    entries = set.size();
    state.ResumeTiming();
  }
  state.counters["entries"] = static_cast<double>(entries);
  state.counters["bytes_per_domain"] = static_cast<double>(bytes) / static_cast<double>(entries);
  state.counters["rss_bytes_per_domain"] = static_cast<double>(rss_delta) / static_cast<double>(entries);
}
BENCHMARK(BM_CompileSet)->Unit(benchmark::kMillisecond)->Iterations(3);

// Baseline the compact set is measured against: the obvious hash set.
// Heap bytes in use (mallinfo2), not RSS: freed pages from earlier
// benchmarks would otherwise absorb the set's allocations.
void BM_BaselineUnorderedSet(benchmark::State& state) {
  const Corpus& c = corpus();
  size_t heap_delta = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const size_t before = mallinfo2().uordblks + mallinfo2().hblkhd;
    state.ResumeTiming();
    auto set = std::make_unique<std::unordered_set<std::string>>(c.names.begin(), c.names.end());
    state.PauseTiming();
    heap_delta = mallinfo2().uordblks + mallinfo2().hblkhd - before;
    set.reset();
    state.ResumeTiming();
  }
  state.counters["heap_bytes_per_domain"] = static_cast<double>(heap_delta) / static_cast<double>(c.names.size());
}
BENCHMARK(BM_BaselineUnorderedSet)->Unit(benchmark::kMillisecond)->Iterations(1);

// What a start without cache costs: read, parse and compile 1M lines.
void BM_PolicyBuildFromFiles(benchmark::State& state) {
  const auto cfg = corpus().config(false);
  size_t rss_delta = 0;
  size_t bytes = 0;
  size_t entries = 0;
  for (auto _ : state) {
    state.PauseTiming();
    malloc_trim(0);
    const size_t before = rss_bytes();
    state.ResumeTiming();
    auto p = bl::Policy::build(cfg, nullptr);
    state.PauseTiming();
    malloc_trim(0);
    rss_delta = rss_bytes() - before;
    bytes = p->memory_bytes();
    entries = p->entry_count();
    p.reset();
    state.ResumeTiming();
  }
  state.counters["entries"] = static_cast<double>(entries);
  state.counters["bytes_per_domain"] = static_cast<double>(bytes) / static_cast<double>(entries);
  state.counters["rss_bytes_per_domain"] = static_cast<double>(rss_delta) / static_cast<double>(entries);
}
BENCHMARK(BM_PolicyBuildFromFiles)->Unit(benchmark::kMillisecond)->Iterations(2);

// A restart with a valid compiled cache: map and check, no parsing.
void BM_PolicyLoadFromCache(benchmark::State& state) {
  const Corpus& c = corpus();
  const auto cfg = c.config(false, c.dir + "/compiled.hush");
  bl::Policy::build(cfg, nullptr);  // writes the cache
  bool from_cache = false;
  for (auto _ : state) {
    bl::BuildReport rep;
    auto p = bl::Policy::build(cfg, &rep);
    from_cache = rep.from_cache;
    benchmark::DoNotOptimize(p);
  }
  state.counters["from_cache"] = from_cache;
  state.counters["file_bytes"] = static_cast<double>(std::filesystem::file_size(c.dir + "/compiled.hush"));
}
BENCHMARK(BM_PolicyLoadFromCache)->Unit(benchmark::kMillisecond)->Iterations(5);

void run_decide(benchmark::State& state, const Queries& names, bool with_regex,
                bl::Action expect) {
  auto p = policy(with_regex);
  size_t i = 0;
  size_t unexpected = 0;
  for (auto _ : state) {
    bl::Decision d = p->decide(names[i], 1, bl::kDefaultGroup, nullptr);
    unexpected += d.action != expect;
    benchmark::DoNotOptimize(d);
    i = (i + 1) & (kQueries - 1);
  }
  state.counters["unexpected"] = static_cast<double>(unexpected);
}

// Tracker lists are dense under shared words ("stat", "metric", "click"):
// names shaped like the server benchmark's list (tests/bench/benchlib.py
// gen), where many blocks start with the same 8 bytes ("com\x01stat").
struct DenseCorpus {
  bl::SetTable sets{1};
  bl::CompiledSet set;
  Queries hits;

  DenseCorpus() {
    static constexpr const char* kSyl[] = {"ad", "ads", "trk", "track", "stat", "pix", "cdn", "srv", "media",
                                           "tag", "log", "count", "metric", "beacon", "click", "go", "app",
                                           "api", "web", "data", "img", "static", "node", "edge", "sync",
                                           "mob", "rtb", "bid", "ox", "zy", "qu", "ka", "lo", "mi", "ne"};
    static constexpr const char* kTlds[] = {"com", "com", "com", "com", "net", "net", "org", "io", "info", "xyz"};
    std::mt19937_64 rng(20241121);
    auto label = [&] {
      std::string s;
      for (size_t n = 1 + rng() % 3; n > 0; --n) s += kSyl[rng() % std::size(kSyl)];
      if (rng() % 2) s += std::to_string(rng() % 1000);
      return s;
    };
    std::unordered_set<std::string> seen;
    std::vector<std::string> names;
    bl::CompiledSet::Builder b;
    while (names.size() < kDomains) {
      std::string d = label() + "." + kTlds[rng() % std::size(kTlds)];
      for (size_t k = rng() % 3; k > 0; --k) d = label() + "." + d;
      if (!seen.insert(d).second) continue;
      b.add(d, 0, false);
      names.push_back(std::move(d));
    }
    set = b.build(sets, false);
    for (size_t i = 0; i < kQueries; ++i) hits.add(names[rng() % names.size()]);
  }
};

void BM_LookupHitDenseNames(benchmark::State& state) {
  static DenseCorpus c;
  size_t i = 0;
  size_t unexpected = 0;
  for (auto _ : state) {
    bool hit = false;
    c.set.for_each_match(c.hits[i], [&](uint32_t, bool, size_t) { return hit = true; });
    unexpected += !hit;
    i = (i + 1) & (kQueries - 1);
  }
  state.counters["unexpected"] = static_cast<double>(unexpected);
}
BENCHMARK(BM_LookupHitDenseNames)->Repetitions(9)->ReportAggregatesOnly(true);

void BM_DecideHit(benchmark::State& state) { run_decide(state, corpus().hits, false, bl::Action::Block); }
void BM_DecideMiss(benchmark::State& state) { run_decide(state, corpus().misses, false, bl::Action::Pass); }
// Misses the anchor filter cannot answer: the table is probed.
void BM_DecideMissNear(benchmark::State& state) {
  run_decide(state, corpus().near_misses, false, bl::Action::Pass);
}
void BM_DecideHitWith1000Regex(benchmark::State& state) {
  run_decide(state, corpus().hits, true, bl::Action::Block);
}
void BM_DecideMissWith1000Regex(benchmark::State& state) {
  run_decide(state, corpus().misses, true, bl::Action::Pass);
}
BENCHMARK(BM_DecideHit)->Repetitions(9)->ReportAggregatesOnly(true);
BENCHMARK(BM_DecideMiss)->Repetitions(9)->ReportAggregatesOnly(true);
BENCHMARK(BM_DecideMissNear)->Repetitions(9)->ReportAggregatesOnly(true);
BENCHMARK(BM_DecideHitWith1000Regex)->Repetitions(9)->ReportAggregatesOnly(true);
BENCHMARK(BM_DecideMissWith1000Regex)->Repetitions(9)->ReportAggregatesOnly(true);

// Timed exceptions, pauses and blocked services reach the policy as
// $important allow/deny entries for groups of their own and a paused-group
// mask (policy/controls.cpp): what N of them (over 50 devices' own groups,
// one device paused) cost a query from a device in one of those groups.
std::shared_ptr<const bl::Policy> policy_with_controls(int n) {
  static std::map<int, std::shared_ptr<const bl::Policy>> built;
  auto& p = built[n];
  if (!p) {
    bl::PolicyConfig c = corpus().config(false);
    for (int i = 0; i < n; ++i) {
      std::string group = "device-" + std::to_string(i % 50);
      (i % 2 ? c.allow : c.deny).push_back({"||timed" + std::to_string(i) + ".example^$important", {group}});
    }
    if (n) c.paused = {"device-49"};
    p = bl::Policy::build(c, nullptr);
  }
  return p;
}
void run_decide_controls(benchmark::State& state, const Queries& names, bl::Action expect) {
  auto p = policy_with_controls(int(state.range(0)));
  bl::GroupMask groups = bl::kDefaultGroup | p->group_bit("device-0");
  size_t i = 0, unexpected = 0;
  for (auto _ : state) {
    bl::Decision d = p->decide(names[i], 1, groups, nullptr);
    unexpected += d.action != expect;
    benchmark::DoNotOptimize(d);
    i = (i + 1) & (kQueries - 1);
  }
  state.counters["unexpected"] = static_cast<double>(unexpected);
}
void BM_DecideHitWithControls(benchmark::State& state) { run_decide_controls(state, corpus().hits, bl::Action::Block); }
void BM_DecideMissWithControls(benchmark::State& state) { run_decide_controls(state, corpus().misses, bl::Action::Pass); }
BENCHMARK(BM_DecideHitWithControls)->Arg(0)->Arg(100)->Arg(1000)->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK(BM_DecideMissWithControls)->Arg(0)->Arg(100)->Arg(1000)->Repetitions(5)->ReportAggregatesOnly(true);

// The RE2::Set alone, to separate its cost from the name lookup.
void BM_RegexSet1000(benchmark::State& state) {
  bl::RegexSet rs;
  std::ifstream in(corpus().regex_path);
  std::string err;
  for (std::string line; std::getline(in, line);) rs.add(line, &err);
  rs.compile(&err);
  const auto& names = corpus().misses;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(rs.matches(names[i]));
    i = (i + 1) & (kQueries - 1);
  }
  state.counters["patterns"] = static_cast<double>(rs.size());
}
BENCHMARK(BM_RegexSet1000)->Repetitions(9)->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();

// DNSSEC work per answer (not a test): validating a signed answer whose
// chain is already in the key cache, and one ECDSA P-256 signature checked
// by ldns_verify_rrsig_keylist_time against validate::Verifier, which keeps
// the OpenSSL key it makes from a DNSKEY (resolver/validate/verify.hpp).
//
//   cmake --build build --target hush_dnssec_bench
//   build/tests/bench/hush_dnssec_bench
#include <benchmark/benchmark.h>

#include "signer.hpp"
#include "validate/validator.hpp"
#include "validate/verify.hpp"

namespace {

using namespace hush;
constexpr int64_t kNow = 1800000000;

struct Signed {
  test::ZoneKey key{"bench.", kNow - 100, kNow + 100000};
  ldns_rr_list* set = ldns_rr_list_new();
  ldns_rr_list* keys = ldns_rr_list_new();
  ldns_rr* sig = nullptr;
  Signed() {
    ldns_rr_list_push_rr(set, test::rr("h1.bench. 300 IN A 192.0.2.1"));
    sig = key.sign({ldns_rr_list_rr(set, 0)})[0];
    ldns_rr_list_push_rr(keys, key.dnskey());
  }
  ~Signed() {
    ldns_rr_list_deep_free(set);
    ldns_rr_list_deep_free(keys);
    ldns_rr_free(sig);
  }
};

void BM_ldns_verify(benchmark::State& state) {
  Signed s;
  for (auto _ : state) {
    ldns_rr_list* good = ldns_rr_list_new();
    benchmark::DoNotOptimize(ldns_verify_rrsig_keylist_time(s.set, s.sig, s.keys, kNow, good));
    ldns_rr_list_free(good);
  }
}
BENCHMARK(BM_ldns_verify);

void BM_verifier(benchmark::State& state) {
  Signed s;
  validate::Verifier verifier;
  for (auto _ : state) benchmark::DoNotOptimize(verifier.verify(s.set, s.sig, s.keys, kNow));
}
BENCHMARK(BM_verifier);

void BM_validate_cached_chain(benchmark::State& state) {
  Signed s;
  ldns_rr* k = s.key.dnskey();
  std::vector<ldns_rr*> key_sigs = s.key.sign({k});
  ldns_rr_free(k);
  auto dnskey = test::reply("bench.", LDNS_RR_TYPE_DNSKEY, LDNS_RCODE_NOERROR, test::plus({s.key.dnskey()}, key_sigs));
  ldns_rr_list* anchor = ldns_rr_list_new();
  ldns_rr_list_push_rr(anchor, s.key.ds());
  validate::KeyCache keys(100);
  validate::Validator v({{"bench.", validate::own(anchor)}}, keys);
  std::vector<ldns_rr*> answer{test::rr("h1.bench. 300 IN A 192.0.2.1")};
  auto reply = test::reply("h1.bench.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, test::plus(answer, s.key.sign(answer)));
  auto name = test::wire_name("h1.bench.");
  validate::Fetched fetched{{{"bench.", LDNS_RR_TYPE_DNSKEY}, dnskey}};
  v.validate(reply.data(), reply.size(), name.data(), name.size(), LDNS_RR_TYPE_A, fetched, kNow);
  for (auto _ : state)
    benchmark::DoNotOptimize(v.validate(reply.data(), reply.size(), name.data(), name.size(), LDNS_RR_TYPE_A, {}, kNow));
}
BENCHMARK(BM_validate_cached_chain);

}  // namespace

BENCHMARK_MAIN();

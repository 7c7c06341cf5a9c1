// One RRSIG checked against a list of DNSKEYs: the checks and results of
// ldns_verify_rrsig_keylist_time, with one difference for ECDSA
// (algorithms 13 and 14, the usual ones today): the OpenSSL key made from a
// DNSKEY is kept and used again. ldns builds a fresh key from the DNSKEY's
// bytes on every verification (and a 64 KB buffer per key tried), which
// costs nearly as much as the verification itself: 98 µs per P-256
// signature with ldns, 58 µs with a kept key (tests/bench/dnssec_bench.cpp,
// docs/BENCHMARKS.md). The signed data, the signature's conversion and
// the verification are still ldns's own functions; other algorithms go to
// ldns_verify_rrsig_keylist_time unchanged.
#pragma once

#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "dns/ldns.hpp"

namespace hush::validate {

class Verifier {
 public:
  explicit Verifier(size_t max_keys = 1024) : max_keys_(max_keys) {}

  ldns_status verify(const ldns_rr_list* rrset, const ldns_rr* rrsig, const ldns_rr_list* keys, time_t now);

  size_t kept_keys() const;

 private:
  std::shared_ptr<EVP_PKEY> key_for(const ldns_rr* dnskey, uint8_t algorithm);

  size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<EVP_PKEY>> keys_;  // by algorithm + public key bytes
};

}  // namespace hush::validate

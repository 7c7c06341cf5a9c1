// DNSSEC validation of one upstream reply, with no I/O (RFC 4033-4035,
// 5155, 6840). Given the reply, the trust anchors and what the KeyCache
// already holds, validate() says Secure, Insecure or Bogus, or NeedMore
// with the DS or DNSKEY question it must see answered first. The caller
// (net/) asks that question upstream with DO and CD, adds the reply to
// `fetched` and calls validate() again; every conclusion about a zone is
// kept in the KeyCache, so later questions skip the chain.
//
// The chain is chased top-down from the closest trust anchor, one label at
// a time towards the signer of each RRset (the owner name when unsigned):
// a DS set starts a secure child zone, a signed proof of no DS at a
// delegation (NSEC/NSEC3 with NS and no DS, or NSEC3 opt-out) makes
// everything below insecure, a proof that the name is not a delegation
// moves on to the next label.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "validate/anchors.hpp"
#include "validate/keys.hpp"
#include "validate/verify.hpp"

namespace hush::validate {

enum class State : uint8_t { Secure, Insecure, Bogus, NeedMore };
const char* to_string(State s);

// Extended DNS error codes (RFC 8914) a bogus answer is given.
namespace ede {
constexpr uint16_t Bogus = 6, SignatureExpired = 7, SignatureNotYetValid = 8, DnskeyMissing = 9,
                   RrsigsMissing = 10, NoReachableAuthority = 22;
}

struct Fetch {
  std::string name;  // lower case, with the final dot
  uint16_t type = 0; // DS or DNSKEY
  bool operator<(const Fetch& o) const { return std::tie(name, type) < std::tie(o.name, o.type); }
  bool operator==(const Fetch& o) const { return name == o.name && type == o.type; }
};

struct Result {
  State state = State::Insecure;
  uint16_t ede = 0;  // when Bogus
  std::string why;   // when Bogus or Insecure, for the EDE text and logs
  Fetch fetch;       // when NeedMore
};

// Replies to earlier fetches of one question; an empty reply means the
// fetch failed (timeout, error rcode).
using Fetched = std::map<Fetch, std::vector<uint8_t>>;

struct Limits {
  size_t max_cname_chain = 8;
  uint32_t max_key_ttl_s = 86400;  // validated DNSKEY/DS sets, proofs
  uint32_t bogus_ttl_s = 60;       // a failed chain is not retried sooner
};

class Validator {
 public:
  Validator(std::vector<Anchor> anchors, KeyCache& keys, Limits limits = {})
      : anchors_(std::make_shared<const std::vector<Anchor>>(std::move(anchors))), keys_(keys), limits_(limits) {}

  // Puts new trust anchors in force (the file read again after a key
  // rollover) and forgets every key and proof learned under the old ones.
  // Validations already running finish with the anchors they started with.
  void set_anchors(std::vector<Anchor> anchors);

  // `reply` answers (qname, qtype) (qname in wire form); `now_s` is the wall
  // clock in seconds, against which signature validity is checked.
  Result validate(const uint8_t* reply, size_t len, const uint8_t* qname, size_t qname_len, uint16_t qtype,
                  const Fetched& fetched, int64_t now_s) const;

  KeyCache& keys() const { return keys_; }

 private:
  struct Step;
  Result chase(const ldns_rdf* target, Step& s, Rrs* zone_keys) const;
  Result zone_keys(const ldns_rdf* zone, const ldns_rr_list* trusted, Step& s, Rrs* out) const;
  Result ds_of(const ldns_rdf* name, const ldns_rdf* parent, const Rrs& parent_keys, Step& s,
               KeyItem* out) const;
  Result denied_ds(const ldns_rdf* name, const ldns_rdf* parent, const Rrs& parent_keys, ldns_pkt* reply,
                   Step& s, KeyItem* out) const;
  Result check_rrset(ldns_rr_list* rrset, ldns_rr_list* sigs, Step& s) const;
  Result check_rrset_with(ldns_rr_list* rrset, ldns_rr_list* sigs, const ldns_rdf* zone, const Rrs& keys,
                          Step& s) const;
  Result check_answer(ldns_pkt* pkt, ldns_rdf* qname, uint16_t qtype, Step& s) const;
  Result check_positive(ldns_pkt* pkt, ldns_rr_list* rrset, ldns_rr_list* sigs, Step& s) const;
  Result check_denial(ldns_pkt* pkt, const ldns_rdf* name, uint16_t qtype, Step& s) const;
  static const Anchor* anchor_for(const std::vector<Anchor>& anchors, const ldns_rdf* name);
  std::shared_ptr<const std::vector<Anchor>> anchors() const;

  mutable std::mutex anchors_mu_;
  std::shared_ptr<const std::vector<Anchor>> anchors_;
  KeyCache& keys_;
  Limits limits_;
  mutable Verifier verifier_;
};

}  // namespace hush::validate

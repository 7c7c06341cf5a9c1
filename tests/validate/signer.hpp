// A zone signer for tests: keys made with ldns_key_new_frm_algorithm and
// signatures with ldns_sign_public, so canned signed messages are made
// fresh on each run and never go stale.
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "dns/ldns.hpp"

namespace hush::test {

inline ldns_rr* rr(const std::string& text) {
  ldns_rr* r = nullptr;
  if (ldns_rr_new_frm_str(&r, text.c_str(), 3600, nullptr, nullptr) != LDNS_STATUS_OK) return nullptr;
  return r;
}

struct ZoneKey {
  ldns_key* key = nullptr;
  ZoneKey(const std::string& zone, int64_t inception, int64_t expiration,
          ldns_signing_algorithm algorithm = LDNS_SIGN_ECDSAP256SHA256) {
    key = ldns_key_new_frm_algorithm(algorithm, algorithm == LDNS_SIGN_RSASHA256           ? 2048
                                                : algorithm == LDNS_SIGN_ECDSAP384SHA384 ? 384
                                                                                          : 256);
    ldns_key_set_pubkey_owner(key, ldns_dname_new_frm_str(zone.c_str()));
    ldns_key_set_flags(key, 257);
    ldns_key_set_inception(key, uint32_t(inception));
    ldns_key_set_expiration(key, uint32_t(expiration));
    // The key tag was computed before the flags changed.
    ldns_rr* k = ldns_key2rr(key);
    ldns_key_set_keytag(key, ldns_calc_keytag(k));
    ldns_rr_free(k);
  }
  ~ZoneKey() { ldns_key_deep_free(key); }
  ZoneKey(const ZoneKey&) = delete;
  ZoneKey& operator=(const ZoneKey&) = delete;
  ldns_rr* dnskey() const {
    ldns_rr* k = ldns_key2rr(key);
    ldns_rr_set_ttl(k, 3600);
    return k;
  }
  ldns_rr* ds() const {
    ldns_rr* k = dnskey();
    ldns_rr* d = ldns_key_rr2ds(k, LDNS_SHA256);
    ldns_rr_free(k);
    return d;
  }
  // RRSIGs valid from `inception` to `expiration` instead of the key's times.
  std::vector<ldns_rr*> sign_between(int64_t inception, int64_t expiration, const std::vector<ldns_rr*>& rrset) const {
    uint32_t i = ldns_key_inception(key), e = ldns_key_expiration(key);
    ldns_key_set_inception(key, uint32_t(inception));
    ldns_key_set_expiration(key, uint32_t(expiration));
    std::vector<ldns_rr*> out = sign(rrset);
    ldns_key_set_inception(key, i);
    ldns_key_set_expiration(key, e);
    return out;
  }
  // RRSIGs over the records (one RRset).
  std::vector<ldns_rr*> sign(const std::vector<ldns_rr*>& rrset) const {
    ldns_rr_list* set = ldns_rr_list_new();
    for (ldns_rr* r : rrset) ldns_rr_list_push_rr(set, r);
    ldns_key_list* keys = ldns_key_list_new();
    ldns_key_list_push_key(keys, key);
    ldns_rr_list* sigs = ldns_sign_public(set, keys);
    std::vector<ldns_rr*> out;
    for (size_t i = 0; sigs && i < ldns_rr_list_rr_count(sigs); ++i) out.push_back(ldns_rr_list_rr(sigs, i));
    ldns_rr_list_free(sigs);
    ldns_key_list_set_key_count(keys, 0);
    ldns_key_list_free(keys);
    ldns_rr_list_free(set);
    return out;
  }
};

// A reply to (qname, qtype) with the given sections (the records are taken over).
inline std::vector<uint8_t> reply(const std::string& qname, ldns_rr_type qtype, ldns_pkt_rcode rcode,
                                  const std::vector<ldns_rr*>& answer, const std::vector<ldns_rr*>& authority = {}) {
  ldns_pkt* p = ldns_pkt_query_new(ldns_dname_new_frm_str(qname.c_str()), qtype, LDNS_RR_CLASS_IN, LDNS_RD);
  ldns_pkt_set_qr(p, true);
  ldns_pkt_set_rcode(p, uint8_t(rcode));
  for (ldns_rr* r : answer) ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, r);
  for (ldns_rr* r : authority) ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, r);
  ldns_pkt_set_edns_udp_size(p, 1232);
  ldns_pkt_set_edns_do(p, true);
  uint8_t* wire = nullptr;
  size_t len = 0;
  ldns_pkt2wire(&wire, p, &len);
  std::vector<uint8_t> out(wire, wire + len);
  free(wire);
  ldns_pkt_free(p);
  return out;
}

inline std::vector<ldns_rr*> plus(std::vector<ldns_rr*> a, const std::vector<ldns_rr*>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline std::vector<uint8_t> wire_name(const std::string& name) {
  ldns_rdf* d = ldns_dname_new_frm_str(name.c_str());
  std::vector<uint8_t> out(ldns_rdf_data(d), ldns_rdf_data(d) + ldns_rdf_size(d));
  ldns_rdf_deep_free(d);
  return out;
}

}  // namespace hush::test

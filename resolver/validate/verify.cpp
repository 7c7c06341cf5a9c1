#include "validate/verify.hpp"

#include <openssl/evp.h>

namespace hush::validate {

namespace {

struct BufferFree {
  void operator()(ldns_buffer* b) const { ldns_buffer_free(b); }
};
using Buffer = std::unique_ptr<ldns_buffer, BufferFree>;

// RFC 4034 3.1.8.1 and 6.2: the RRset as signed, with the signature's
// original TTL, the wildcard owner it was expanded from, names in lower
// case, records in canonical order.
ldns_rr_list* as_signed(const ldns_rr_list* rrset, const ldns_rr* rrsig) {
  ldns_rr_list* out = ldns_rr_list_clone(rrset);
  uint32_t ttl = ldns_rdf2native_int32(ldns_rr_rdf(rrsig, 3));
  uint8_t labels = ldns_rdf2native_int8(ldns_rr_rdf(rrsig, 2));
  for (size_t i = 0; i < ldns_rr_list_rr_count(out); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(out, i);
    if (labels < ldns_dname_label_count(ldns_rr_owner(rr))) {
      ldns_rdf* suffix = ldns_dname_clone_from(ldns_rr_owner(rr), ldns_dname_label_count(ldns_rr_owner(rr)) - labels);
      ldns_rdf* wildcard = nullptr;
      (void)ldns_str2rdf_dname(&wildcard, "*");
      (void)ldns_dname_cat(wildcard, suffix);
      ldns_rdf_deep_free(suffix);
      ldns_rdf_deep_free(ldns_rr_owner(rr));
      ldns_rr_set_owner(rr, wildcard);
    }
    ldns_rr_set_ttl(rr, ttl);
    ldns_rr2canonical(rr);
  }
  ldns_rr_list_sort(out);
  return out;
}

ldns_status check_times(const ldns_rr* rrsig, time_t now) {
  auto inception = int32_t(ldns_rdf2native_time_t(ldns_rr_rrsig_inception(rrsig)));
  auto expiration = int32_t(ldns_rdf2native_time_t(ldns_rr_rrsig_expiration(rrsig)));
  // Serial-number arithmetic (RFC 4034 3.1.5), as ldns does.
  if (expiration - inception < 0) return LDNS_STATUS_CRYPTO_EXPIRATION_BEFORE_INCEPTION;
  if (int32_t(now) - inception < 0) return LDNS_STATUS_CRYPTO_SIG_NOT_INCEPTED;
  if (expiration - int32_t(now) < 0) return LDNS_STATUS_CRYPTO_SIG_EXPIRED;
  return LDNS_STATUS_OK;
}

}  // namespace

std::shared_ptr<EVP_PKEY> Verifier::key_for(const ldns_rr* dnskey, uint8_t algorithm) {
  const ldns_rdf* bytes = ldns_rr_rdf(dnskey, 3);
  if (!bytes) return nullptr;
  std::string id(1, char(algorithm));
  id.append(reinterpret_cast<const char*>(ldns_rdf_data(bytes)), ldns_rdf_size(bytes));
  {
    std::lock_guard lock(mu_);
    if (auto it = keys_.find(id); it != keys_.end()) return it->second;
  }
  EVP_PKEY* made = ldns_ecdsa2pkey_raw(ldns_rdf_data(bytes), ldns_rdf_size(bytes), algorithm);
  if (!made) return nullptr;
  std::shared_ptr<EVP_PKEY> key(made, EVP_PKEY_free);
  std::lock_guard lock(mu_);
  if (keys_.size() >= max_keys_) keys_.clear();  // rare: keys change slowly
  keys_.emplace(std::move(id), key);
  return key;
}

size_t Verifier::kept_keys() const {
  std::lock_guard lock(mu_);
  return keys_.size();
}

ldns_status Verifier::verify(const ldns_rr_list* rrset, const ldns_rr* rrsig, const ldns_rr_list* keys, time_t now) {
  if (ldns_rr_rd_count(rrsig) < 9 || ldns_rr_list_rr_count(rrset) == 0) return LDNS_STATUS_MISSING_RDATA_FIELDS_RRSIG;
  uint8_t algorithm = ldns_rdf2native_int8(ldns_rr_rdf(rrsig, 1));
  if (algorithm != LDNS_ECDSAP256SHA256 && algorithm != LDNS_ECDSAP384SHA384) {
    std::unique_ptr<ldns_rr_list, void (*)(ldns_rr_list*)> good(ldns_rr_list_new(), ldns_rr_list_free);
    return ldns_verify_rrsig_keylist_time(rrset, rrsig, keys, now, good.get());
  }
  if (ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rrsig)) != ldns_rr_get_type(ldns_rr_list_rr(rrset, 0)))
    return LDNS_STATUS_CRYPTO_TYPE_COVERED_ERR;
  Buffer signature(ldns_buffer_new(128)), data(ldns_buffer_new(1024));
  if (ldns_convert_ecdsa_rrsig_rdf2asn1(signature.get(), ldns_rr_rdf(rrsig, 8)) != LDNS_STATUS_OK)
    return LDNS_STATUS_CRYPTO_BOGUS;
  std::unique_ptr<ldns_rr_list, void (*)(ldns_rr_list*)> canonical(as_signed(rrset, rrsig), ldns_rr_list_deep_free);
  if (ldns_rrsig2buffer_wire(data.get(), rrsig) != LDNS_STATUS_OK ||
      ldns_rr_list2buffer_wire(data.get(), canonical.get()) != LDNS_STATUS_OK)
    return LDNS_STATUS_MEM_ERR;
  uint16_t tag = ldns_rdf2native_int16(ldns_rr_rrsig_keytag(rrsig));
  ldns_status result = LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY;
  for (size_t i = 0; i < ldns_rr_list_rr_count(keys); ++i) {
    const ldns_rr* key = ldns_rr_list_rr(keys, i);
    if (ldns_calc_keytag(key) != tag || !ldns_rr_rdf(key, 2) || ldns_rdf2native_int8(ldns_rr_rdf(key, 2)) != algorithm)
      continue;
    std::shared_ptr<EVP_PKEY> pkey = key_for(key, algorithm);
    if (!pkey) continue;
    result = ldns_verify_rrsig_evp(signature.get(), data.get(), pkey.get(),
                                   algorithm == LDNS_ECDSAP256SHA256 ? EVP_sha256() : EVP_sha384());
    if (result == LDNS_STATUS_OK) return check_times(rrsig, now);
  }
  return result;
}

}  // namespace hush::validate

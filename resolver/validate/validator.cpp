#include "validate/validator.hpp"

#include <algorithm>
#include <memory>

namespace hush::validate {

namespace {

struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
struct RdfFree {
  void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};
struct ListFree {  // lists of records owned elsewhere (a packet's sections)
  void operator()(ldns_rr_list* l) const { ldns_rr_list_free(l); }
};
struct RrFree {
  void operator()(ldns_rr* r) const { ldns_rr_free(r); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;
using Rdf = std::unique_ptr<ldns_rdf, RdfFree>;
using View = std::unique_ptr<ldns_rr_list, ListFree>;

Rdf dname(const std::string& text) { return Rdf(ldns_dname_new_frm_str(text.c_str())); }

bool same_name(const ldns_rdf* a, const ldns_rdf* b) { return ldns_dname_compare(a, b) == 0; }

bool at_or_below(const ldns_rdf* name, const ldns_rdf* zone) {
  return same_name(name, zone) || ldns_dname_is_subdomain(name, zone);
}

// Whether every record the validator reads field by field (RRSIG, DNSKEY,
// DS, NSEC, NSEC3, CNAME, DNAME) has all its fields: ldns reads a record of
// RDLENGTH 0 as one with none, and its accessors then give null.
bool complete(const ldns_pkt* pkt) {
  auto fields = [](ldns_rr_type t) -> size_t {
    switch (t) {
      case LDNS_RR_TYPE_RRSIG: return 9;
      case LDNS_RR_TYPE_NSEC3: return 6;
      case LDNS_RR_TYPE_DNSKEY:
      case LDNS_RR_TYPE_DS: return 4;
      case LDNS_RR_TYPE_NSEC: return 2;
      case LDNS_RR_TYPE_CNAME:
      case LDNS_RR_TYPE_DNAME: return 1;
      default: return 0;
    }
  };
  for (const ldns_rr_list* section : {ldns_pkt_answer(pkt), ldns_pkt_authority(pkt), ldns_pkt_additional(pkt)})
    for (size_t i = 0; i < ldns_rr_list_rr_count(section); ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(section, i);
      size_t need = fields(ldns_rr_get_type(rr));
      if (ldns_rr_rd_count(rr) < need) return false;
      for (size_t f = 0; f < need; ++f)
        if (!ldns_rr_rdf(rr, f)) return false;
    }
  return true;
}

// The records of one type at `owner` in `section`.
View rrset_of(const ldns_rr_list* section, const ldns_rdf* owner, ldns_rr_type t) {
  View out(ldns_rr_list_new());
  for (size_t i = 0; i < ldns_rr_list_rr_count(section); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(section, i);
    if (ldns_rr_get_type(rr) == t && same_name(ldns_rr_owner(rr), owner)) ldns_rr_list_push_rr(out.get(), rr);
  }
  return out;
}

// The RRSIGs at `owner` in `section` that cover type `t`.
View sigs_for(const ldns_rr_list* section, const ldns_rdf* owner, ldns_rr_type t) {
  View out(ldns_rr_list_new());
  for (size_t i = 0; i < ldns_rr_list_rr_count(section); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(section, i);
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG || !same_name(ldns_rr_owner(rr), owner)) continue;
    const ldns_rdf* covered = ldns_rr_rrsig_typecovered(rr);
    if (covered && ldns_rdf2rr_type(covered) == t) ldns_rr_list_push_rr(out.get(), rr);
  }
  return out;
}

View of_type(const ldns_rr_list* section, ldns_rr_type t) {
  View out(ldns_rr_list_new());
  for (size_t i = 0; i < ldns_rr_list_rr_count(section); ++i)
    if (ldns_rr_get_type(ldns_rr_list_rr(section, i)) == t) ldns_rr_list_push_rr(out.get(), ldns_rr_list_rr(section, i));
  return out;
}

uint32_t min_ttl(const ldns_rr_list* l, uint32_t cap) {
  uint32_t ttl = cap;
  for (size_t i = 0; i < ldns_rr_list_rr_count(l); ++i) ttl = std::min(ttl, ldns_rr_ttl(ldns_rr_list_rr(l, i)));
  return ttl;
}

std::string type_name(uint16_t t) {
  char* s = ldns_rr_type2str(ldns_rr_type(t));
  std::string out = s ? s : std::to_string(t);
  free(s);
  return out;
}

Result bogus(uint16_t code, std::string why) { return {State::Bogus, code, std::move(why), {}}; }

Result bogus_from(ldns_status st, const std::string& what) {
  uint16_t code = st == LDNS_STATUS_CRYPTO_SIG_EXPIRED         ? ede::SignatureExpired
                  : st == LDNS_STATUS_CRYPTO_SIG_NOT_INCEPTED  ? ede::SignatureNotYetValid
                  : st == LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY ? ede::DnskeyMissing
                                                               : ede::Bogus;
  return bogus(code, what + ": " + ldns_get_errorstr_by_id(st));
}

Result secure() { return {State::Secure, 0, {}, {}}; }

bool answered(ldns_pkt* pkt) {
  ldns_pkt_rcode rc = ldns_pkt_get_rcode(pkt);
  return rc == LDNS_RCODE_NOERROR || rc == LDNS_RCODE_NXDOMAIN;
}

}  // namespace

const char* to_string(State s) {
  switch (s) {
    case State::Secure: return "secure";
    case State::Insecure: return "insecure";
    case State::Bogus: return "bogus";
    case State::NeedMore: return "need more";
  }
  return "?";
}

struct Validator::Step {
  const Fetched& fetched;
  int64_t now_s;
  const std::vector<Anchor>& anchors;
  std::string zone;  // the zone the last chase() ended in

  // The fetched reply to (name, type): NeedMore when not asked yet, Bogus
  // when the fetch failed; the packet otherwise.
  Result get(const std::string& name, uint16_t type, Pkt& out) const {
    auto it = fetched.find({name, type});
    if (it == fetched.end()) return {State::NeedMore, 0, {}, {name, type}};
    ldns_pkt* p = nullptr;
    if (it->second.empty() || ldns_wire2pkt(&p, it->second.data(), it->second.size()) != LDNS_STATUS_OK)
      return bogus(ede::NoReachableAuthority, "no answer for " + name + " " + type_name(type));
    out.reset(p);
    if (!complete(p)) return bogus(ede::Bogus, "malformed record in the answer for " + name + " " + type_name(type));
    if (!answered(p)) return bogus(ede::NoReachableAuthority, "error answer for " + name + " " + type_name(type));
    return secure();
  }
};

void Validator::set_anchors(std::vector<Anchor> anchors) {
  auto fresh = std::make_shared<const std::vector<Anchor>>(std::move(anchors));
  {
    std::lock_guard lock(anchors_mu_);
    anchors_ = std::move(fresh);
  }
  keys_.clear();
}

std::shared_ptr<const std::vector<Anchor>> Validator::anchors() const {
  std::lock_guard lock(anchors_mu_);
  return anchors_;
}

const Anchor* Validator::anchor_for(const std::vector<Anchor>& anchors, const ldns_rdf* name) {
  const Anchor* best = nullptr;
  size_t best_labels = 0;
  for (const Anchor& a : anchors) {
    Rdf zone = dname(a.zone);
    if (!zone || !at_or_below(name, zone.get())) continue;
    size_t labels = ldns_dname_label_count(zone.get());
    if (!best || labels > best_labels) {
      best = &a;
      best_labels = labels;
    }
  }
  return best;
}

Result Validator::validate(const uint8_t* reply, size_t len, const uint8_t* qname, size_t qname_len,
                           uint16_t qtype, const Fetched& fetched, int64_t now_s) const {
  ldns_pkt* p = nullptr;
  if (ldns_wire2pkt(&p, reply, len) != LDNS_STATUS_OK) return bogus(ede::Bogus, "unreadable reply");
  Pkt pkt(p);
  if (!complete(p)) return bogus(ede::Bogus, "malformed record in the reply");
  ldns_rdf* q = nullptr;
  size_t pos = 0;
  if (ldns_wire2dname(&q, qname, qname_len, &pos) != LDNS_STATUS_OK) return bogus(ede::Bogus, "unreadable name");
  Rdf name(q);
  ldns_dname2canonical(name.get());
  std::shared_ptr<const std::vector<Anchor>> anchors = this->anchors();
  Step s{fetched, now_s, *anchors, {}};
  return check_answer(pkt.get(), name.get(), qtype, s);
}

Result Validator::check_answer(ldns_pkt* pkt, ldns_rdf* qname, uint16_t qtype, Step& s) const {
  // Other rcodes carry no data to trust or distrust; they pass as they are.
  if (!answered(pkt)) return {State::Insecure, 0, "error rcode", {}};
  const ldns_rr_list* answer = ldns_pkt_answer(pkt);
  Rdf cur(ldns_rdf_clone(qname));
  Result overall = secure();
  for (size_t hop = 0; hop <= limits_.max_cname_chain; ++hop) {
    View set = rrset_of(answer, cur.get(), ldns_rr_type(qtype));
    if (ldns_rr_list_rr_count(set.get())) {
      View sigs = sigs_for(answer, cur.get(), ldns_rr_type(qtype));
      Result r = check_positive(pkt, set.get(), sigs.get(), s);
      return r.state == State::Secure ? overall : r;
    }
    View cname = rrset_of(answer, cur.get(), LDNS_RR_TYPE_CNAME);
    if (ldns_rr_list_rr_count(cname.get()) == 0) {
      Result r = check_denial(pkt, cur.get(), qtype, s);
      return r.state == State::Secure ? overall : r;
    }
    View sigs = sigs_for(answer, cur.get(), LDNS_RR_TYPE_CNAME);
    Result r;
    // A CNAME synthesized from a DNAME is unsigned; the DNAME is what is signed.
    View dname_set(ldns_rr_list_new());
    for (size_t i = 0; ldns_rr_list_rr_count(sigs.get()) == 0 && i < ldns_rr_list_rr_count(answer); ++i) {
      ldns_rr* rr = ldns_rr_list_rr(answer, i);
      if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNAME && ldns_dname_is_subdomain(cur.get(), ldns_rr_owner(rr))) {
        dname_set = rrset_of(answer, ldns_rr_owner(rr), LDNS_RR_TYPE_DNAME);
        sigs = sigs_for(answer, ldns_rr_owner(rr), LDNS_RR_TYPE_DNAME);
        break;
      }
    }
    r = check_positive(pkt, ldns_rr_list_rr_count(dname_set.get()) ? dname_set.get() : cname.get(), sigs.get(), s);
    if (r.state == State::Bogus || r.state == State::NeedMore) return r;
    if (r.state == State::Insecure) overall = r;
    Rdf next(ldns_rdf_clone(ldns_rr_rdf(ldns_rr_list_rr(cname.get(), 0), 0)));
    ldns_dname2canonical(next.get());
    cur = std::move(next);
  }
  return bogus(ede::Bogus, "CNAME chain longer than " + std::to_string(limits_.max_cname_chain));
}

Result Validator::check_positive(ldns_pkt* pkt, ldns_rr_list* rrset, ldns_rr_list* sigs, Step& s) const {
  Result r = check_rrset(rrset, sigs, s);
  if (r.state != State::Secure) return r;
  const ldns_rdf* owner = ldns_rr_owner(ldns_rr_list_rr(rrset, 0));
  const ldns_rdf* labels_rdf = ldns_rr_rrsig_labels(ldns_rr_list_rr(sigs, 0));
  size_t labels = labels_rdf ? ldns_rdf2native_int8(labels_rdf) : 0, owner_labels = ldns_dname_label_count(owner);
  if (labels >= owner_labels) return r;
  // Expanded from a wildcard (RFC 4035 5.3.4): the name asked for must be
  // proven absent (NSEC covering it; NSEC3 covering the next closer name).
  Rdf next_closer(ldns_dname_clone_from(owner, uint16_t(owner_labels - labels - 1)));
  const ldns_rr_list* auth = ldns_pkt_authority(pkt);
  for (size_t i = 0; i < ldns_rr_list_rr_count(auth); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(auth, i);
    ldns_rr_type t = ldns_rr_get_type(rr);
    if (t != LDNS_RR_TYPE_NSEC && t != LDNS_RR_TYPE_NSEC3) continue;
    if (!ldns_nsec_covers_name(rr, t == LDNS_RR_TYPE_NSEC ? owner : next_closer.get())) continue;
    View one = rrset_of(auth, ldns_rr_owner(rr), t);
    View one_sigs = sigs_for(auth, ldns_rr_owner(rr), t);
    Result proof = check_rrset(one.get(), one_sigs.get(), s);
    if (proof.state == State::Secure) return r;
    if (proof.state == State::NeedMore) return proof;
  }
  return bogus(ede::Bogus, "wildcard answer for " + lower_name(owner) + " without proof that the name does not exist");
}

Result Validator::check_rrset(ldns_rr_list* rrset, ldns_rr_list* sigs, Step& s) const {
  const ldns_rdf* owner = ldns_rr_owner(ldns_rr_list_rr(rrset, 0));
  std::string what = lower_name(owner) + " " + type_name(ldns_rr_get_type(ldns_rr_list_rr(rrset, 0)));
  Rrs keys;
  if (ldns_rr_list_rr_count(sigs) == 0) {
    Result r = chase(owner, s, &keys);
    if (r.state != State::Secure) return r;
    return bogus(ede::RrsigsMissing, "RRSIGs missing: " + what + " in signed zone " + s.zone);
  }
  Rdf signer(ldns_rdf_clone(ldns_rr_rrsig_signame(ldns_rr_list_rr(sigs, 0))));
  ldns_dname2canonical(signer.get());
  Rdf owner_lc(ldns_rdf_clone(owner));
  ldns_dname2canonical(owner_lc.get());
  if (!at_or_below(owner_lc.get(), signer.get()))
    return bogus(ede::Bogus, "signer " + lower_name(signer.get()) + " is not above " + what);
  Result r = chase(signer.get(), s, &keys);
  if (r.state != State::Secure) return r;
  if (s.zone != lower_name(signer.get()))
    return bogus(ede::Bogus, "signer " + lower_name(signer.get()) + " of " + what + " is not a zone");
  return check_rrset_with(rrset, sigs, signer.get(), keys, s);
}

Result Validator::check_rrset_with(ldns_rr_list* rrset, ldns_rr_list* sigs, const ldns_rdf* zone,
                                   const Rrs& keys, Step& s) const {
  std::string what = lower_name(ldns_rr_owner(ldns_rr_list_rr(rrset, 0))) + " " +
                     type_name(ldns_rr_get_type(ldns_rr_list_rr(rrset, 0)));
  if (ldns_rr_list_rr_count(sigs) == 0) return bogus(ede::RrsigsMissing, "RRSIGs missing: " + what);
  ldns_status last = LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY;
  for (size_t i = 0; i < ldns_rr_list_rr_count(sigs); ++i) {
    ldns_rr* sig = ldns_rr_list_rr(sigs, i);
    Rdf signer(ldns_rdf_clone(ldns_rr_rrsig_signame(sig)));
    ldns_dname2canonical(signer.get());
    if (!same_name(signer.get(), zone)) continue;
    ldns_status st = verifier_.verify(rrset, sig, keys.get(), time_t(s.now_s));
    if (st == LDNS_STATUS_OK) return secure();
    // A key that is there but fails says more than one that is not.
    if (last == LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY) last = st;
  }
  return bogus_from(last, what);
}

Result Validator::chase(const ldns_rdf* target, Step& s, Rrs* out) const {
  const Anchor* a = anchor_for(s.anchors, target);
  if (!a) return {State::Insecure, 0, "no trust anchor for " + lower_name(target), {}};
  Rdf zone = dname(a->zone);
  Rrs keys;
  Result r = zone_keys(zone.get(), a->rrs.get(), s, &keys);
  if (r.state != State::Secure) return r;
  Rdf pos(ldns_rdf_clone(zone.get()));
  size_t depth = ldns_dname_label_count(target);
  while (!same_name(pos.get(), target)) {
    Rdf child(ldns_dname_clone_from(target, uint16_t(depth - ldns_dname_label_count(pos.get()) - 1)));
    KeyItem ds;
    r = ds_of(child.get(), zone.get(), keys, s, &ds);
    if (r.state != State::Secure) return r;
    if (ds.kind == KeyItem::Kind::Insecure)
      return {State::Insecure, 0, "insecure delegation at " + lower_name(child.get()), {}};
    if (ds.kind == KeyItem::Kind::Ds) {
      Rrs child_keys;
      r = zone_keys(child.get(), ds.rrs.get(), s, &child_keys);
      if (r.state != State::Secure) return r;
      zone.reset(ldns_rdf_clone(child.get()));
      keys = child_keys;
    }
    pos = std::move(child);
  }
  s.zone = lower_name(zone.get());
  *out = keys;
  return secure();
}

Result Validator::zone_keys(const ldns_rdf* zone, const ldns_rr_list* trusted, Step& s, Rrs* out) const {
  std::string name = lower_name(zone);
  if (auto item = keys_.get("K" + name, s.now_s)) {
    if (item->kind == KeyItem::Kind::Bogus) return bogus(item->ede, item->why);
    *out = item->rrs;
    return secure();
  }
  Pkt pkt;
  Result r = s.get(name, LDNS_RR_TYPE_DNSKEY, pkt);
  if (r.state != State::Secure) return r;
  auto fail = [&](Result b) {
    keys_.put("K" + name, {KeyItem::Kind::Bogus, nullptr, b.ede, b.why, s.now_s + limits_.bogus_ttl_s}, s.now_s);
    return b;
  };
  const ldns_rr_list* answer = ldns_pkt_answer(pkt.get());
  View dnskeys = rrset_of(answer, zone, LDNS_RR_TYPE_DNSKEY);
  if (ldns_rr_list_rr_count(dnskeys.get()) == 0) return fail(bogus(ede::DnskeyMissing, "DNSKEY missing: " + name + " has none"));
  View entry(ldns_rr_list_new());  // the keys the DS set or trust anchor vouches for
  for (size_t i = 0; i < ldns_rr_list_rr_count(dnskeys.get()); ++i)
    for (size_t j = 0; j < ldns_rr_list_rr_count(trusted); ++j)
      if (ldns_rr_compare_ds(ldns_rr_list_rr(trusted, j), ldns_rr_list_rr(dnskeys.get(), i))) {
        ldns_rr_list_push_rr(entry.get(), ldns_rr_list_rr(dnskeys.get(), i));
        break;
      }
  if (ldns_rr_list_rr_count(entry.get()) == 0)
    return fail(bogus(ede::DnskeyMissing, "DNSKEY missing: no key of " + name + " matches its DS or trust anchor"));
  View sigs = sigs_for(answer, zone, LDNS_RR_TYPE_DNSKEY);
  Result v = check_rrset_with(dnskeys.get(), sigs.get(), zone, own(ldns_rr_list_clone(entry.get())), s);
  if (v.state != State::Secure) return fail(v);
  Rrs keys = own(ldns_rr_list_clone(dnskeys.get()));
  keys_.put("K" + name, {KeyItem::Kind::Keys, keys, 0, {}, s.now_s + min_ttl(dnskeys.get(), limits_.max_key_ttl_s)},
            s.now_s);
  *out = keys;
  return secure();
}

Result Validator::ds_of(const ldns_rdf* name, const ldns_rdf* parent, const Rrs& parent_keys, Step& s,
                        KeyItem* out) const {
  std::string text = lower_name(name);
  if (auto item = keys_.get("D" + text, s.now_s)) {
    if (item->kind == KeyItem::Kind::Bogus) return bogus(item->ede, item->why);
    *out = *item;
    return secure();
  }
  Pkt pkt;
  Result r = s.get(text, LDNS_RR_TYPE_DS, pkt);
  if (r.state != State::Secure) return r;
  const ldns_rr_list* answer = ldns_pkt_answer(pkt.get());
  View ds = rrset_of(answer, name, LDNS_RR_TYPE_DS);
  KeyItem item;
  if (ldns_rr_list_rr_count(ds.get())) {
    View sigs = sigs_for(answer, name, LDNS_RR_TYPE_DS);
    r = check_rrset_with(ds.get(), sigs.get(), parent, parent_keys, s);
    item = {KeyItem::Kind::Ds, own(ldns_rr_list_clone(ds.get())), 0, {}, s.now_s + min_ttl(ds.get(), limits_.max_key_ttl_s)};
  } else {
    r = denied_ds(name, parent, parent_keys, pkt.get(), s, &item);
  }
  if (r.state == State::NeedMore) return r;
  if (r.state == State::Bogus) item = {KeyItem::Kind::Bogus, nullptr, r.ede, r.why, s.now_s + limits_.bogus_ttl_s};
  keys_.put("D" + text, item, s.now_s);
  *out = item;
  return r;
}

Result Validator::denied_ds(const ldns_rdf* name, const ldns_rdf* parent, const Rrs& parent_keys, ldns_pkt* reply,
                            Step& s, KeyItem* out) const {
  const ldns_rr_list* auth = ldns_pkt_authority(reply);
  View nsecs = of_type(auth, LDNS_RR_TYPE_NSEC), nsec3s = of_type(auth, LDNS_RR_TYPE_NSEC3);
  View sigs = of_type(auth, LDNS_RR_TYPE_RRSIG);
  std::string what = lower_name(name);
  bool nsec = ldns_rr_list_rr_count(nsecs.get()) > 0;
  ldns_rr_list* proof = nsec ? nsecs.get() : nsec3s.get();
  if (ldns_rr_list_rr_count(proof) == 0)
    return ldns_rr_list_rr_count(sigs.get())
               ? bogus(ede::Bogus, "no NSEC or NSEC3 proof that " + what + " has no DS")
               : bogus(ede::RrsigsMissing, "RRSIGs missing: no signed proof that " + what + " has no DS");
  for (size_t i = 0; i < ldns_rr_list_rr_count(proof); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(proof, i);
    View one = rrset_of(auth, ldns_rr_owner(rr), ldns_rr_get_type(rr));
    View one_sigs = sigs_for(auth, ldns_rr_owner(rr), ldns_rr_get_type(rr));
    Result r = check_rrset_with(one.get(), one_sigs.get(), parent, parent_keys, s);
    if (r.state != State::Secure) return r;
  }
  std::unique_ptr<ldns_rr, RrFree> q(ldns_rr_new());
  ldns_rr_set_owner(q.get(), ldns_rdf_clone(name));
  ldns_rr_set_type(q.get(), LDNS_RR_TYPE_DS);
  ldns_rr_set_class(q.get(), LDNS_RR_CLASS_IN);
  const ldns_rr* match = nullptr;
  ldns_status st;
  if (nsec) {
    for (size_t i = 0; i < ldns_rr_list_rr_count(proof) && !match; ++i)
      if (same_name(ldns_rr_owner(ldns_rr_list_rr(proof, i)), name)) match = ldns_rr_list_rr(proof, i);
    st = match ? LDNS_STATUS_OK : ldns_dnssec_verify_denial(q.get(), proof, sigs.get());
  } else {
    ldns_rr* m = nullptr;
    st = ldns_dnssec_verify_denial_nsec3_match(q.get(), proof, sigs.get(), ldns_pkt_get_rcode(reply),
                                               LDNS_RR_TYPE_DS, true, &m);
    match = m;
  }
  if (st != LDNS_STATUS_OK) return bogus_from(st, "no proof that " + what + " has no DS");
  out->kind = KeyItem::Kind::NotCut;
  out->expires_s = s.now_s + min_ttl(proof, limits_.max_key_ttl_s);
  if (match) {
    const ldns_rdf* bitmap = nsec ? ldns_nsec_get_bitmap(match) : ldns_nsec3_bitmap(match);
    if (ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_DS))
      return bogus(ede::Bogus, "DS of " + what + " missing though its NSEC lists it");
    if (ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_NS) && !ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_SOA))
      out->kind = KeyItem::Kind::Insecure;
  }
  if (!nsec && (!match || !same_name(ldns_rr_owner(match), name)))
    for (size_t i = 0; i < ldns_rr_list_rr_count(proof); ++i)
      if (ldns_nsec3_optout(ldns_rr_list_rr(proof, i))) out->kind = KeyItem::Kind::Insecure;
  return secure();
}

Result Validator::check_denial(ldns_pkt* pkt, const ldns_rdf* name, uint16_t qtype, Step& s) const {
  const ldns_rr_list* auth = ldns_pkt_authority(pkt);
  View sigs = of_type(auth, LDNS_RR_TYPE_RRSIG);
  std::string what = lower_name(name) + " " + type_name(qtype);
  if (ldns_rr_list_rr_count(sigs.get()) == 0) {
    Rrs keys;
    Result r = chase(name, s, &keys);
    if (r.state != State::Secure) return r;
    return bogus(ede::RrsigsMissing, "RRSIGs missing: no signed proof that " + what + " is absent");
  }
  View nsecs = of_type(auth, LDNS_RR_TYPE_NSEC), nsec3s = of_type(auth, LDNS_RR_TYPE_NSEC3);
  View soa = of_type(auth, LDNS_RR_TYPE_SOA);
  // Every record of the proof is checked, each against its own signer.
  for (const View* list : {&soa, &nsecs, &nsec3s})
    for (size_t i = 0; i < ldns_rr_list_rr_count(list->get()); ++i) {
      ldns_rr* rr = ldns_rr_list_rr(list->get(), i);
      View one = rrset_of(auth, ldns_rr_owner(rr), ldns_rr_get_type(rr));
      View one_sigs = sigs_for(auth, ldns_rr_owner(rr), ldns_rr_get_type(rr));
      Result r = check_rrset(one.get(), one_sigs.get(), s);
      if (r.state != State::Secure) return r;
    }
  bool nsec = ldns_rr_list_rr_count(nsecs.get()) > 0;
  if (!nsec && ldns_rr_list_rr_count(nsec3s.get()) == 0)
    return bogus(ede::Bogus, "no NSEC or NSEC3 proof that " + what + " is absent");
  std::unique_ptr<ldns_rr, RrFree> q(ldns_rr_new());
  ldns_rr_set_owner(q.get(), ldns_rdf_clone(name));
  ldns_rr_set_type(q.get(), ldns_rr_type(qtype));
  ldns_rr_set_class(q.get(), LDNS_RR_CLASS_IN);
  ldns_status st = nsec ? ldns_dnssec_verify_denial(q.get(), nsecs.get(), sigs.get())
                        : ldns_dnssec_verify_denial_nsec3(q.get(), nsec3s.get(), sigs.get(), ldns_pkt_get_rcode(pkt),
                                                          ldns_rr_type(qtype), true);
  if (st != LDNS_STATUS_OK) return bogus_from(st, "no proof that " + what + " is absent");
  return secure();
}

}  // namespace hush::validate

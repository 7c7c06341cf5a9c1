#include "support/wire_builder.hpp"

#include <stdexcept>

namespace hush::test {

namespace {
std::vector<uint8_t> to_wire(ldns_pkt* p) {
  uint8_t* buf = nullptr;
  size_t len = 0;
  if (ldns_pkt2wire(&buf, p, &len) != LDNS_STATUS_OK) throw std::runtime_error("pkt2wire");
  std::vector<uint8_t> out(buf, buf + len);
  free(buf);
  return out;
}
void add(ldns_pkt* p, ldns_pkt_section s, const std::string& line) {
  ldns_rr* rr = nullptr;
  if (ldns_rr_new_frm_str(&rr, line.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK)
    throw std::runtime_error("bad rr: " + line);
  ldns_pkt_push_rr(p, s, rr);
}
}  // namespace

std::vector<uint8_t> make_query(const std::string& name, ldns_rr_type type, uint16_t id,
                                uint16_t edns_size, bool do_bit) {
  ldns_pkt* p = nullptr;
  if (ldns_pkt_query_new_frm_str(&p, name.c_str(), type, LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
    throw std::runtime_error("query");
  Pkt owner(p);
  ldns_pkt_set_id(p, id);
  if (edns_size) {
    ldns_pkt_set_edns_udp_size(p, edns_size);
    ldns_pkt_set_edns_do(p, do_bit);
  }
  return to_wire(p);
}

std::vector<uint8_t> make_reply(const std::string& qname, ldns_rr_type type, uint16_t id,
                                ldns_pkt_rcode rcode, const std::vector<std::string>& answer,
                                const std::vector<std::string>& authority, uint16_t edns_size) {
  ldns_pkt* p = nullptr;
  if (ldns_pkt_query_new_frm_str(&p, qname.c_str(), type, LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
    throw std::runtime_error("reply");
  Pkt owner(p);
  ldns_pkt_set_id(p, id);
  ldns_pkt_set_qr(p, true);
  ldns_pkt_set_ra(p, true);
  ldns_pkt_set_rcode(p, uint8_t(rcode));
  for (const auto& a : answer) add(p, LDNS_SECTION_ANSWER, a);
  for (const auto& a : authority) add(p, LDNS_SECTION_AUTHORITY, a);
  if (edns_size) ldns_pkt_set_edns_udp_size(p, edns_size);
  return to_wire(p);
}

Pkt parse(const uint8_t* data, size_t len) {
  ldns_pkt* p = nullptr;
  if (ldns_wire2pkt(&p, data, len) != LDNS_STATUS_OK) return nullptr;
  return Pkt(p);
}

uint16_t ede_code(ldns_pkt* p) {
  ldns_rdf* data = ldns_pkt_edns_data(p);
  if (!data) return 0;
  const uint8_t* d = ldns_rdf_data(data);
  size_t n = ldns_rdf_size(data);
  for (size_t off = 0; off + 4 <= n;) {
    uint16_t code = uint16_t(d[off] << 8 | d[off + 1]), len = uint16_t(d[off + 2] << 8 | d[off + 3]);
    if (code == LDNS_EDNS_EDE && len >= 2 && off + 6 <= n) return uint16_t(d[off + 4] << 8 | d[off + 5]);
    off += 4 + len;
  }
  return 0;
}

std::string first_answer(ldns_pkt* p) {
  ldns_rr_list* an = ldns_pkt_answer(p);
  if (ldns_rr_list_rr_count(an) == 0) return "";
  char* s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(an, 0), 0));
  std::string out(s ? s : "");
  free(s);
  return out;
}

}  // namespace hush::test

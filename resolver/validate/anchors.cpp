#include "validate/anchors.hpp"

#include <fstream>
#include <map>
#include <sstream>

namespace hush::validate {

std::string lower_name(const ldns_rdf* dname) {
  char* text = ldns_rdf2str(dname);
  std::string s = text ? text : "";
  free(text);
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  return s;
}

bool parse_anchors(const std::string& text, std::vector<Anchor>& out, std::string& error) {
  std::map<std::string, ldns_rr_list*> by_zone;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  bool ok = true;
  while (ok && std::getline(in, line)) {
    ++n;
    size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos || line[start] == ';') continue;
    ldns_rr* rr = nullptr;
    ldns_status st = ldns_rr_new_frm_str(&rr, line.c_str(), 0, nullptr, nullptr);
    if (st != LDNS_STATUS_OK) {
      error = "line " + std::to_string(n) + ": " + ldns_get_errorstr_by_id(st);
      ok = false;
      break;
    }
    ldns_rr_type t = ldns_rr_get_type(rr);
    if (t != LDNS_RR_TYPE_DS && t != LDNS_RR_TYPE_DNSKEY) {
      ldns_rr_free(rr);
      continue;
    }
    ldns_rr_list*& list = by_zone[lower_name(ldns_rr_owner(rr))];
    if (!list) list = ldns_rr_list_new();
    ldns_rr_list_push_rr(list, rr);
  }
  if (ok && by_zone.empty()) {
    error = "no DS or DNSKEY record";
    ok = false;
  }
  for (auto& [zone, list] : by_zone) {
    if (ok)
      out.push_back({zone, own(list)});
    else
      ldns_rr_list_deep_free(list);
  }
  return ok;
}

bool read_anchors(const std::string& path, std::vector<Anchor>& out, std::string& error) {
  std::ifstream f(path);
  if (!f) {
    error = path + ": cannot be read";
    return false;
  }
  std::stringstream text;
  text << f.rdbuf();
  if (parse_anchors(text.str(), out, error)) return true;
  error = path + ": " + error;
  return false;
}

}  // namespace hush::validate

#include "local/zone.hpp"

#include <arpa/inet.h>
#include "dns/ldns.hpp"

#include <cstdio>
#include <memory>

namespace hush::local {

namespace {

struct RrFree {
  void operator()(ldns_rr* r) const { ldns_rr_free(r); }
};
struct RdfFree {
  void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};
struct FileClose {
  void operator()(FILE* f) const { fclose(f); }
};

std::string lower_name(const ldns_rdf* rdf) {
  char* s = ldns_rdf2str(rdf);
  std::string out = s ? s : "";
  free(s);
  if (!out.empty() && out.back() == '.') out.pop_back();
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ends_with_label(std::string_view name, std::string_view zone) {
  if (zone.empty()) return true;
  if (name.size() == zone.size()) return name == zone;
  return name.size() > zone.size() && name.substr(name.size() - zone.size()) == zone &&
         name[name.size() - zone.size() - 1] == '.';
}

// RFC 6303 (and RFC 7793 for 100.64/10): reverse zones of addresses that
// mean nothing outside this network.
const std::vector<std::string>& private_reverse_zones() {
  static const std::vector<std::string> zones = [] {
    std::vector<std::string> z = {"10.in-addr.arpa", "168.192.in-addr.arpa", "254.169.in-addr.arpa",
                                  "127.in-addr.arpa", "0.in-addr.arpa",
                                  "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
                                  "d.f.ip6.arpa", "c.f.ip6.arpa", "8.e.f.ip6.arpa", "9.e.f.ip6.arpa",
                                  "a.e.f.ip6.arpa", "b.e.f.ip6.arpa"};
    for (int i = 16; i < 32; ++i) z.push_back(std::to_string(i) + ".172.in-addr.arpa");
    for (int i = 64; i < 128; ++i) z.push_back(std::to_string(i) + ".100.in-addr.arpa");
    return z;
  }();
  return zones;
}

}  // namespace

std::string LoadError::describe() const {
  return line ? source + ":" + std::to_string(line) + ": " + message : source + ": " + message;
}

Zone::Zone(std::string domain, uint32_t default_ttl) : domain_(std::move(domain)), default_ttl_(default_ttl) {}

namespace {
// Turns a parsed ldns record into ours; "" or the reason it cannot be served.
std::string convert(ldns_rr* rr, Record& out) {
  out.owner = lower_name(ldns_rr_owner(rr));
  out.type = uint16_t(ldns_rr_get_type(rr));
  out.ttl = ldns_rr_ttl(rr);
  if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) return "only class IN is served";
  std::unique_ptr<ldns_buffer, decltype(&ldns_buffer_free)> buf(ldns_buffer_new(512), ldns_buffer_free);
  if (ldns_rr_rdata2buffer_wire(buf.get(), rr) != LDNS_STATUS_OK) return "cannot encode the record data";
  out.rdata.assign(ldns_buffer_begin(buf.get()), ldns_buffer_begin(buf.get()) + ldns_buffer_position(buf.get()));
  if (out.type == LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) == 1) out.target = lower_name(ldns_rr_rdf(rr, 0));
  return "";
}
}  // namespace

std::string Zone::add(std::string_view line, std::string_view source_text) {
  // ldns's text parser corrupts its heap on some binary input (found by
  // fuzz_local_zone), so only printable ASCII reaches it, and owner names
  // are checked here first.
  for (char ch : line)
    if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t') || static_cast<unsigned char>(ch) >= 0x7f)
      return "only printable ASCII is allowed (write international names in punycode)";
  std::string text(line);
  size_t start = text.find_first_not_of(" \t");
  if (start == std::string::npos) return "empty record";
  size_t end = text.find_first_of(" \t", start);
  if (end == std::string::npos) return "expected NAME [TTL] [IN] TYPE DATA";
  std::string owner = text.substr(start, end - start);
  // A single label means a name under the local domain; other names without
  // a trailing dot are taken as complete names.
  if (owner.back() != '.') owner += owner.find('.') == std::string::npos ? "." + domain_ + "." : ".";
  if (owner.size() > 254) return "name longer than 253 characters";
  for (size_t start_label = 0, dot; start_label < owner.size(); start_label = dot + 1) {
    dot = owner.find('.', start_label);
    if (dot - start_label > 63) return "label longer than 63 characters";
    if (dot == start_label && owner.size() > 1) return "empty label in '" + owner + "'";
  }
  text = owner + text.substr(end);
  ldns_rr* raw = nullptr;
  ldns_status st = ldns_rr_new_frm_str(&raw, text.c_str(), default_ttl_, nullptr, nullptr);
  if (st != LDNS_STATUS_OK) return ldns_get_errorstr_by_id(st);
  std::unique_ptr<ldns_rr, RrFree> rr(raw);
  Record r;
  if (std::string why = convert(rr.get(), r); !why.empty()) return why;
  r.text = source_text.empty() ? std::string(line) : std::string(source_text);
  store(std::move(r));
  return "";
}

size_t Zone::import_hosts(std::string_view text, const std::string& source, std::vector<LoadError>& errors) {
  size_t added = 0, line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::vector<std::string> words;
    for (size_t i = 0; i < line.size();) {
      size_t s = line.find_first_not_of(" \t\r", i);
      if (s == std::string::npos) break;
      size_t e = line.find_first_of(" \t\r", s);
      words.push_back(line.substr(s, e == std::string::npos ? std::string::npos : e - s));
      i = e == std::string::npos ? line.size() : e;
    }
    if (words.empty()) continue;
    uint8_t buf[16];
    const char* type = inet_pton(AF_INET, words[0].c_str(), buf) == 1    ? "A"
                       : inet_pton(AF_INET6, words[0].c_str(), buf) == 1 ? "AAAA"
                                                                         : nullptr;
    if (!type || words.size() < 2) {
      errors.push_back({source, line_no, type ? "an address needs at least one name" : "'" + words[0] + "' is not an IP address"});
      continue;
    }
    for (size_t i = 1; i < words.size(); ++i) {
      // Names that only mean something on the machine itself stay there.
      if (words[i].rfind("localhost", 0) == 0 || words[i].rfind("ip6-", 0) == 0) continue;
      std::string why = add(words[i] + " " + type + " " + words[0], words[0] + " " + words[i]);
      if (why.empty())
        ++added;
      else
        errors.push_back({source, line_no, words[i] + ": " + why});
    }
  }
  return added;
}

size_t Zone::import_zone_file(const std::string& path, std::vector<LoadError>& errors) {
  std::unique_ptr<FILE, FileClose> f(fopen(path.c_str(), "r"));
  if (!f) {
    errors.push_back({path, 0, "cannot read the file"});
    return 0;
  }
  size_t added = 0;
  uint32_t ttl = default_ttl_;
  ldns_rdf* origin_raw = nullptr;
  ldns_rdf* prev_raw = nullptr;
  // ldns counts lines read so far, so a record ends on line - 1.
  int line = 1;
  for (int records = 0; records < 1000000 && !feof(f.get()); ++records) {
    ldns_rr* raw = nullptr;
    ldns_status st = ldns_rr_new_frm_fp_l(&raw, f.get(), &ttl, &origin_raw, &prev_raw, &line);
    if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL || st == LDNS_STATUS_SYNTAX_ORIGIN)
      continue;
    if (st != LDNS_STATUS_OK) {
      errors.push_back({path, size_t(line - 1), ldns_get_errorstr_by_id(st)});
      continue;
    }
    std::unique_ptr<ldns_rr, RrFree> rr(raw);
    Record r;
    if (std::string why = convert(rr.get(), r); !why.empty()) {
      errors.push_back({path, size_t(line - 1), why});
      continue;
    }
    char* text = ldns_rr2str(rr.get());
    r.text = text ? text : "";
    free(text);
    while (!r.text.empty() && (r.text.back() == '\n')) r.text.pop_back();
    if (r.type == LDNS_RR_TYPE_SOA) zones_.push_back(r.owner);
    store(std::move(r));
    ++added;
  }
  std::unique_ptr<ldns_rdf, RdfFree> origin(origin_raw), prev(prev_raw);
  return added;
}

void Zone::add_reverse_records() {
  size_t count = records_.size();
  for (size_t i = 0; i < count; ++i) {
    const Record r = records_[i];
    if ((r.type != LDNS_RR_TYPE_A && r.type != LDNS_RR_TYPE_AAAA) || r.owner.rfind("*.", 0) == 0) continue;
    std::string reverse;
    static const char* kHex = "0123456789abcdef";
    if (r.type == LDNS_RR_TYPE_A && r.rdata.size() == 4) {
      for (int b = 3; b >= 0; --b) reverse += std::to_string(r.rdata[b]) + ".";
      reverse += "in-addr.arpa";
    } else if (r.rdata.size() == 16) {
      for (int b = 15; b >= 0; --b) {
        reverse += kHex[r.rdata[b] & 0xF];
        reverse += '.';
        reverse += kHex[r.rdata[b] >> 4];
        reverse += '.';
      }
      reverse += "ip6.arpa";
    }
    if (reverse.empty() || exact(reverse)) continue;
    add(reverse + ". " + std::to_string(r.ttl) + " IN PTR " + r.owner + ".", "(from " + r.owner + ")");
  }
}

void Zone::store(Record r) {
  if (r.owner.rfind("*.", 0) == 0) ++wildcard_parents_[r.owner.substr(2)];
  by_name_[r.owner].push_back(records_.size());
  records_.push_back(std::move(r));
}

bool Zone::covers(std::string_view name) const {
  if (name.empty()) return false;
  if (name.find('.') == std::string_view::npos || ends_with_label(name, domain_) ||
      ends_with_label(name, "arpa") || by_name_.find(name) != by_name_.end())
    return true;
  for (const std::string& z : zones_)
    if (ends_with_label(name, z)) return true;
  if (!wildcard_parents_.empty())
    for (size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1))
      if (wildcard_parents_.find(name.substr(dot + 1)) != wildcard_parents_.end()) return true;
  return false;
}

const std::vector<size_t>* Zone::exact(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

const std::vector<size_t>* Zone::wildcard(std::string_view name) const {
  // The closest enclosing "*." name wins, as in RFC 4592.
  for (size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1)) {
    std::string candidate = "*" + std::string(name.substr(dot));
    if (auto* hit = exact(candidate)) return hit;
    if (exact(name.substr(dot + 1))) return nullptr;  // an existing name stops the wildcard
  }
  return nullptr;
}

std::string_view Zone::authority_for(std::string_view name) const {
  if (!name.empty() && name.find('.') == std::string_view::npos) return domain_;
  if (ends_with_label(name, domain_)) return domain_;
  for (const std::string& z : zones_)
    if (ends_with_label(name, z)) return z;
  for (const std::string& z : private_reverse_zones())
    if (ends_with_label(name, z)) return z;
  return {};
}

Zone::Lookup Zone::find(std::string_view qname, uint16_t qtype) const {
  Lookup out;
  std::string name(qname);
  if (!name.empty() && name.find('.') == std::string::npos) name += "." + domain_;
  out.apex = std::string(authority_for(name));
  std::string owner;  // "" while answering for the question name itself
  for (int step = 0; step < 8; ++step) {
    const std::vector<size_t>* hits = exact(name);
    if (!hits) hits = wildcard(name);
    if (!hits) {
      if (step == 0) out.kind = out.apex.empty() ? Kind::NotLocal : Kind::NxDomain;
      return out;
    }
    out.kind = Kind::Answer;
    const Record* cname = nullptr;
    bool found = false;
    for (size_t i : *hits) {
      const Record& r = records_[i];
      if (r.type == qtype || qtype == 255) {
        out.answer.push_back({&r, owner});
        found = true;
      } else if (r.type == LDNS_RR_TYPE_CNAME) {
        cname = &r;
      }
    }
    if (found || !cname) {
      if (!found && step == 0) {
        out.kind = Kind::NoData;
        if (out.apex.empty()) out.apex = name;
      }
      return out;
    }
    out.answer.push_back({cname, owner});
    name = owner = cname->target;
  }
  return out;
}

}  // namespace hush::local

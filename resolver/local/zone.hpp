// Names hush answers itself, for the home: local records (from the config,
// `hush local add`, hosts files and zone files), the local domain ("lan") and
// the private reverse zones of RFC 6303, which must never reach the
// internet's resolvers. Built aside and published whole, like the policy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hush::local {

struct Record {
  std::string owner;  // lower case, no trailing dot ("*.lab.lan" for a wildcard)
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::vector<uint8_t> rdata;  // wire form, names uncompressed
  std::string target;          // CNAME target, lower case, for following the chain
  std::string text;            // as written, for `hush local ls`
};

struct LoadError {
  std::string source;  // file name, or "config"
  size_t line = 0;
  std::string message;
  std::string describe() const;
};

class Zone {
 public:
  explicit Zone(std::string domain = "lan", uint32_t default_ttl = 300);

  const std::string& domain() const { return domain_; }

  // Adds one record in zone-file syntax: "nas.lan A 192.168.1.10",
  // "nas 300 IN A 192.168.1.10" (a single label is put under the local
  // domain), "*.lab.lan A 192.168.1.50", "www.lan CNAME nas.lan.",
  // "_http._tcp.lan SRV 0 0 80 nas.lan.". Returns "" or what is wrong.
  std::string add(std::string_view line, std::string_view source_text = {});

  // /etc/hosts style: "ADDRESS NAME [ALIAS...]", comments with '#'. Bad lines
  // are reported with their numbers and skipped. Returns records added.
  size_t import_hosts(std::string_view text, const std::string& source, std::vector<LoadError>& errors);

  // A zone file ($ORIGIN, $TTL, parentheses), read with ldns record by
  // record so one bad record is reported with its line and the rest load.
  // A SOA in the file makes its owner a local authoritative zone.
  size_t import_zone_file(const std::string& path, std::vector<LoadError>& errors);

  // Adds a PTR for every A/AAAA record that has none yet.
  void add_reverse_records();

  // Cheap test, without allocation, for every query: could find() answer
  // `name` at all? False for almost every name on the internet.
  bool covers(std::string_view name) const;

  // Is `name` (lower case, no trailing dot) inside a zone hush answers for
  // itself: the local domain, a zone from a zone file, an unqualified name,
  // or an RFC 6303 private reverse zone? Returns the zone's apex, or "".
  std::string_view authority_for(std::string_view name) const;

  enum class Kind { NotLocal, Answer, NoData, NxDomain };
  struct Hop {
    const Record* record;
    std::string owner;  // "" for the question name itself
  };
  struct Lookup {
    Kind kind = Kind::NotLocal;
    std::vector<Hop> answer;  // in answer order, CNAMEs first
    std::string apex;         // for the SOA of negative answers
  };
  // Finds the records for `name`/`qtype`, following CNAMEs inside the zone
  // (at most 8 steps). Unqualified names are looked up under the domain.
  Lookup find(std::string_view name, uint16_t qtype) const;

  const std::vector<Record>& records() const { return records_; }
  size_t size() const { return records_.size(); }

 private:
  void store(Record r);
  const std::vector<size_t>* exact(std::string_view name) const;
  const std::vector<size_t>* wildcard(std::string_view name) const;

  std::string domain_;
  uint32_t default_ttl_;
  std::vector<Record> records_;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<size_t>, Hash, std::equal_to<>> by_name_;
  std::unordered_map<std::string, int, Hash, std::equal_to<>> wildcard_parents_;
  std::vector<std::string> zones_;  // apexes from zone files' SOA records
};

}  // namespace hush::local

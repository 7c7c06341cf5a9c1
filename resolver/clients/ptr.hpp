// Reverse lookups of client addresses at the local router, which usually
// knows the names its DHCP server handed out. Logic only: the network layer
// sends what write_query() builds to the configured router and hands the
// reply to read_answer(); PtrCache decides who to ask and remembers answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace hush::clients::ptr {

// "192.0.2.7" -> "7.2.0.192.in-addr.arpa"; IPv6 in nibble form under
// ip6.arpa. "" when `ip` is not an address.
std::string reverse_name(const std::string& ip);

// Writes a PTR query with `id` and RD set for `ip` into `out`. Returns its
// length, or 0 when `ip` is not an address or `cap` is too small.
size_t write_query(uint16_t id, const std::string& ip, uint8_t* out, size_t cap);

// Reads the reply to the query write_query(id, ip) built. Returns true and
// the first PTR target (lower case, no trailing dot) in `name` when the reply
// matches the ID and question and answers NOERROR with a PTR record.
bool read_answer(const uint8_t* msg, size_t len, uint16_t id, const std::string& ip, std::string& name);

// Which addresses to ask about and what they were called. Each address is
// asked at most once per `retry_s`, answered or not, so a silent router costs
// one query per address per period.
class PtrCache {
 public:
  explicit PtrCache(int64_t retry_s = 3600) : retry_s_(retry_s) {}

  // Of `candidates`, those not asked within retry_s of `now_s`; marks them asked.
  std::vector<std::string> due(const std::vector<std::string>& candidates, int64_t now_s);
  void answered(const std::string& ip, const std::string& name) { names_[ip] = name; }
  const std::unordered_map<std::string, std::string>& names() const { return names_; }

 private:
  int64_t retry_s_;
  std::unordered_map<std::string, int64_t> asked_;
  std::unordered_map<std::string, std::string> names_;
};

}  // namespace hush::clients::ptr

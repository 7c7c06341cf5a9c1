// Shared by the clients tests: the answer a resolver sends back for a
// reverse lookup.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dns/wire.hpp"

namespace hush::test {

// The query with the answer appended: a PTR record whose owner is a
// compression pointer to the question name. A non-zero `rcode` answers with
// that code and no record.
inline std::vector<uint8_t> ptr_reply(const std::vector<uint8_t>& query, const std::string& target, uint8_t rcode = 0) {
  std::vector<uint8_t> r = query;
  dns::put16(r.data() + 2, dns::flag::QR | dns::flag::RD | dns::flag::RA | rcode);
  if (rcode != 0) return r;
  dns::put16(r.data() + 6, 1);
  const uint8_t rr[] = {0xc0, 12, 0, 12, 0, 1, 0, 0, 0x0e, 0x10};
  r.insert(r.end(), rr, rr + sizeof rr);
  std::vector<uint8_t> name;
  size_t start = 0;
  while (start < target.size()) {
    size_t dot = target.find('.', start);
    if (dot == std::string::npos) dot = target.size();
    name.push_back(uint8_t(dot - start));
    name.insert(name.end(), target.begin() + long(start), target.begin() + long(dot));
    start = dot + 1;
  }
  name.push_back(0);
  r.push_back(uint8_t(name.size() >> 8));
  r.push_back(uint8_t(name.size()));
  r.insert(r.end(), name.begin(), name.end());
  return r;
}

}  // namespace hush::test

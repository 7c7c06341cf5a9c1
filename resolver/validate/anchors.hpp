// Trust anchors: DS or DNSKEY records in zone-file form, one zone or more
// per file (Debian's dns-root-data ships /usr/share/dns/root.key with the
// root's DNSKEY). The file is read at start-up and again on SIGHUP: a root
// key rollover reaches hush through the package's update, not RFC 5011.
#pragma once

#include <string>
#include <vector>

#include "validate/keys.hpp"

namespace hush::validate {

// A name in presentation form, lower case, with its final dot: how the
// validator names zones in its keys, its fetches and its reasons.
std::string lower_name(const ldns_rdf* dname);

struct Anchor {
  std::string zone;  // lower case, with the final dot
  Rrs rrs;           // DS and/or DNSKEY records of the zone
};

// Reads the anchors in `path`. Returns false with `error` set when the file
// cannot be read, a line is not a record, or it holds no DS or DNSKEY.
bool read_anchors(const std::string& path, std::vector<Anchor>& out, std::string& error);

// Parses anchors from zone-file text (what read_anchors reads from a file).
bool parse_anchors(const std::string& text, std::vector<Anchor>& out, std::string& error);

}  // namespace hush::validate

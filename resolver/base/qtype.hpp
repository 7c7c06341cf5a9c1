// DNS query-type names: the one table behind the query log's, the
// dashboard's, the CLI's and the blocklist rules' (`$dnstype=`) spelling.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hush {

// The mnemonic of `qtype` ("AAAA"), or "TYPE<n>" (RFC 3597) for a type
// without one. Cannot fail.
std::string qtype_name(uint16_t qtype);

// The number behind a mnemonic or "TYPE<n>", in any case ("aaaa", "type65").
// nullopt when it is neither, or n is above 65535.
std::optional<uint16_t> qtype_from_name(std::string_view name);

}  // namespace hush

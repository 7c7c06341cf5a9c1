// Domain name normalisation shared by list parsing and lookups.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hush::blocklists {

inline constexpr size_t kMaxNameLength = 253;

// Turns a name as written in a list into the form decide() receives: ASCII
// lower case, IDN converted to punycode (UTS#46 non-transitional, falling back
// to transitional), no trailing dot. Underscores are accepted because real
// lists block SRV-style names such as _xmpp-client._tcp.example.com.
// Returns nullptr on success, else a static description of the problem.
const char* normalize_domain(std::string_view in, std::string& out);

// True for names hosts files map to themselves (localhost, broadcasthost,
// 0.0.0.0, ip6-*, ...): they are boilerplate, not block entries.
bool is_self_entry(std::string_view normalized);

}  // namespace hush::blocklists

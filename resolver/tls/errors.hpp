// OpenSSL's queue of errors as one line for hush's log and messages.
#pragma once

#include <string>
#include <string_view>

namespace hush::tls {

// Empties the calling thread's OpenSSL error queue into "reason; reason";
// `if_none` when it holds nothing (e.g. the peer just closed).
std::string error_text(std::string_view if_none);

}  // namespace hush::tls

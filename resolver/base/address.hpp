// Socket addresses as people write them: "127.0.0.1:53", "[::1]:5353", "::1".
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace hush {

// Parses `text`; a missing port becomes `default_port`. On failure returns
// false and says what is wrong in `error`.
bool parse_address(std::string_view text, uint16_t default_port, sockaddr_storage& out,
                   std::string& error);

std::string format_address(const sockaddr* sa);
inline std::string format_address(const sockaddr_storage& ss) {
  return format_address(reinterpret_cast<const sockaddr*>(&ss));
}
socklen_t address_length(const sockaddr_storage& ss);

}  // namespace hush

// Random identifiers and secrets.
#pragma once

#include <cstddef>
#include <string>

namespace hush {

// Random bytes from the system's CSPRNG as lower-case hex (2 chars a byte).
// Throws std::runtime_error when the CSPRNG has nothing to give.
std::string random_hex(size_t bytes);

}  // namespace hush

// Names and texts from the network, made safe to show: a query name may hold
// any byte, including a dot inside a label and terminal escape sequences.
// Both functions write the DNS presentation format (RFC 1035 5.1): `\.` for a
// dot inside a label, `\\` for a backslash in one, `\DDD` (three decimal
// digits) for any byte outside printable ASCII.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hush {

// The name in `wire` (uncompressed labels up to the root label), lower-cased
// like the resolver's own text of it, without a trailing dot. Writes at most
// `cap` bytes to `out` and never half an escape; returns the bytes written.
size_t name_to_text(const uint8_t* wire, size_t len, char* out, size_t cap);

// Whether name_to_text() would write anything but the labels joined by dots.
bool name_needs_escapes(const uint8_t* wire, size_t len);

// `text` with every byte outside printable ASCII (below 0x20, 0x7f and
// above) as `\DDD`, for a terminal. Backslashes stay: names reach it already
// in presentation format, where `\` starts an escape.
std::string printable(std::string_view text);

}  // namespace hush

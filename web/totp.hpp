// Time-based one-time passwords (RFC 6238: HMAC-SHA1, 6 digits, 30 s steps,
// as every authenticator app reads them) through liboath, and the QR code an
// app scans to enrol (otpauth:// URI) through libqrencode, drawn as SVG.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace hush::web {

// A new random 160-bit secret, as raw bytes.
std::string new_totp_secret();
// RFC 4648 base32 without padding: what a user types into an app by hand.
std::string base32(const std::string& bytes);
// otpauth://totp/<issuer>:<account>?secret=...&issuer=...
std::string totp_uri(const std::string& secret, const std::string& account, const std::string& issuer = "hush");
// The code for the time step holding `unix_seconds` (tests, and oathtool agrees).
std::string totp_code(const std::string& secret, int64_t unix_seconds);
// The time step whose code `code` is, within one step either side of
// `unix_seconds` (a phone's clock drifts); nullopt when none matches.
std::optional<uint64_t> totp_step(const std::string& secret, const std::string& code, int64_t unix_seconds);
// A QR code of `text` as a self-contained SVG document (black modules on
// white with the quiet zone); "" when the text is too long for one.
std::string qr_svg(const std::string& text);

}  // namespace hush::web

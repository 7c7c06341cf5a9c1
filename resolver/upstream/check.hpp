// Deciding whether a datagram is the answer to a query hush sent upstream.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hush::upstream {

enum class ReplyCheck { Ok, Malformed, NotResponse, WrongId, WrongQuestion };

// Accepts only a well-formed response (every record within the message,
// every owner name sound) carrying our ID and exactly our question (name
// compared ignoring case). Anything else is a spoofing attempt or garbage
// and must be dropped while we keep waiting.
ReplyCheck check_reply(const uint8_t* msg, size_t len, uint16_t id, const uint8_t* qname_wire,
                       size_t qname_len, uint16_t qtype, uint16_t qclass);

const char* to_string(ReplyCheck c);

}  // namespace hush::upstream

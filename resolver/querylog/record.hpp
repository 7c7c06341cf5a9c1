// One logged query as it travels from a DNS worker to the log writer. Every
// field is inline and fixed-size, so filling a record on the DNS path is a
// few copies into a ring slot: no allocation, no locks.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "client.hpp"

namespace hush::querylog {

// Stored as integers: the values are part of the database format.
enum class Status : uint8_t { Forwarded = 0, Cached = 1, Blocked = 2, Local = 3, Refused = 4, Error = 5 };
constexpr size_t kStatusCount = 6;
const char* to_string(Status s);
bool parse_status(std::string_view text, Status& out);

// Text truncated to N bytes, stored inline.
template <size_t N>
struct FixedText {
  static_assert(N < 256);
  uint8_t len = 0;
  char data[N];

  void assign(std::string_view s) {
    len = uint8_t(s.size() < N ? s.size() : N);
    if (len) std::memcpy(data, s.data(), len);
  }
  std::string_view view() const { return {data, len}; }
};

struct Record {
  int64_t time_us = 0;       // wall clock, microseconds since the epoch
  uint32_t latency_us = 0;   // from receiving the question to sending the answer
  uint16_t qtype = 0;
  uint16_t rcode = 0;
  Transport transport = Transport::Udp;
  Status status = Status::Forwarded;
  uint8_t family = 0;        // AF_INET or AF_INET6; v4-mapped IPv6 is stored as AF_INET
  uint8_t addr[16] = {};
  FixedText<255> name;       // lower-case, no trailing dot
  FixedText<95> reason;      // the list and rule that decided, or the stage
  FixedText<63> answer;      // first addresses or CNAME target
  FixedText<47> upstream;    // "ADDR:PORT" of the upstream that answered

  std::string client_text() const;  // "192.0.2.1", "2001:db8::1"
};

// What the worker knows when it sends an answer. Views are read during the
// call only.
struct Event {
  int64_t time_us = 0;
  const sockaddr* client = nullptr;
  Transport transport = Transport::Udp;
  std::string_view name;
  uint16_t qtype = 0;
  Status status = Status::Forwarded;
  std::string_view reason;
  const uint8_t* answer = nullptr;  // the DNS message sent; rcode and summary come from it
  size_t answer_len = 0;
  std::string_view upstream;
  uint32_t latency_us = 0;
};

// Fills `r` from `e`. Allocation-free; a malformed answer gives an empty summary.
void fill(Record& r, const Event& e);

// Writes "1.2.3.4, 5.6.7.8" or "CNAME target, ..." for the answer section of
// `msg` into `out` (truncated to fit) and returns the rcode, or 0xffff when the
// message is too short to have one.
uint16_t summarize_answer(const uint8_t* msg, size_t len, FixedText<63>& out);

// Microseconds since the epoch, from the real-time clock.
int64_t now_us();

}  // namespace hush::querylog

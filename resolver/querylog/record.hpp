// One logged query as it travels from a DNS worker to the log writer. A
// record is a fixed header followed by its texts packed back to back, so
// filling one on the DNS path writes only the bytes in use (usually two cache
// lines): no allocation, no locks, no formatting. Turning addresses into text
// is left to whoever reads the log.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "dns/client.hpp"

namespace hush::querylog {

// Stored as integers: the values are part of the database format.
enum class Status : uint8_t { Forwarded = 0, Cached = 1, Blocked = 2, Local = 3, Refused = 4, Error = 5 };
constexpr size_t kStatusCount = 6;
const char* to_string(Status s);
bool parse_status(std::string_view text, Status& out);

// Longest kept text of each kind; longer ones are cut.
constexpr size_t kMaxName = 255;      // lower-case, no trailing dot
constexpr size_t kMaxReason = 95;     // the list and rule that decided, or the stage
constexpr size_t kMaxAnswer = 63;     // answer items, see below
constexpr size_t kMaxUpstream = 47;   // "ADDR:PORT" of the upstream that answered
constexpr size_t kMaxClientId = ClientId::kMax;  // the device's own ID (DoT SNI, DoH path), if any

// The answer summary is a run of items, in the order of the answer section:
//   'A' + 4 address bytes, 'Q' + 16 address bytes (AAAA),
//   'C' + length byte + name (CNAME target), 'T' + length byte + text
//   (a summary already in text, from a log written before items existed).
// It is what the database keeps too; answer_text() makes it readable.
std::string answer_text(std::string_view items);

// The fixed part of a record; the texts follow it in Record::text.
struct RecordHead {
  int64_t time_us = 0;       // wall clock, microseconds since the epoch
  uint32_t latency_us = 0;   // from receiving the question to sending the answer
  uint16_t qtype = 0;
  uint16_t rcode = 0;        // 0xffff: the answer was too short to have one
  Transport transport = Transport::Udp;
  Status status = Status::Forwarded;
  uint8_t family = 0;        // AF_INET or AF_INET6; v4-mapped IPv6 is stored as AF_INET
  uint8_t name_len = 0, reason_len = 0, answer_len = 0, upstream_len = 0, client_id_len = 0;
  uint8_t addr[16] = {};

  size_t text_bytes() const { return size_t(name_len) + reason_len + answer_len + upstream_len + client_id_len; }
};

// Read access to the texts that follow a head: name, reason, answer, upstream.
class Texts {
 public:
  Texts(const RecordHead& h, const char* text) : h_(h), text_(text) {}
  std::string_view name() const { return {text_, h_.name_len}; }
  std::string_view reason() const { return {text_ + h_.name_len, h_.reason_len}; }
  std::string_view answer() const { return {text_ + h_.name_len + h_.reason_len, h_.answer_len}; }
  std::string_view upstream() const {
    return {text_ + h_.name_len + h_.reason_len + h_.answer_len, h_.upstream_len};
  }
  std::string_view client_id() const {
    return {text_ + h_.name_len + h_.reason_len + h_.answer_len + h_.upstream_len, h_.client_id_len};
  }

 private:
  const RecordHead& h_;
  const char* text_;
};

struct Record : RecordHead {
  char text[kMaxName + kMaxReason + kMaxAnswer + kMaxUpstream + kMaxClientId];

  Texts texts() const { return {*this, text}; }
  std::string_view name() const { return texts().name(); }
  std::string_view reason() const { return texts().reason(); }
  std::string_view answer() const { return texts().answer(); }
  std::string_view upstream() const { return texts().upstream(); }
  std::string_view client_id() const { return texts().client_id(); }
  // Replaces all the texts, each cut to its maximum.
  void set_texts(std::string_view name, std::string_view reason, std::string_view answer,
                 std::string_view upstream, std::string_view client_id = {});
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
  std::string_view client_id;
};

// Fills `r` from `e`. Allocation-free; a malformed answer gives an empty summary.
void fill(Record& r, const Event& e);

// Appends answer items (see answer_text) for the A, AAAA and CNAME records of
// the answer section of `msg` to `out`, at most four and never past
// `cap` bytes. Returns the bytes written; `rcode` gets the message's rcode,
// or 0xffff when the message is too short to have one.
size_t summarize_answer(const uint8_t* msg, size_t len, char* out, size_t cap, uint16_t& rcode);

// Records as the writer keeps them between commits: only the bytes in use,
// so a batch of 100,000 costs about as many megabytes as it holds text.
class Batch {
 public:
  // A record of the batch: its head and texts, valid until the batch changes.
  struct Entry {
    const RecordHead& head;
    Texts texts;
  };

  void add(const Record& r);
  size_t size() const { return heads_.size(); }
  bool empty() const { return heads_.empty(); }
  Entry operator[](size_t i) const { return {heads_[i], Texts(heads_[i], text_.data() + text_at_[i])}; }
  void clear();
  void reserve(size_t records);
  // The capacity its buffers hold.
  size_t bytes() const {
    return heads_.capacity() * sizeof(RecordHead) + text_at_.capacity() * sizeof(uint32_t) + text_.capacity();
  }

 private:
  std::vector<RecordHead> heads_;
  std::vector<uint32_t> text_at_;
  std::string text_;
};

}  // namespace hush::querylog

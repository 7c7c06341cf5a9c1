// The one boundary between the listeners, which move bytes, and the worker,
// which runs each query through the pipeline.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dns/client.hpp"
#include "pipeline/pipeline.hpp"

namespace hush::net {

// One query as a listener received it, and the room for an answer sent at once.
struct Received {
  const uint8_t* msg;
  size_t len;
  Transport transport;
  uint32_t listener;        // index of the listen address
  uint64_t connection;      // TCP only: the connection (DoH: the request) within the worker
  const sockaddr* peer;
  uint8_t* out;
  size_t out_cap;
  std::string_view client_id = {};  // DoT, DoH: the device's ID from the SNI or the path, if any
};

struct Handled {
  Verdict verdict;
  size_t out_len;  // Verdict::Answer: the answer's length in Received::out
  // A well-formed query from an allowed client: only these keep a TCP
  // connection alive, so errors and refusals cannot hold a slot.
  bool valid;
};

class QueryHandler {
 public:
  // Runs one query: answered at once (the caller sends out_len bytes of
  // Received::out), forwarded (the answer arrives later through the worker)
  // or dropped; counted and logged in every case. Never fails: bad input is
  // the pipeline's to answer or drop.
  virtual Handled handle(const Received& r) = 0;

 protected:
  ~QueryHandler() = default;
};

}  // namespace hush::net

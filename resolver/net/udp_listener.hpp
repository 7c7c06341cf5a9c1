// One listening UDP socket of a worker: datagrams read in batches
// (recvmmsg), each handed to the QueryHandler, and the answers sent in
// batches (sendmmsg) at the end of the batch or of the loop iteration.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "dns/wire.hpp"
#include "metrics/counters.hpp"
#include "net/handler.hpp"

namespace hush::net {

class UdpListener {
 public:
  // Takes the bound socket `fd` (libuv closes it with the handle) of listen
  // address `index` and starts reading. Must outlive the loop's run.
  UdpListener(uv_loop_t* loop, int fd, uint32_t index, QueryHandler& handler, Counters& counters);
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;

  // Adds a copy of an answer to the batch (sent at the latest at the end of
  // this loop iteration). A send error is counted, not reported.
  void queue(const sockaddr_storage& to, const uint8_t* data, size_t len);
  // Sends the batch in one sendmmsg; what the kernel does not take at once
  // goes through libuv's queue. Errors are counted per answer.
  void flush();
  // Flushes and stops reading; the socket stays open for answers still due.
  void stop_reading();
  // Closes the socket (once).
  void close();

 private:
  static constexpr size_t kBatch = 32;
  struct Batch {
    size_t count = 0;
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    sockaddr_storage addrs[kBatch];
    uint8_t data[kBatch][dns::kOwnUdpSize];
  };

  void on_datagram(const uint8_t* data, size_t len, const sockaddr* from);
  // Makes slot `batch_.count` (its data written already) part of the batch.
  void add_to_batch(size_t len);
  void send_one(const sockaddr_storage& to, const uint8_t* data, size_t len);

  uv_udp_t handle_;
  uint32_t index_;
  QueryHandler& handler_;
  Counters& counters_;
  std::unique_ptr<char[]> recv_buffer_;
  Batch batch_;
};

}  // namespace hush::net

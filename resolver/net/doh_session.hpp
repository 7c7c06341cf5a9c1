// The HTTP side of DNS over HTTPS (RFC 8484) on one connection, after TLS:
// HTTP/2 through libnghttp2's server session (the client chose h2 by ALPN)
// or HTTP/1.1 with keep-alive, one request at a time in order. Bytes in,
// DNS queries out through a callback, DNS answers in, bytes out; no sockets,
// so tcp_server keeps every TCP and TLS bound for it.
//
// Bounds per connection: 64 concurrent HTTP/2 streams (what a TCP client
// may have waiting upstream), 16 KiB of request head, 65535 bytes of body
// per request and 256 KiB of request bodies being received at once; a
// request past them gets its HTTP error (or its stream reset) and the
// connection goes on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace hush::net {

class DohSession {
 public:
  static constexpr uint32_t kMaxStreams = 64;
  static constexpr size_t kMaxHead = 16 * 1024;
  // An over-long HTTP/1.1 body up to this size is read and dropped after
  // its 413, so the answer is not lost to a reset; a longer one is cut off.
  static constexpr size_t kMaxDiscard = 1024 * 1024;
  static constexpr size_t kMaxBodies = 256 * 1024;

  // One DNS query, on `stream`; its answer comes back through answer() or
  // reject(), at once or later. `client_id` is the path's, if any.
  using OnQuery = std::function<void(uint32_t stream, std::string_view client_id, const uint8_t* msg, size_t len)>;
  static std::unique_ptr<DohSession> http2(OnQuery on_query);
  static std::unique_ptr<DohSession> http1(OnQuery on_query);
  virtual ~DohSession() = default;

  // Takes decrypted bytes. False when the client broke the protocol: only
  // output() (a GOAWAY or an error response) is left to send.
  virtual bool receive(const uint8_t* data, size_t len) = 0;
  // The DNS answer to `stream`'s query; nothing when the stream has gone.
  virtual void answer(uint32_t stream, const uint8_t* msg, size_t len) = 0;
  // No DNS answer for `stream` (hush would drop it): an HTTP error instead.
  virtual void reject(uint32_t stream, int status, std::string_view why) = 0;
  // Appends what is to be sent to `out`.
  virtual void output(std::vector<uint8_t>& out) = 0;
  // Nothing more to read or send: close once the output is written.
  virtual bool done() const = 0;
  // Bytes received and waiting for an earlier request's answer (HTTP/1.1).
  virtual size_t buffered() const = 0;
};

}  // namespace hush::net

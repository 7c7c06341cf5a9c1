#include "net/udp_listener.hpp"

#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/address.hpp"
#include "net/uv_owned.hpp"

namespace hush::net {

namespace {
// libuv hands recvmmsg at most 20 datagrams, each in its own 64 KiB chunk.
constexpr size_t kRecvChunks = 20;
constexpr size_t kRecvChunkSize = 64 * 1024;

void copy_address(const sockaddr* from, sockaddr_storage& to) {
  std::memcpy(&to, from, from->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
}

// A copy of an answer the kernel had no room for, until libuv has sent it.
struct UdpSend {
  uv_udp_send_t req;
  std::vector<uint8_t> data;
};
}  // namespace

UdpListener::UdpListener(uv_loop_t* loop, int fd, uint32_t index, QueryHandler& handler, Counters& counters)
    : index_(index), handler_(handler), counters_(counters), recv_buffer_(new char[kRecvChunks * kRecvChunkSize]) {
  uv_udp_init_ex(loop, &handle_, AF_UNSPEC | UV_UDP_RECVMMSG);
  handle_.data = this;
  uv_udp_open(&handle_, fd);
  uv_udp_recv_start(
      &handle_,
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* l = static_cast<UdpListener*>(h->data);
        *buf = uv_buf_init(l->recv_buffer_.get(), kRecvChunks * kRecvChunkSize);
      },
      [](uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned flags) {
        auto* l = static_cast<UdpListener*>(h->data);
        if (nread >= 0 && addr) l->on_datagram(reinterpret_cast<const uint8_t*>(buf->base), size_t(nread), addr);
        // Without the chunk flag this call ends a recvmmsg batch (or was a
        // single recvmsg): send every answer of the batch in one sendmmsg.
        if (!(flags & UV_UDP_MMSG_CHUNK)) l->flush();
      });
}

void UdpListener::on_datagram(const uint8_t* data, size_t len, const sockaddr* from) {
  counters_.add(counters_.queries_udp);
  if (batch_.count == kBatch) flush();
  size_t slot = batch_.count;
  copy_address(from, batch_.addrs[slot]);
  Handled h = handler_.handle(
      {data, len, Transport::Udp, index_, 0, from, batch_.data[slot], sizeof batch_.data[slot]});
  if (h.verdict == Verdict::Answer) add_to_batch(h.out_len);
}

void UdpListener::add_to_batch(size_t len) {
  size_t slot = batch_.count++;
  batch_.iov[slot] = {batch_.data[slot], len};
  msghdr& m = batch_.msgs[slot].msg_hdr;
  m = {};
  m.msg_name = &batch_.addrs[slot];
  m.msg_namelen = address_length(batch_.addrs[slot]);
  m.msg_iov = &batch_.iov[slot];
  m.msg_iovlen = 1;
}

void UdpListener::queue(const sockaddr_storage& to, const uint8_t* data, size_t len) {
  if (len > sizeof batch_.data[0]) return send_one(to, data, len);
  if (batch_.count == kBatch) flush();
  std::memcpy(batch_.data[batch_.count], data, len);
  batch_.addrs[batch_.count] = to;
  add_to_batch(len);
}

void UdpListener::flush() {
  if (batch_.count == 0) return;
  uv_os_fd_t fd;
  uv_fileno(as_handle(&handle_), &fd);
  size_t sent = 0;
  while (sent < batch_.count) {
    int r = ::sendmmsg(fd, batch_.msgs + sent, unsigned(batch_.count - sent), MSG_DONTWAIT);
    if (r > 0) {
      sent += size_t(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      // The message at `sent` failed for its own reason (say, an unreachable
      // address); skip it so the rest still go out.
      counters_.add(counters_.send_errors);
      ++sent;
      continue;
    }
    break;
  }
  for (size_t i = sent; i < batch_.count; ++i) send_one(batch_.addrs[i], batch_.data[i], batch_.iov[i].iov_len);
  batch_.count = 0;
}

void UdpListener::send_one(const sockaddr_storage& to, const uint8_t* data, size_t len) {
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(const_cast<uint8_t*>(data)), unsigned(len));
  const auto* addr = reinterpret_cast<const sockaddr*>(&to);
  int r = uv_udp_try_send(&handle_, &buf, 1, addr);
  if (r >= 0) return;
  if (r != UV_EAGAIN) {
    counters_.add(counters_.send_errors);
    return;
  }
  // The socket buffer is full: queue a copy, libuv sends it when writable.
  auto req = std::make_unique<UdpSend>();
  req->data.assign(data, data + len);
  req->req.data = req.get();
  buf = uv_buf_init(reinterpret_cast<char*>(req->data.data()), unsigned(len));
  if (uv_udp_send(&req->req, &handle_, &buf, 1, addr, [](uv_udp_send_t* r, int) { reclaim<UdpSend>(r->data); }) != 0) {
    counters_.add(counters_.send_errors);
    return;
  }
  req.release();  // the send callback frees it
}

void UdpListener::stop_reading() {
  flush();
  uv_udp_recv_stop(&handle_);
}

void UdpListener::close() {
  if (!uv_is_closing(as_handle(&handle_))) uv_close(as_handle(&handle_), nullptr);
}

}  // namespace hush::net

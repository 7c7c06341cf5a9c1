// What a device can send to the DNS-over-HTTPS port once TLS is up. The
// first byte chooses the part: the request reader alone (method, target,
// content type and body on lines of their own), or the HTTP/1.1 or HTTP/2
// session fed the rest as a client's bytes, in two reads, with every query
// answered by itself (as an echo) so responses are written too; or the
// client ID a DoT or DoH client's SNI carries (the SNI, then hush's own
// server name, on lines of their own).
#include <cstdint>
#include <string_view>
#include <vector>

#include "net/doh_request.hpp"
#include "net/doh_session.hpp"
#include "tls/server_context.hpp"

using namespace hush::net;

namespace {
std::string_view line(std::string_view& in) {
  size_t nl = in.find('\n');
  std::string_view out = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  return out;
}

void session(std::unique_ptr<DohSession> (*make)(DohSession::OnQuery), const uint8_t* data, size_t size) {
  DohSession* self = nullptr;
  std::vector<uint8_t> answers;
  auto s = make([&](uint32_t stream, std::string_view id, const uint8_t* msg, size_t len) {
    if (id.size() > 63) __builtin_trap();
    if (len & 1)
      self->answer(stream, msg, len);
    else
      self->reject(stream, 400, "even");
  });
  self = s.get();
  std::vector<uint8_t> out;
  const size_t half = size / 2;
  if (s->receive(data, half)) s->receive(data + half, size - half);
  s->output(out);
  (void)s->done();
  (void)s->buffered();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 4;
  ++data, --size;
  if (mode == 1) return session(DohSession::http1, data, size), 0;
  if (mode == 2) return session(DohSession::http2, data, size), 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (mode == 3) {
    const std::string sni(line(in)), server_name(line(in));
    const std::string id = hush::tls::client_id_from_sni(sni, server_name);
    // A client ID is a label: what the query log and the groups can hold.
    if (id.size() > 63) __builtin_trap();
    for (char ch : id)
      if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) __builtin_trap();
    return 0;
  }
  doh::Request r;
  r.method = line(in);
  r.target = line(in);
  r.content_type = line(in);
  r.body = in;
  doh::Parsed p = doh::parse(r);
  if (p.status == 0 && (p.message.size() < 12 || p.message.size() > doh::kMaxMessage)) __builtin_trap();
  (void)doh::freshness(p.message.data(), p.message.size());
  return 0;
}

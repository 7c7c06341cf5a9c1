#include "net/bootstrap.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "dns/answer.hpp"
#include "dns/wire.hpp"
#include "net/uv_owned.hpp"
#include "upstream/check.hpp"

namespace hush::net {

namespace {
constexpr uint16_t kTypeA = 1, kTypeAAAA = 28;

// A host name in wire form (labels with their lengths, then the root).
std::vector<uint8_t> name_wire(const std::string& name) {
  std::vector<uint8_t> out;
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = std::min(name.find('.', start), name.size());
    out.push_back(uint8_t(dot - start));
    out.insert(out.end(), name.begin() + ptrdiff_t(start), name.begin() + ptrdiff_t(dot));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}
}  // namespace

struct Bootstrap::Lookup {
  uv_udp_t udp;
  uv_timer_t timer;
  Bootstrap* owner;
  std::string name;
  std::vector<uint8_t> qname;
  uint16_t port;
  Done done;
  size_t server;             // index into servers_ being asked
  uint16_t ids[2] = {0, 0};  // of the A and the AAAA query
  bool answered[2] = {false, false};
  int handles = 2;           // udp and timer: freed once both are closed
  Result v4, v6;
};

Bootstrap::Bootstrap(uv_loop_t* loop, std::vector<sockaddr_storage> servers, uint32_t timeout_ms,
                     upstream::Random& random)
    : loop_(loop), servers_(std::move(servers)), timeout_ms_(std::max<uint32_t>(timeout_ms, 1)), random_(random) {}

Bootstrap::~Bootstrap() = default;

void Bootstrap::lookup(const std::string& name, uint16_t port, Done done) {
  if (servers_.empty()) {
    Result r;
    r.error = "no bootstrap server to look up " + name;
    return done(r);
  }
  start(name, port, std::move(done), 0);
}

void Bootstrap::start(const std::string& name, uint16_t port, Done done, size_t server) {
  auto* l = new Lookup;  // freed by the close callback of its last handle
  l->owner = this;
  l->name = name;
  l->qname = name_wire(name);
  l->port = port;
  l->done = std::move(done);
  l->server = server;
  uv_timer_init(loop_, &l->timer);
  uv_udp_init(loop_, &l->udp);
  l->timer.data = l->udp.data = l;
  lookups_.push_back(l);
  int r = uv_udp_connect(&l->udp, reinterpret_cast<const sockaddr*>(&servers_[server]));
  for (int i = 0; i < 2 && r == 0; ++i) {
    uint8_t q[dns::kHeaderSize + dns::kMaxNameWire + 4 + 11];
    l->ids[i] = random_.next16();
    size_t n = dns::write_upstream_query(l->ids[i], l->qname.data(), l->qname.size(), i == 0 ? kTypeA : kTypeAAAA,
                                         dns::kClassIn, false, false, q, sizeof q);
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(q), unsigned(n));
    r = uv_udp_try_send(&l->udp, &buf, 1, nullptr) == int(n) ? 0 : UV_EIO;
  }
  if (r == 0)
    r = uv_udp_recv_start(
        &l->udp,
        [](uv_handle_t*, size_t, uv_buf_t* buf) {
          static thread_local char data[65536];
          *buf = uv_buf_init(data, sizeof data);
        },
        [](uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr*, unsigned) {
          auto* l = static_cast<Lookup*>(h->data);
          if (nread > 0) l->owner->on_reply(*l, reinterpret_cast<const uint8_t*>(buf->base), size_t(nread));
        });
  // A server that cannot be asked counts as one that timed out: the next
  // one is asked, in a lookup of its own.
  uv_timer_start(&l->timer, [](uv_timer_t* t) {
    auto* l = static_cast<Lookup*>(t->data);
    Bootstrap& b = *l->owner;
    if (l->server + 1 >= b.servers_.size()) return b.finish(*l, nullptr);
    Done done = std::move(l->done);
    std::string name = l->name;
    uint16_t port = l->port;
    size_t next = l->server + 1;
    b.end(*l);
    b.start(name, port, std::move(done), next);
  }, r == 0 ? timeout_ms_ : 0, 0);
}

void Bootstrap::on_reply(Lookup& l, const uint8_t* data, size_t len) {
  if (len < 2) return;
  int which = dns::get16(data) == l.ids[0] ? 0 : dns::get16(data) == l.ids[1] ? 1 : -1;
  if (which < 0 || l.answered[which]) return;
  uint16_t type = which == 0 ? kTypeA : kTypeAAAA;
  if (upstream::check_reply(data, len, l.ids[which], l.qname.data(), l.qname.size(), type, dns::kClassIn) !=
      upstream::ReplyCheck::Ok)
    return;
  l.answered[which] = true;
  Result& out = which == 0 ? l.v4 : l.v6;
  dns::walk_records(data, len, [&](const dns::Record& r) {
    if (r.section != 1 || r.type != type || r.rdlength != (type == kTypeA ? 4 : 16)) return true;
    if (type == kTypeA) {
      auto& a = reinterpret_cast<sockaddr_in&>(out.addr);
      a.sin_family = AF_INET;
      a.sin_port = htons(l.port);
      std::memcpy(&a.sin_addr, data + r.rdata_offset, 4);
    } else {
      auto& a = reinterpret_cast<sockaddr_in6&>(out.addr);
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(l.port);
      std::memcpy(&a.sin6_addr, data + r.rdata_offset, 16);
    }
    out.ttl_s = r.ttl;
    return false;
  });
  if ((l.answered[0] && l.answered[1]) || l.v4.addr.ss_family) finish(l, nullptr);
}

void Bootstrap::finish(Lookup& l, const char* error) {
  Result r = l.v4.addr.ss_family ? l.v4 : l.v6;
  if (!r.addr.ss_family) r.error = error ? error : "the bootstrap servers gave no address for " + l.name;
  r.ttl_s = std::clamp(r.ttl_s, kMinTtl, kMaxTtl);
  Done done = std::move(l.done);
  end(l);
  done(r);
}

void Bootstrap::end(Lookup& l) {
  lookups_.erase(std::find(lookups_.begin(), lookups_.end(), &l));
  auto closed = [](uv_handle_t* h) {
    auto* l = static_cast<Lookup*>(h->data);
    if (--l->handles == 0) delete l;
  };
  uv_close(as_handle(&l.udp), closed);
  uv_close(as_handle(&l.timer), closed);
}

void Bootstrap::close() {
  for (Lookup* l : std::vector<Lookup*>(lookups_)) end(*l);
}

}  // namespace hush::net

#include "querylog/block.hpp"

namespace hush::querylog {

namespace {
constexpr char kFormat = 1;

void put_varint(std::string& out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = char(v | 0x80);
    v >>= 7;
  }
  buf[n++] = char(v);
  out.append(buf, n);
}

uint64_t zigzag(int64_t v) { return (uint64_t(v) << 1) ^ uint64_t(v >> 63); }
int64_t unzigzag(uint64_t v) { return int64_t(v >> 1) ^ -int64_t(v & 1); }

class Cursor {
 public:
  explicit Cursor(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}
  bool ok() const { return ok_; }
  bool done() const { return p_ == end_; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) break;
      uint8_t b = uint8_t(*p_++);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    ok_ = false;
    return 0;
  }
  uint8_t byte() {
    if (p_ == end_) {
      ok_ = false;
      return 0;
    }
    return uint8_t(*p_++);
  }
  std::string_view bytes(size_t n) {
    if (size_t(end_ - p_) < n) {
      ok_ = false;
      return {};
    }
    std::string_view s(p_, n);
    p_ += n;
    return s;
  }

 private:
  const char* p_;
  const char* end_;
  bool ok_ = true;
};
}  // namespace

void BlockWriter::clear() {
  out_.clear();
  rows_ = 0;
}

void BlockWriter::add(const Row& r) {
  if (rows_ == 0) {
    out_.push_back(kFormat);
    put_varint(out_, uint64_t(r.time_us));
    last_time_ = r.time_us;
  }
  put_varint(out_, zigzag(r.time_us - last_time_));
  last_time_ = r.time_us;
  put_varint(out_, uint64_t(r.device_id));
  put_varint(out_, uint64_t(r.address_id));
  put_varint(out_, uint64_t(r.domain_id));
  put_varint(out_, r.qtype);
  out_.push_back(char(uint8_t(r.transport) | uint8_t(r.status) << 4));
  put_varint(out_, r.rcode);
  put_varint(out_, uint64_t(r.reason_id));
  put_varint(out_, uint64_t(r.upstream_id));
  put_varint(out_, r.latency_us);
  put_varint(out_, r.answer.size());
  out_.append(r.answer);
  ++rows_;
}

bool read_block(std::string_view blob, int64_t first_id, int64_t n, std::vector<Row>& out) {
  out.clear();
  Cursor c(blob);
  if (n <= 0 || n > kMaxBlockRows || c.byte() != uint8_t(kFormat)) return false;
  int64_t t = int64_t(c.varint());
  out.resize(size_t(n));
  bool last = false;
  for (int64_t i = 0; i < n && c.ok(); ++i) {
    Row& r = out[size_t(i)];
    r.id = first_id + i;
    t += unzigzag(c.varint());
    r.time_us = t;
    r.device_id = int64_t(c.varint());
    r.address_id = int64_t(c.varint());
    r.domain_id = int64_t(c.varint());
    r.qtype = uint16_t(c.varint());
    uint8_t flags = c.byte();
    if ((flags & 0xf) > uint8_t(Transport::Doh) || (flags >> 4) >= kStatusCount) break;
    r.transport = Transport(flags & 0xf);
    r.status = Status(flags >> 4);
    r.rcode = uint16_t(c.varint());
    r.reason_id = int64_t(c.varint());
    r.upstream_id = int64_t(c.varint());
    r.latency_us = uint32_t(c.varint());
    r.answer = c.bytes(size_t(c.varint()));
    if (i + 1 == n) last = true;
  }
  if (!last || !c.ok() || !c.done()) {
    out.clear();
    return false;
  }
  return true;
}

}  // namespace hush::querylog

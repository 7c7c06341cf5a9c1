#include "querylog/block.hpp"

#include <zlib.h>

namespace hush::querylog {

namespace {
constexpr char kRows = 1, kDeflated = 2;

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
  size_t left() const { return size_t(end_ - p_); }
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
  for (std::string& c : columns_) c.clear();
  rows_ = 0;
  packed_ = false;
}

void BlockWriter::add(const Row& r) {
  if (rows_ == 0) first_time_ = last_time_ = r.time_us;
  packed_ = false;
  put_varint(columns_[0], zigzag(r.time_us - last_time_));
  last_time_ = r.time_us;
  put_varint(columns_[1], uint64_t(r.device_id));
  put_varint(columns_[2], uint64_t(r.address_id));
  put_varint(columns_[3], uint64_t(r.domain_id));
  put_varint(columns_[4], r.qtype);
  columns_[5].push_back(char(uint8_t(r.transport) | uint8_t(r.status) << 4));
  put_varint(columns_[6], r.rcode);
  put_varint(columns_[7], uint64_t(r.reason_id));
  put_varint(columns_[8], uint64_t(r.upstream_id));
  put_varint(columns_[9], r.latency_us);
  put_varint(columns_[10], r.answer.size());
  columns_[10].append(r.answer);
  ++rows_;
}

std::string_view BlockWriter::bytes() {
  if (packed_) return out_;
  // The body is deflated from its pieces as they are: no copy of it is made.
  std::string head;
  put_varint(head, uint64_t(first_time_));
  std::string lengths[kColumns];
  size_t body = head.size();
  for (int k = 0; k < kColumns; ++k) {
    put_varint(lengths[k], columns_[k].size());
    body += lengths[k].size() + columns_[k].size();
  }
  out_.assign(1, kDeflated);
  put_varint(out_, body);
  const size_t at = out_.size();
  z_stream z{};
  // Level 1: the writer pays this per block on the resolver's cores; higher
  // levels cost several times the CPU for a few percent less.
  bool ok = deflateInit(&z, 1) == Z_OK;
  if (ok) {
    out_.resize(at + deflateBound(&z, uLong(body)));
    z.next_out = reinterpret_cast<Bytef*>(out_.data() + at);
    z.avail_out = uInt(out_.size() - at);
    auto feed = [&](const std::string& piece) {
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
      z.avail_in = uInt(piece.size());
      while (ok && z.avail_in) ok = deflate(&z, Z_NO_FLUSH) == Z_OK;
    };
    feed(head);
    for (int k = 0; k < kColumns; ++k) {
      feed(lengths[k]);
      feed(columns_[k]);
    }
    ok = ok && deflate(&z, Z_FINISH) == Z_STREAM_END;
    out_.resize(ok ? at + z.total_out : at);  // deflateBound's room makes a failure impossible; it reads as damage
    deflateEnd(&z);
  }
  packed_ = true;
  return out_;
}

size_t BlockWriter::capacity() const {
  size_t n = out_.capacity();
  for (const std::string& c : columns_) n += c.capacity();
  return n;
}

namespace {
// Format 1: the fields of each row in turn.
bool read_rows(Cursor& c, int64_t first_id, int64_t n, std::vector<Row>& out) {
  int64_t t = int64_t(c.varint());
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
  return last && c.ok() && c.done();
}

// Format 2's inflated body: the columns one after another.
bool read_columns(std::string_view body, int64_t first_id, int64_t n, std::vector<Row>& out) {
  Cursor head(body);
  int64_t t = int64_t(head.varint());
  std::vector<Cursor> cols;
  cols.reserve(11);
  for (int k = 0; k < 11; ++k) {
    std::string_view col = head.bytes(size_t(head.varint()));
    if (!head.ok()) return false;
    cols.emplace_back(col);
  }
  if (!head.done()) return false;
  for (int64_t i = 0; i < n; ++i) {
    Row& r = out[size_t(i)];
    r.id = first_id + i;
    t += unzigzag(cols[0].varint());
    r.time_us = t;
    r.device_id = int64_t(cols[1].varint());
    r.address_id = int64_t(cols[2].varint());
    r.domain_id = int64_t(cols[3].varint());
    r.qtype = uint16_t(cols[4].varint());
    uint8_t flags = cols[5].byte();
    if ((flags & 0xf) > uint8_t(Transport::Doh) || (flags >> 4) >= kStatusCount) return false;
    r.transport = Transport(flags & 0xf);
    r.status = Status(flags >> 4);
    r.rcode = uint16_t(cols[6].varint());
    r.reason_id = int64_t(cols[7].varint());
    r.upstream_id = int64_t(cols[8].varint());
    r.latency_us = uint32_t(cols[9].varint());
    r.answer = cols[10].bytes(size_t(cols[10].varint()));
  }
  for (const Cursor& c : cols)
    if (!c.ok() || !c.done()) return false;
  return true;
}
}  // namespace

bool read_block(std::string_view blob, int64_t first_id, int64_t n, std::vector<Row>& out, std::string& scratch) {
  out.clear();
  Cursor c(blob);
  if (n <= 0 || n > kMaxBlockRows) return false;
  const uint8_t format = c.byte();
  bool ok = false;
  if (format == uint8_t(kRows)) {
    out.resize(size_t(n));
    ok = read_rows(c, first_id, n, out);
  } else if (format == uint8_t(kDeflated)) {
    const uint64_t size = c.varint();
    // A row's body is at most some 40 bytes of integers and its answer items
    // (a few hundred bytes): a bigger claim is damage, never an allocation.
    if (c.ok() && size <= uint64_t(n) * 1024) {
      std::string_view packed = c.bytes(c.left());
      scratch.resize(size_t(size));
      uLongf got = uLongf(size);
      if (uncompress(reinterpret_cast<Bytef*>(scratch.data()), &got, reinterpret_cast<const Bytef*>(packed.data()),
                     uLong(packed.size())) == Z_OK &&
          got == size) {
        out.resize(size_t(n));
        ok = read_columns(scratch, first_id, n, out);
      }
    }
  }
  if (!ok) out.clear();
  return ok;
}

}  // namespace hush::querylog

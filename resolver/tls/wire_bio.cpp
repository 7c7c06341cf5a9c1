#include "tls/wire_bio.hpp"

#include <algorithm>
#include <cstring>

namespace hush::tls {

namespace {
Wire& wire_of(BIO* b) { return *static_cast<Wire*>(BIO_get_data(b)); }

int wire_read(BIO* b, char* to, int len) {
  BIO_clear_retry_flags(b);
  Wire& w = wire_of(b);
  if (w.in_len == 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  size_t n = std::min(w.in_len, size_t(len > 0 ? len : 0));
  std::memcpy(to, w.in, n);
  w.in += n;
  w.in_len -= n;
  return int(n);
}

int wire_write(BIO* b, const char* from, int len) {
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  wire_of(b).out.insert(wire_of(b).out.end(), from, from + len);
  return len;
}

long wire_ctrl(BIO* b, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: return long(wire_of(b).in_len);
    case BIO_CTRL_WPENDING: return long(wire_of(b).out.size());
    default: return 0;
  }
}

const BIO_METHOD* wire_method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "hush wire");
    BIO_meth_set_read(method, wire_read);
    BIO_meth_set_write(method, wire_write);
    BIO_meth_set_ctrl(method, wire_ctrl);
    BIO_meth_set_create(method, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
    return method;
  }();
  return m;
}
}  // namespace

BIO* wire_bio(Wire* wire) {
  BIO* b = BIO_new(wire_method());
  if (b) BIO_set_data(b, wire);
  return b;
}

}  // namespace hush::tls

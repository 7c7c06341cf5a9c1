// DNS over HTTPS on HTTP/1.1: requests are taken one at a time, in order, so
// responses need no reordering; the next request waits in the buffer (read
// no further than one request ahead) until the answer to this one is out.
#include "net/doh_session.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "net/doh_request.hpp"

namespace hush::net {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.remove_suffix(1);
  return v;
}

// The parts of a request head DoH needs; `error` set when it cannot be served.
struct Head {
  std::string_view method, target;
  std::string_view content_type;
  size_t content_length = 0;
  bool keep_alive = true;
  int error = 0;
  std::string_view why;
};

Head bad(int status, std::string_view why) {
  Head h;
  h.error = status;
  h.why = why;
  return h;
}

bool parse_length(std::string_view v, size_t& out) {
  if (v.empty() || v.size() > 9) return false;
  out = 0;
  for (char ch : v) {
    if (ch < '0' || ch > '9') return false;
    out = out * 10 + size_t(ch - '0');
  }
  return true;
}

void read_field(Head& h, std::string_view name, std::string_view value) {
  if (iequals(name, "content-type")) {
    h.content_type = value;
  } else if (iequals(name, "content-length")) {
    if (!parse_length(value, h.content_length)) h = bad(400, "bad Content-Length");
  } else if (iequals(name, "transfer-encoding")) {
    h = bad(501, "chunked bodies are not taken: send Content-Length");
  } else if (iequals(name, "connection")) {
    if (iequals(value, "close")) h.keep_alive = false;
  }
}

Head parse_head(std::string_view head) {
  Head h;
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return bad(400, "bad request line");
  h.method = line.substr(0, sp1);
  h.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return bad(505, "HTTP/1.1 or HTTP/2 only");
  h.keep_alive = version == "HTTP/1.1";
  for (size_t pos = eol + 2; pos < head.size() && !h.error;) {
    size_t end = head.find("\r\n", pos);
    std::string_view field = head.substr(pos, end - pos);
    pos = end + 2;
    size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad(400, "bad header line");
    read_field(h, field.substr(0, colon), trim(field.substr(colon + 1)));
  }
  return h;
}

class Http1Session final : public DohSession {
 public:
  explicit Http1Session(OnQuery on_query) : on_query_(std::move(on_query)) {}

  bool receive(const uint8_t* data, size_t len) override {
    if (closing_) return false;
    if (discard_ > 0) {
      const size_t n = std::min(discard_, len);
      discard_ -= n;
      if (discard_ == 0) closing_ = true;
      return true;
    }
    in_.append(reinterpret_cast<const char*>(data), len);
    take_requests();
    return !closing_ || !out_.empty();
  }
  void answer(uint32_t stream, const uint8_t* msg, size_t len) override {
    if (!waiting_ || stream != current_) return;
    respond(200, doh::kMediaType, std::string_view(reinterpret_cast<const char*>(msg), len),
            doh::freshness(msg, len));
    next();
  }
  void reject(uint32_t stream, int status, std::string_view why) override {
    if (!waiting_ || stream != current_) return;
    respond(status, "text/plain", std::string(why) + "\n", -1);
    next();
  }
  void output(std::vector<uint8_t>& out) override {
    out.insert(out.end(), out_.begin(), out_.end());
    out_.clear();
  }
  bool done() const override { return closing_ && !waiting_; }
  size_t buffered() const override { return in_.size(); }

 private:
  void next() {
    waiting_ = false;
    if (!close_after_ && !taking_) take_requests();
    if (close_after_) closing_ = true;
  }
  void take_requests();
  // The request at the front of `in_`: false when it is not all in yet.
  bool take_one();
  void respond(int status, std::string_view type, std::string_view body, int64_t max_age);
  // What follows a request that cannot be read cannot be found either.
  void fail(int status, std::string_view why) {
    close_after_ = closing_ = true;
    respond(status, "text/plain", std::string(why) + "\n", -1);
    in_.clear();
  }

  OnQuery on_query_;
  std::string in_, out_;
  uint32_t current_ = 0;
  bool waiting_ = false;      // for the answer to request `current_`
  bool taking_ = false;       // take_requests() is on the stack
  bool close_after_ = false;  // the client asked for it, or sent what cannot be followed
  bool closing_ = false;
  size_t discard_ = 0;        // bytes of an over-long body still to drop before closing
};

void Http1Session::take_requests() {
  taking_ = true;
  while (!waiting_ && !closing_ && take_one()) {
  }
  taking_ = false;
  if (close_after_ && !waiting_ && discard_ == 0) closing_ = true;
}

bool Http1Session::take_one() {
  size_t end = in_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (in_.size() > kMaxHead) fail(431, "request head over 16 KiB");
    return false;
  }
  if (end + 4 > kMaxHead) {
    fail(431, "request head over 16 KiB");
    return false;
  }
  Head h = parse_head(std::string_view(in_).substr(0, end + 2));
  if (h.error) {
    fail(h.error, h.why);
    return false;
  }
  if (h.content_length > doh::kMaxMessage) {
    // A body of a sane size is read and dropped before the connection
    // closes: closing with unread bytes makes the kernel reset it, and the
    // client loses the 413 it was sent.
    const size_t arrived = in_.size() - (end + 4);
    if (h.content_length <= kMaxDiscard && arrived < h.content_length) {
      close_after_ = true;
      respond(413, "text/plain", "the DNS message is over 65535 bytes\n", -1);
      discard_ = h.content_length - arrived;
      in_.clear();
      return false;
    }
    fail(413, "the DNS message is over 65535 bytes");
    return false;
  }
  const size_t total = end + 4 + h.content_length;
  if (in_.size() < total) return false;
  close_after_ = !h.keep_alive;
  doh::Parsed p = doh::parse({h.method, h.target, h.content_type, std::string_view(in_).substr(end + 4, h.content_length)});
  in_.erase(0, total);
  ++current_;
  waiting_ = true;
  if (p.status != 0) {
    reject(current_, p.status, p.why);
  } else {
    on_query_(current_, p.client_id, p.message.data(), p.message.size());
  }
  return true;
}

void Http1Session::respond(int status, std::string_view type, std::string_view body, int64_t max_age) {
  out_ += "HTTP/1.1 " + std::to_string(status) + " " + doh::reason(status) + "\r\ncontent-type: ";
  out_ += type;
  out_ += "\r\ncontent-length: " + std::to_string(body.size()) + "\r\n";
  if (max_age >= 0) out_ += "cache-control: max-age=" + std::to_string(max_age) + "\r\n";
  if (status == 405) out_ += "allow: GET, POST\r\n";
  if (close_after_) out_ += "connection: close\r\n";
  out_ += "\r\n";
  out_ += body;
}

}  // namespace

std::unique_ptr<DohSession> DohSession::http1(OnQuery on_query) {
  return std::make_unique<Http1Session>(std::move(on_query));
}

}  // namespace hush::net

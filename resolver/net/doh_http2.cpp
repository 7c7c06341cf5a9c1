// DNS over HTTPS on HTTP/2 with libnghttp2's server session: HPACK, flow
// control, stream states and the protocol checks (pseudo-headers, content
// length against DATA) are the library's, driven from memory so that TLS and
// the socket stay tcp_server's.
#include <malloc.h>
#include <nghttp2/nghttp2.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net/doh_request.hpp"
#include "net/doh_session.hpp"

namespace hush::net {

namespace {

struct Stream {
  std::string method, path, content_type, body;
  size_t head_bytes = 0;
  bool refused = false;  // over a bound: reset, ignored until it closes
  std::string response;
  size_t sent = 0;
};

// Where an idle connection's bytes go: a session takes about 25 KiB from
// libnghttp2, 16 KiB of it its outbound frame buffer and 4 KiB its stream
// table, allocated up front and mostly never written by a DNS client (one
// frame of a small answer at a time, a few streams). Blocks that large are
// mapped instead of taken from the heap, so only the pages written are
// resident (the frame buffer's first, the table's none until a stream
// opens): 39.9 -> 29.9 KiB of RSS per idle HTTP/2 connection with TLS,
// tests/bench/doh.sh and docs/BENCHMARKS.md. Smaller blocks stay malloc's.
// The frame buffer holds nothing between frames, so once a connection has
// no stream open and nothing to send its written page is given back too.
class PageMappedBlocks {
 public:
  static constexpr size_t kMapFrom = 4096;
  PageMappedBlocks() = default;
  PageMappedBlocks(const PageMappedBlocks&) = delete;
  PageMappedBlocks& operator=(const PageMappedBlocks&) = delete;
  ~PageMappedBlocks() {
    for (auto& [p, n] : blocks_) munmap(p, n);
  }
  // The largest block taken so far: right after the session is made, its
  // frame buffer (the stream table and HPACK tables are a few KiB).
  void* largest() const {
    auto it = std::max_element(blocks_.begin(), blocks_.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
    return it == blocks_.end() ? nullptr : it->first;
  }
  // Gives `p`'s pages back (they read as zeros when next touched).
  void discard(void* p) {
    if (size_t n = p ? mapped(p) : 0) madvise(p, n, MADV_DONTNEED);
  }
  nghttp2_mem mem() {
    return {this, [](size_t n, void* u) { return self(u).allocate(n); },
            [](void* p, void* u) { self(u).release(p); },
            [](size_t n, size_t size, void* u) {
              // Mapped pages come zeroed; heap blocks are cleared by calloc.
              if (size != 0 && n > SIZE_MAX / size) return static_cast<void*>(nullptr);
              return n * size >= kMapFrom ? self(u).allocate(n * size) : std::calloc(n, size);
            },
            [](void* p, size_t n, void* u) { return self(u).reallocate(p, n); }};
  }

 private:
  static PageMappedBlocks& self(void* u) { return *static_cast<PageMappedBlocks*>(u); }
  void* allocate(size_t n) {
    if (n < kMapFrom) return std::malloc(n);
    void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    blocks_.emplace_back(p, n);
    return p;
  }
  // The mapped block's size, or 0 for a heap block.
  size_t mapped(void* p) const {
    for (const auto& [q, n] : blocks_)
      if (q == p) return n;
    return 0;
  }
  void release(void* p) {
    if (!p) return;
    auto it = std::find_if(blocks_.begin(), blocks_.end(), [p](const auto& b) { return b.first == p; });
    if (it == blocks_.end()) return std::free(p);
    munmap(p, it->second);
    blocks_.erase(it);
  }
  void* reallocate(void* p, size_t n) {
    const size_t old = p ? mapped(p) : 0;
    if (old == 0 && n < kMapFrom) return std::realloc(p, n);
    void* q = allocate(n);
    if (!q) return nullptr;
    if (p) {
      std::memcpy(q, p, std::min(n, old ? old : malloc_usable_size(p)));
      release(p);
    }
    return q;
  }
  std::vector<std::pair<void*, size_t>> blocks_;  // a session maps two or three
};

class Http2Session final : public DohSession {
 public:
  explicit Http2Session(OnQuery on_query);
  ~Http2Session() override { nghttp2_session_del(session_); }

  bool receive(const uint8_t* data, size_t len) override {
    return nghttp2_session_mem_recv(session_, data, len) >= 0;
  }
  void answer(uint32_t stream, const uint8_t* msg, size_t len) override;
  void reject(uint32_t stream, int status, std::string_view why) override;
  void output(std::vector<uint8_t>& out) override {
    const uint8_t* data;
    ssize_t sent = 0;
    for (ssize_t n; (n = nghttp2_session_mem_send(session_, &data)) > 0; sent += n) out.insert(out.end(), data, data + n);
    // Idle until the client asks again: one madvise per quiet moment, never
    // while streams are in flight (a loaded connection always has some).
    if (sent > 0 && streams_.empty() && !nghttp2_session_want_write(session_)) blocks_.discard(frame_buffer_);
  }
  bool done() const override {
    return !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
  }
  size_t buffered() const override { return 0; }

 private:
  static Http2Session& self(void* user) { return *static_cast<Http2Session*>(user); }
  Stream* find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() || it->second.refused ? nullptr : &it->second;
  }
  // Ignores the rest of the stream (and resets it, when `reset`).
  void refuse(int32_t id, Stream& s, bool reset = true);
  void complete(int32_t id, Stream& s);
  void respond(int32_t id, int status, std::string content_type, std::string body, int64_t max_age);

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* user);
  static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* user);
  static int on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user);
  static int on_frame(nghttp2_session*, const nghttp2_frame* f, void* user);
  static int on_close(nghttp2_session*, int32_t id, uint32_t, void* user);
  static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source*, void* user);

  OnQuery on_query_;
  PageMappedBlocks blocks_;  // outlives session_, whose memory it holds
  nghttp2_session* session_ = nullptr;
  void* frame_buffer_ = nullptr;  // in blocks_
  std::unordered_map<int32_t, Stream> streams_;
  size_t bodies_ = 0;  // request body bytes held over all streams
};

Http2Session::Http2Session(OnQuery on_query) : on_query_(std::move(on_query)) {
  nghttp2_session_callbacks* cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
  nghttp2_option* option;
  nghttp2_option_new(&option);
  // Closed streams are kept only for RFC 7540's priority tree, which
  // answers to DNS questions have no use for.
  nghttp2_option_set_no_closed_streams(option, 1);
  nghttp2_mem mem = blocks_.mem();  // copied by the session
  nghttp2_session_server_new3(&session_, cb, this, option, &mem);
  frame_buffer_ = blocks_.largest();
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(cb);
  const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxStreams},
                                             {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, uint32_t(kMaxHead)}};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, sizeof settings / sizeof settings[0]);
}

int Http2Session::on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* user) {
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  Http2Session& s = self(user);
  Stream& st = s.streams_[f->hd.stream_id];
  // nghttp2 refuses streams over the advertised limit once the client has
  // the settings; this holds before that too.
  if (s.streams_.size() > kMaxStreams) s.refuse(f->hd.stream_id, st);
  return 0;
}

int Http2Session::on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen,
                            const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  Http2Session& s = self(user);
  Stream* st = s.find(f->hd.stream_id);
  if (!st) return 0;
  st->head_bytes += namelen + valuelen + 32;
  if (st->head_bytes > kMaxHead) {
    s.refuse(f->hd.stream_id, *st);
    return 0;
  }
  std::string_view n(reinterpret_cast<const char*>(name), namelen), v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":method") st->method = v;
  else if (n == ":path") st->path = v;
  else if (n == "content-type") st->content_type = v;
  return 0;
}

int Http2Session::on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
  Http2Session& s = self(user);
  Stream* st = s.find(id);
  if (!st) return 0;
  if (st->body.size() + len > doh::kMaxMessage) {
    // Answered as soon as the body is over the bound, not after all of it.
    // Not reset: the rest of the body is read and dropped, so the 413 arrives.
    s.refuse(id, *st, false);
    s.respond(id, 413, "text/plain", "the DNS message is over 65535 bytes\n", -1);
    return 0;
  }
  if (s.bodies_ + len > kMaxBodies) {
    s.refuse(id, *st);
    return 0;
  }
  st->body.append(reinterpret_cast<const char*>(data), len);
  s.bodies_ += len;
  return 0;
}

int Http2Session::on_frame(nghttp2_session*, const nghttp2_frame* f, void* user) {
  if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  Http2Session& s = self(user);
  if (Stream* st = s.find(f->hd.stream_id)) s.complete(f->hd.stream_id, *st);
  return 0;
}

int Http2Session::on_close(nghttp2_session*, int32_t id, uint32_t, void* user) {
  Http2Session& s = self(user);
  auto it = s.streams_.find(id);
  if (it == s.streams_.end()) return 0;
  s.bodies_ -= it->second.body.size();
  s.streams_.erase(it);
  return 0;
}

void Http2Session::refuse(int32_t id, Stream& st, bool reset) {
  bodies_ -= st.body.size();
  st.body.clear();
  st.body.shrink_to_fit();
  st.refused = true;
  if (reset) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
}

void Http2Session::complete(int32_t id, Stream& st) {
  doh::Parsed p = doh::parse({st.method, st.path, st.content_type, st.body});
  bodies_ -= st.body.size();
  st.body.clear();
  st.body.shrink_to_fit();
  if (p.status != 0) return respond(id, p.status, "text/plain", p.why + "\n", -1);
  on_query_(uint32_t(id), p.client_id, p.message.data(), p.message.size());
}

void Http2Session::answer(uint32_t stream, const uint8_t* msg, size_t len) {
  if (!find(int32_t(stream))) return;
  respond(int32_t(stream), 200, std::string(doh::kMediaType), std::string(reinterpret_cast<const char*>(msg), len),
          doh::freshness(msg, len));
}

void Http2Session::reject(uint32_t stream, int status, std::string_view why) {
  if (find(int32_t(stream))) respond(int32_t(stream), status, "text/plain", std::string(why) + "\n", -1);
}

void Http2Session::respond(int32_t id, int status, std::string content_type, std::string body, int64_t max_age) {
  Stream& st = streams_[id];
  st.response = std::move(body);
  st.sent = 0;
  const std::string code = std::to_string(status), length = std::to_string(st.response.size()),
                    cache = "max-age=" + std::to_string(max_age);
  auto nv = [](std::string_view n, const std::string& v) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                      NGHTTP2_NV_FLAG_NONE};
  };
  static const std::string kAllow = "GET, POST";
  std::vector<nghttp2_nv> headers{nv(":status", code), nv("content-type", content_type),
                                  nv("content-length", length)};
  if (max_age >= 0) headers.push_back(nv("cache-control", cache));
  if (status == 405) headers.push_back(nv("allow", kAllow));
  nghttp2_data_provider body_source{};
  body_source.read_callback = read_body;
  // Copies the headers; the body is read from the stream as it is sent.
  nghttp2_submit_response(session_, id, headers.data(), headers.size(), &body_source);
}

ssize_t Http2Session::read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                                nghttp2_data_source*, void* user) {
  Http2Session& s = self(user);
  auto it = s.streams_.find(id);
  if (it == s.streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  Stream& st = it->second;
  size_t n = std::min(length, st.response.size() - st.sent);
  std::copy_n(st.response.data() + st.sent, n, buf);
  st.sent += n;
  if (st.sent == st.response.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return ssize_t(n);
}

}  // namespace

std::unique_ptr<DohSession> DohSession::http2(OnQuery on_query) {
  return std::make_unique<Http2Session>(std::move(on_query));
}

}  // namespace hush::net

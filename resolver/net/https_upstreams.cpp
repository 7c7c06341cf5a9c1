#include "net/https_upstreams.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <mutex>

#include "base/address.hpp"
#include "base/log.hpp"
#include "dns/wire.hpp"
#include "net/uv_owned.hpp"

namespace hush::net {

struct HttpsUpstreams::Server {
  const upstream::Server* config;
  std::string url;
  curl_slist* resolve = nullptr;  // host:port:address, for a server given by name
  uint64_t resolve_expires_ms = 0;
  bool looking_up = false;
  size_t inflight = 0;
  std::vector<Request*> waiting;  // for the lookup of config->host
  ~Server() { curl_slist_free_all(resolve); }
};

struct HttpsUpstreams::Request {
  HttpsUpstreams* owner;
  Server* server;
  upstream::Pending* pending;
  CURL* easy = nullptr;
  std::vector<uint8_t> body;
  std::vector<uint8_t> answer;
  char error[CURL_ERROR_SIZE] = "";  // what went wrong, in libcurl's words (certificate checks in detail)
};

struct HttpsUpstreams::Poll {
  uv_poll_t handle;
  HttpsUpstreams* owner;
  curl_socket_t fd;
  int events = 0;  // what libuv watches for: libcurl repeats itself, and each change costs an epoll_ctl
};

namespace {
size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto& answer = *static_cast<std::vector<uint8_t>*>(user);
  if (answer.size() + size * n > HttpsUpstreams::kMaxBody) return 0;  // ends the transfer with an error
  answer.insert(answer.end(), data, data + size * n);
  return size * n;
}

std::string address_only(const sockaddr_storage& a) {
  char text[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, text, sizeof text);
  else
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, text, sizeof text);
  return a.ss_family == AF_INET6 ? "[" + std::string(text) + "]" : text;
}
}  // namespace

HttpsUpstreams::HttpsUpstreams(uv_loop_t* loop, UpstreamIo& io, UpstreamIo::Events& events, upstream::Random& random,
                               const std::vector<std::vector<upstream::Server>>& routes, const TlsSettings& settings)
    : loop_(loop), io_(io), events_(events), random_(random),
      bootstrap_(loop, settings.bootstrap, settings.bootstrap_timeout_ms, random), ca_file_(settings.ca_file) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  for (const auto& route : routes) {
    servers_.emplace_back(route.size(), nullptr);
    for (size_t i = 0; i < route.size(); ++i) {
      const upstream::Server& c = route[i];
      if (c.transport != upstream::Transport::Https) continue;
      std::string host = c.host.empty() ? address_only(c.addr) : c.host;
      servers_.back()[i] = new Server{&c, "https://" + host + ":" + std::to_string(c.port) + c.path};
    }
  }
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, long(CURLPIPE_MULTIPLEX));
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, kConnections);
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  multi_ = multi;
  headers_ = curl_slist_append(curl_slist_append(nullptr, "Content-Type: application/dns-message"),
                               "Accept: application/dns-message");
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

HttpsUpstreams::~HttpsUpstreams() {
  for (auto& route : servers_)
    for (Server* s : route) delete s;
  curl_slist_free_all(static_cast<curl_slist*>(headers_));
}

const char* HttpsUpstreams::send(upstream::Pending& p, uint8_t* msg, size_t len) {
  Server* s = servers_[p.route][p.server()];
  if (!s) return "not an https:// upstream";
  if (s->inflight >= kStreams) return "every HTTPS stream to the server is busy";
  auto* r = new Request{this, s, &p};
  p.id = random_.next16();
  dns::put16(msg, p.id);
  r->body.assign(msg, msg + len);
  p.io = r;
  ++s->inflight;
  bool stale = !s->config->host.empty() && (!s->resolve || uv_now(loop_) >= s->resolve_expires_ms);
  if (!stale) {
    start(*r);
    return nullptr;
  }
  s->waiting.push_back(r);
  if (!s->looking_up) look_up(*s);
  return nullptr;
}

void HttpsUpstreams::look_up(Server& s) {
  s.looking_up = true;
  bootstrap_.lookup(s.config->host, s.config->port, [this, &s](const Bootstrap::Result& res) {
    s.looking_up = false;
    if (res.error.empty()) {
      curl_slist_free_all(s.resolve);
      std::string entry = s.config->host + ":" + std::to_string(s.config->port) + ":" + address_only(res.addr);
      s.resolve = curl_slist_append(nullptr, entry.c_str());
      s.resolve_expires_ms = uv_now(loop_) + uint64_t(res.ttl_s) * 1000;
      log::debug("upstream ", s.config->text, ": ", s.config->host, " is ", format_address(res.addr), " for ",
                 res.ttl_s, " s (bootstrap)");
    }
    std::vector<Request*> waiting;
    waiting.swap(s.waiting);
    for (Request* r : waiting) {
      if (res.error.empty()) {
        start(*r);
        continue;
      }
      upstream::Pending& p = *r->pending;
      std::string why = "cannot look up " + s.config->host + ": " + res.error;
      io_.cancel(p);
      events_.on_upstream_failure(p, false, why.c_str());
    }
    check_done();
  });
}

void HttpsUpstreams::start(Request& r) {
  // A handle that carried a transfer keeps its options, so only what
  // differs per request is set again; set-up is most of libcurl's cost
  // per request here.
  CURL* e = nullptr;
  if (!spare_.empty()) {
    e = spare_.back();
    spare_.pop_back();
  } else {
    e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(headers_));
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, long(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);  // wait for the connection being set up, to share it
    curl_easy_setopt(e, CURLOPT_SSLVERSION, long(CURL_SSLVERSION_TLSv1_2));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
    if (!ca_file_.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, ca_file_.c_str());
  }
  r.easy = e;
  curl_easy_setopt(e, CURLOPT_URL, r.server->url.c_str());
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, long(r.body.size()));
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &r.answer);
  curl_easy_setopt(e, CURLOPT_PRIVATE, &r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r.error);
  curl_easy_setopt(e, CURLOPT_RESOLVE, r.server->resolve);
  curl_multi_add_handle(static_cast<CURLM*>(multi_), e);
}

void HttpsUpstreams::check_done() {
  int left = 0;
  while (CURLMsg* m = curl_multi_info_read(static_cast<CURLM*>(multi_), &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    Request* r = nullptr;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&r));
    finished(*r, m->data.result);
  }
}

void HttpsUpstreams::finished(Request& r, int code) {
  upstream::Pending& p = *r.pending;
  long status = 0;
  curl_easy_getinfo(r.easy, CURLINFO_RESPONSE_CODE, &status);
  if (code == CURLE_OK && status == 200 && !r.answer.empty()) {
    // The request ends when the worker is done with p: keep the answer.
    std::vector<uint8_t> answer = std::move(r.answer);
    return events_.on_upstream_reply(p, answer.data(), answer.size());
  }
  bool refused = code == CURLE_PEER_FAILED_VERIFICATION;
  std::string why = code == CURLE_OK ? "HTTPS status " + std::to_string(status)
                    : r.error[0]     ? std::string(r.error)
                                     : std::string("HTTPS: ") + curl_easy_strerror(CURLcode(code));
  if (refused) {
    why = "TLS certificate refused (" + why + ")";
    log::warn("upstream ", r.server->config->text, ": ", why);
    p.refused = r.server->config->text + ": " + why;
  }
  io_.cancel(p);
  events_.on_upstream_failure(p, false, why.c_str());
}

void HttpsUpstreams::cancel(upstream::Pending& p) {
  auto* r = static_cast<Request*>(p.io);
  auto& waiting = r->server->waiting;
  waiting.erase(std::remove(waiting.begin(), waiting.end(), r), waiting.end());
  end(*r);
  p.io = nullptr;
}

void HttpsUpstreams::end(Request& r) {
  --r.server->inflight;
  if (r.easy) {
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), r.easy);
    if (spare_.size() < kStreams)
      spare_.push_back(r.easy);
    else
      curl_easy_cleanup(r.easy);
  }
  delete &r;
}

int HttpsUpstreams::on_socket(void*, int fd, int what, void* self, void* poll_data) {
  auto* h = static_cast<HttpsUpstreams*>(self);
  auto* poll = static_cast<Poll*>(poll_data);
  if (what == CURL_POLL_REMOVE) {
    if (poll) {
      curl_multi_assign(static_cast<CURLM*>(h->multi_), fd, nullptr);
      poll->fd = CURL_SOCKET_BAD;  // the socket may be closed, its number reused
      uv_close(as_handle(&poll->handle), [](uv_handle_t* p) { reclaim<Poll>(p->data); });
    }
    return 0;
  }
  if (!poll) {
    poll = new Poll{{}, h, fd};  // freed by its close callback
    uv_poll_init_socket(h->loop_, &poll->handle, fd);
    poll->handle.data = poll;
    curl_multi_assign(static_cast<CURLM*>(h->multi_), fd, poll);
  }
  int events = ((what & CURL_POLL_IN) ? UV_READABLE : 0) | ((what & CURL_POLL_OUT) ? UV_WRITABLE : 0);
  if (events == poll->events) return 0;
  poll->events = events;
  uv_poll_start(&poll->handle, events, [](uv_poll_t* handle, int status, int ready) {
    auto* poll = static_cast<Poll*>(handle->data);
    HttpsUpstreams& h = *poll->owner;
    int flags = status < 0 ? CURL_CSELECT_ERR
                           : ((ready & UV_READABLE) ? CURL_CSELECT_IN : 0) | ((ready & UV_WRITABLE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    curl_multi_socket_action(static_cast<CURLM*>(h.multi_), poll->fd, flags, &running);
    // What was just read is acknowledged now rather than up to 40 ms later
    // (Linux's delayed ACK; quick-ACK mode does not last, so it is set
    // after each read). A server that writes an answer's HEADERS and DATA
    // frames in two writes without TCP_NODELAY, as unbound 1.17 does, holds
    // the second under Nagle's algorithm until that ACK: 40-50 ms added to
    // a DoH answer at 2,000 QPS, about 1 ms with it (tests/bench/upstream_tls.sh).
    if ((ready & UV_READABLE) && poll->fd != CURL_SOCKET_BAD) {
      int one = 1;
      setsockopt(poll->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
    h.check_done();
  });
  return 0;
}

int HttpsUpstreams::on_timer(void*, long timeout_ms, void* self) {
  auto* h = static_cast<HttpsUpstreams*>(self);
  if (timeout_ms < 0) {
    uv_timer_stop(&h->timer_);
    return 0;
  }
  // libcurl must not be called back into from here: time 0 fires on the
  // next loop iteration.
  uv_timer_start(&h->timer_, [](uv_timer_t* t) {
    auto* h = static_cast<HttpsUpstreams*>(t->data);
    int running = 0;
    curl_multi_socket_action(static_cast<CURLM*>(h->multi_), CURL_SOCKET_TIMEOUT, 0, &running);
    h->check_done();
  }, uint64_t(timeout_ms), 0);
  return 0;
}

void HttpsUpstreams::close() {
  if (closed_) return;
  closed_ = true;
  bootstrap_.close();
  // Every request is over (the worker closes once nothing is in flight);
  // cleaning up closes the connections, through on_socket.
  for (CURL* e : spare_) curl_easy_cleanup(e);
  spare_.clear();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
  multi_ = nullptr;
  uv_close(as_handle(&timer_), nullptr);
}

}  // namespace hush::net

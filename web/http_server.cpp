#include "web/http_server.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <httplib.h>
#include <netinet/in.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "base/address.hpp"
#include "web/http_connections.hpp"

namespace hush::web {

namespace {

std::string host_of(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
  else
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
  return buf;
}

int port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

using Defaults = std::multimap<std::string, std::string>;

// httplib keeps its request parser and routing behind process_request(),
// which a subclass may call with any Stream. Its streamed bodies run only
// while it believes it has a listening socket, so that is set for as long as
// HttpConnections serves.
struct Server : httplib::Server {
  using httplib::Server::process_request;
  void set_listening(socket_t fd) { svr_sock_ = fd; }
};

// One client connection in memory for handle_raw(): reads come from the
// request bytes; the client takes each response's head and at most one
// write of its body, then stops reading.
class RawStream : public httplib::Stream {
 public:
  RawStream(std::string_view in, std::string remote) : in_(in), remote_(std::move(remote)) {}

  bool is_readable() const override { return true; }
  bool is_writable() const override { return body_writes_ < 1; }
  ssize_t read(char* ptr, size_t size) override {
    size = std::min(size, in_.size() - pos_);
    if (size == 0) return 0;
    std::memcpy(ptr, in_.data() + pos_, size);
    pos_ += size;
    return ssize_t(size);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    std::string_view data(ptr, size);
    bool starts_response = out_.size() == response_start_;
    bool head_done = !starts_response && out_.find("\r\n\r\n", response_start_) != std::string::npos;
    out_.append(data);
    if (starts_response && data.size() >= 12 && data.substr(0, 5) == "HTTP/") {
      int status = std::atoi(std::string(data.substr(9, 3)).c_str());
      // An interim answer (100 Continue) comes before the response itself.
      if (status < 200)
        response_start_ = out_.size();
      else
        statuses_.push_back(status);
    }
    if (head_done) ++body_writes_;
    return ssize_t(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_;
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8080;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

  bool at_end() const { return pos_ >= in_.size(); }
  void next_response() {
    response_start_ = out_.size();
    body_writes_ = 0;
  }
  HttpServer::RawExchange take() { return {std::move(out_), std::move(statuses_)}; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  std::string remote_;
  std::string out_;
  std::vector<int> statuses_;
  size_t response_start_ = 0;
  int body_writes_ = 0;
};

// One request read in full by HttpConnections, answered on its socket from a
// handler thread. Writes wait for the socket at most the write timeout each,
// so a client that stops reading holds a handler thread for that long only.
class ExchangeStream : public httplib::Stream {
 public:
  explicit ExchangeStream(const HttpExchange& x) : x_(x) {}

  bool is_readable() const override { return pos_ < x_.request.size(); }
  bool is_writable() const override { return !failed_ && !peer_closed() && wait_writable(); }
  ssize_t read(char* ptr, size_t size) override {
    size = std::min(size, x_.request.size() - pos_);
    std::memcpy(ptr, x_.request.data() + pos_, size);
    pos_ += size;
    return ssize_t(size);
  }
  ssize_t write(const char* ptr, size_t size) override {
    size_t done = 0;
    while (done < size && !failed_) {
      ssize_t n = x_.ssl ? write_tls(ptr + done, size - done)
                         : ::send(x_.fd, ptr + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        done += size_t(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (!wait_writable()) failed_ = true;
      } else {
        failed_ = true;
      }
    }
    return failed_ ? -1 : ssize_t(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = x_.peer;
    port = x_.peer_port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    ::getsockname(x_.fd, reinterpret_cast<sockaddr*>(&a), &len);
    ip = host_of(a);
    port = port_of(a);
  }
  socket_t socket() const override { return x_.fd; }

 private:
  // As send() would answer: bytes taken, or -1 with errno EAGAIN when the
  // socket is full (the same bytes are offered again, as OpenSSL requires).
  ssize_t write_tls(const char* ptr, size_t size) {
    int n = SSL_write(x_.ssl, ptr, int(std::min<size_t>(size, 1 << 20)));
    if (n > 0) return n;
    int err = SSL_get_error(x_.ssl, n);
    errno = err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ ? EAGAIN : EPIPE;
    return -1;
  }
  // A client that closed its end (a browser leaving a live view) shows as
  // end-of-file to a peek; bytes waiting there (a pipelined request) do not
  // count as gone.
  bool peer_closed() const {
    pollfd p{x_.fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) != 1) return false;
    if (p.revents & (POLLERR | POLLHUP | POLLRDHUP)) return true;
    char c;
    return ::recv(x_.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }
  bool wait_writable() const {
    pollfd p{x_.fd, POLLOUT, 0};
    return ::poll(&p, 1, x_.write_timeout_ms) == 1 && !(p.revents & (POLLERR | POLLHUP));
  }
  const HttpExchange& x_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// httplib answers a client that takes brotli ("Accept-Encoding: ... br", as
// every browser sends) with brotli at its default quality, 11: with the
// dashboard's JSON that was 79% of hush's CPU on a company page
// (tests/bench/dashload.sh, docs/BENCHMARKS.md). Its gzip (zlib's default
// level) costs a small fraction of that for a body a little larger, which a
// LAN does not notice; so a client that takes gzip gets gzip, and one that
// takes only brotli gets the body as it is.
void without_brotli(httplib::Request& req) {
  bool gzip = false;
  for (auto [it, end] = req.headers.equal_range("Accept-Encoding"); it != end; ++it)
    gzip = gzip || it->second.find("gzip") != std::string::npos;
  req.headers.erase("Accept-Encoding");
  if (gzip) req.headers.emplace("Accept-Encoding", "gzip");
}

void apply_defaults(const Defaults& defaults, httplib::Response& out) {
  for (const auto& [k, v] : defaults)
    if (!out.has_header(k.c_str())) out.set_header(k, v);
}

httplib::Server::Handler adapt(Handler h, const Defaults& defaults, const Handler& gate) {
  return [h = std::move(h), &defaults, &gate](const httplib::Request& in, httplib::Response& out) {
    Response resp;
    try {
      Request r;
      r.method = in.method;
      r.path = in.path;
      r.params = {in.params.begin(), in.params.end()};
      r.headers = {in.headers.begin(), in.headers.end()};
      for (const auto& m : in.matches) r.matches.push_back(m.str());
      r.body = in.body;
      r.remote_addr = in.remote_addr;
      resp = gate ? gate(r) : Response{0};
      if (resp.status == 0) resp = h(r);
    } catch (const std::exception& e) {
      resp = Response{500, "application/json", json_error(std::string("internal error: ") + e.what()), {}, {}};
    } catch (...) {
      resp = Response{500, "application/json", json_error("internal error"), {}, {}};
    }
    out.status = resp.status;
    for (const auto& [k, v] : resp.headers) out.set_header(k, v);
    apply_defaults(defaults, out);
    if (resp.stream) {
      auto stream = std::move(resp.stream);
      out.set_chunked_content_provider(resp.content_type, [stream](size_t, httplib::DataSink& sink) {
        try {
          StreamWrite w;
          w.write = [&sink](std::string_view s) {
            if (s.empty()) return sink.is_writable();  // an empty chunk would end the body
            return sink.is_writable() && sink.write(s.data(), s.size());
          };
          // is_writable() looks at the socket (ExchangeStream::peer_closed),
          // one poll() each 50 ms: cheap beside what the stream does.
          w.wait = [&sink](std::chrono::milliseconds d) {
            constexpr auto kStep = std::chrono::milliseconds(50);
            for (auto left = d; left.count() > 0; left -= kStep) {
              if (!sink.is_writable()) return false;
              std::this_thread::sleep_for(std::min(left, kStep));
            }
            return sink.is_writable();
          };
          stream(w);
        } catch (...) {
          // The connection ends; nothing more can be said to the client.
        }
        sink.done();
        return true;
      });
      return;
    }
    out.set_content(resp.body, resp.content_type.c_str());
  };
}

}  // namespace

std::string json_error(std::string_view message) {
  return nlohmann::json{{"error", std::string(message)}}.dump(-1, ' ', false,
                                                               nlohmann::json::error_handler_t::replace);
}

std::string Request::param(const std::string& key, const std::string& fallback) const {
  auto it = params.find(key);
  return it == params.end() ? fallback : it->second;
}

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequal(k, name)) return v;
  return "";
}

std::string Request::cookie(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (!iequal(k, "cookie")) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view part = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      size_t eq = part.find('=');
      if (eq != std::string_view::npos && part.substr(0, eq) == name) return std::string(part.substr(eq + 1));
    }
  }
  return "";
}

struct HttpServer::Impl {
  Server server;
  Defaults defaults;
  Handler gate;
  size_t threads;
  tls::ServerContext* tls = nullptr;
  std::unique_ptr<HttpConnections> connections;
};

HttpServer::HttpServer(size_t threads) : impl_(std::make_unique<Impl>()) {
  impl_->threads = threads;
  impl_->server.set_payload_max_length(HttpLimits{}.max_body_bytes);
  impl_->server.set_error_handler([this](const httplib::Request& in, httplib::Response& out) {
    apply_defaults(impl_->defaults, out);
    if (!out.body.empty()) return;
    if (in.path.rfind("/api/", 0) == 0 || in.path == "/api")
      out.set_content(json_error(out.status == 404 ? "not found" : "request failed"), "application/json");
    else
      out.set_content(out.status == 404 ? "not found\n" : "request failed\n", "text/plain; charset=utf-8");
  });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::get(const std::string& pattern, Handler h) {
  impl_->server.Get(pattern, adapt(std::move(h), impl_->defaults, impl_->gate));
}
void HttpServer::post(const std::string& pattern, Handler h) {
  impl_->server.Post(pattern, adapt(std::move(h), impl_->defaults, impl_->gate));
}
void HttpServer::put(const std::string& pattern, Handler h) {
  impl_->server.Put(pattern, adapt(std::move(h), impl_->defaults, impl_->gate));
}
void HttpServer::del(const std::string& pattern, Handler h) {
  impl_->server.Delete(pattern, adapt(std::move(h), impl_->defaults, impl_->gate));
}
void HttpServer::set_default_headers(std::multimap<std::string, std::string> headers) {
  impl_->defaults = std::move(headers);
}
void HttpServer::set_gate(Handler gate) { impl_->gate = std::move(gate); }
void HttpServer::use_tls(tls::ServerContext* tls) { impl_->tls = tls; }

bool HttpServer::start(const sockaddr_storage& addr, std::string& error) {
  std::string host = host_of(addr);
  int want = port_of(addr);
  std::string shown = (addr.ss_family == AF_INET6 ? "[" + host + "]" : host) + ":" + std::to_string(want);
  auto fail = [&](int fd) {
    error = "cannot listen on " + shown + " (http): " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  };
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(fd);
  // SO_REUSEADDR only (restarts across TIME_WAIT); SO_REUSEPORT would let
  // two servers share the port unnoticed.
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len = addr.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 || ::listen(fd, 128) != 0) return fail(fd);
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  port_ = port_of(bound);
  impl_->connections = std::make_unique<HttpConnections>(HttpLimits{}, impl_->threads, [this](const HttpExchange& x) {
    ExchangeStream strm(x);
    bool closed = false;
    bool ok = impl_->server.process_request(strm, false, closed, without_brotli);
    return ok && !closed;
  });
  impl_->server.set_listening(fd);
  if (impl_->tls) impl_->connections->use_tls(impl_->tls);
  impl_->connections->start(fd);
  return true;
}

HttpServer::RawExchange HttpServer::handle_raw(std::string_view raw, const std::string& remote_addr) {
  RawStream strm(raw, remote_addr);
  for (int i = 0; i < 8 && !strm.at_end(); ++i) {
    strm.next_response();
    bool closed = false;
    if (!impl_->server.process_request(strm, false, closed, without_brotli) || closed) break;
  }
  return strm.take();
}

void HttpServer::stop() {
  if (!impl_ || !impl_->connections) return;
  impl_->server.set_listening(INVALID_SOCKET);  // ends streamed bodies
  impl_->connections->stop();
}

namespace {

size_t append_body(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  // /metrics and the API's answers are small; a runaway reply is cut off.
  if (body->size() + size * n > (size_t(16) << 20)) return 0;
  body->append(data, size * n);
  return size * n;
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

}  // namespace

std::optional<std::string> local_get(const std::string& listen, const std::string& path, std::string& why) {
  // "https://ADDR" asks over TLS; a bare address tries plain HTTP first and
  // TLS when what answers is not HTTP (http.tls = true).
  std::string address = listen;
  bool tls = false;
  if (address.rfind("https://", 0) == 0) {
    address.erase(0, 8);
    tls = true;
  } else if (address.rfind("http://", 0) == 0) {
    address.erase(0, 7);
  }
  sockaddr_storage to{};
  if (!parse_address(address, 8080, to, why)) return std::nullopt;
  if (to.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&to);
    if (a->sin_addr.s_addr == htonl(INADDR_ANY)) a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else if (to.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&to);
    if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr)) a->sin6_addr = in6addr_loopback;
  }
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) {
    why = "cannot start an HTTP client";
    return std::nullopt;
  }
  for (bool https : {tls, true}) {
    const std::string where = (https ? "https://" : "http://") + format_address(to) + path;
    std::string body;
    CURL* c = curl.get();
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, where.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    // The address is this host's own listener, reached by its address: the
    // certificate names the server's DNS name, not 127.0.0.1, and nothing
    // leaves the host, so there is no one in the middle to check for.
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    const CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      if (status == 200) return body;
      why = where + " answered " + std::to_string(status);
      return std::nullopt;
    }
    // Nothing listening, or no answer in time: TLS would fare no better.
    const bool unreachable = rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT;
    if (https || unreachable) {
      why = "cannot reach " + where + " (" +
            (rc == CURLE_COULDNT_CONNECT ? std::string("nothing accepts connections there")
                                         : "HTTP client error: " + std::string(curl_easy_strerror(rc))) +
            "); is hush serve running with the HTTP listener on?";
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace hush::web

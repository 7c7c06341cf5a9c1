#include "http_server.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

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

httplib::Server::Handler adapt(Handler h) {
  return [h = std::move(h)](const httplib::Request& in, httplib::Response& out) {
    Request r;
    r.method = in.method;
    r.path = in.path;
    r.params = {in.params.begin(), in.params.end()};
    for (const auto& m : in.matches) r.matches.push_back(m.str());
    r.body = in.body;
    r.remote_addr = in.remote_addr;
    Response resp;
    try {
      resp = h(r);
    } catch (const std::exception& e) {
      resp = Response{500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n", {}};
    }
    out.status = resp.status;
    for (const auto& [k, v] : resp.headers) out.set_header(k, v);
    out.set_content(resp.body, resp.content_type.c_str());
  };
}

}  // namespace

std::string Request::param(const std::string& key, const std::string& fallback) const {
  auto it = params.find(key);
  return it == params.end() ? fallback : it->second;
}

struct HttpServer::Impl {
  httplib::Server server;
};

HttpServer::HttpServer(size_t threads) : impl_(std::make_unique<Impl>()) {
  impl_->server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl_->server.set_read_timeout(5, 0);
  impl_->server.set_write_timeout(5, 0);
  impl_->server.set_keep_alive_timeout(5);
  impl_->server.set_payload_max_length(1 << 20);
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::get(const std::string& pattern, Handler h) { impl_->server.Get(pattern, adapt(std::move(h))); }
void HttpServer::post(const std::string& pattern, Handler h) { impl_->server.Post(pattern, adapt(std::move(h))); }

bool HttpServer::start(const sockaddr_storage& addr, std::string& error) {
  std::string host = host_of(addr);
  int want = port_of(addr);
  std::string shown = (addr.ss_family == AF_INET6 ? "[" + host + "]" : host) + ":" + std::to_string(want);
  // SO_REUSEADDR only (restarts across TIME_WAIT); httplib's default also
  // sets SO_REUSEPORT, which would let two servers share the port unnoticed.
  impl_->server.set_socket_options([](int sock) {
    int one = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  });
  errno = 0;
  bool ok = want == 0 ? (port_ = impl_->server.bind_to_any_port(host)) > 0
                      : impl_->server.bind_to_port(host, want);
  if (!ok) {
    error = "cannot listen on " + shown + " (http)" + (errno ? std::string(": ") + std::strerror(errno) : "");
    return false;
  }
  if (want != 0) port_ = want;
  thread_ = std::thread([this] { impl_->server.listen_after_bind(); });
  return true;
}

void HttpServer::stop() {
  if (!impl_) return;
  impl_->server.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace hush::web

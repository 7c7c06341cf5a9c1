// A small HTTP server on its own threads, for /metrics, the dashboard and its
// JSON API. Routes are added before start(); each handler runs on one of the
// server's threads and must be thread-safe. The DNS workers never wait for
// anything here.
//
// Failure model: a handler that throws gets a 500 with a short JSON body
// ({"error": "..."}), never a stack trace; an unknown path gets a 404 (JSON
// under /api/, text elsewhere).
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tls/server_context.hpp"

namespace hush::web {

struct Request {
  std::string method;
  std::string path;
  std::multimap<std::string, std::string> params;   // the query string
  std::multimap<std::string, std::string> headers;  // names as sent (look up with header())
  std::vector<std::string> matches;                 // captures of the route's pattern; [0] is the path
  std::string body;
  std::string remote_addr;

  // The first value of query parameter `key`, or `fallback`.
  std::string param(const std::string& key, const std::string& fallback = "") const;
  // The first value of header `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
  // The value of cookie `name` from the Cookie header, or "".
  std::string cookie(std::string_view name) const;
};

// What a streamed body writes with. write(piece): false once the client is
// gone (it closed the connection, or stopped reading). wait(d): a stream
// with nothing to say waits here, and learns within 50 ms that the client
// closed the connection (false), so whatever it holds is freed then, not at
// its next write.
struct StreamWrite {
  std::function<bool(std::string_view)> write;
  std::function<bool(std::chrono::milliseconds)> wait;
  bool operator()(std::string_view piece) const { return write(piece); }
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::multimap<std::string, std::string> headers;
  // When set, the body is sent in chunks as this function writes them (for
  // server-sent events); it runs on the handler's thread until it returns.
  std::function<void(const StreamWrite&)> stream;
};

using Handler = std::function<Response(const Request&)>;

class HttpServer {
 public:
  // `threads`: how many requests are handled at once. Connections beyond
  // that cost no thread until a whole request has arrived (see
  // http_connections.hpp for the bounds).
  explicit HttpServer(size_t threads = 2);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Adds a route; `pattern` is a regular expression over the path
  // ("/metrics", "/api/clients/([^/]+)"). Call before start().
  void get(const std::string& pattern, Handler h);
  void post(const std::string& pattern, Handler h);
  void put(const std::string& pattern, Handler h);
  void del(const std::string& pattern, Handler h);
  // Headers added to every response (a handler's own headers win).
  void set_default_headers(std::multimap<std::string, std::string> headers);
  // Runs before every route's handler; a response with a status other than
  // 0 is sent instead of calling the handler. Call before start().
  void set_gate(Handler gate);
  // HTTPS with the current certificate of `tls` (outlives the server; read
  // again when its files change). Call before start().
  void use_tls(tls::ServerContext* tls);

  // Binds `addr` (address and port; port 0 picks a free one) and serves on
  // a thread of its own. Returns false, with `error` naming the address and
  // the reason, when it cannot bind.
  bool start(const sockaddr_storage& addr, std::string& error);
  // The port bound by start().
  int port() const { return port_; }
  // Stops taking connections, finishes the requests being handled, joins
  // the threads. Safe to call twice.
  void stop();

  // Handles the requests in `raw` (HTTP/1.1 bytes as a client sends them on
  // one connection, at most 8) through the same parser, routes and default
  // headers as a connection, on the calling thread, without a socket. The
  // client reads each head and at most the first piece of a body, so a live
  // view returns at once (before start(), httplib runs no streamed body at
  // all). For tests and fuzzing.
  struct RawExchange {
    std::string bytes;          // what went back, as sent
    std::vector<int> statuses;  // of each response, in order
  };
  RawExchange handle_raw(std::string_view raw, const std::string& remote_addr = "127.0.0.1");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// {"error": message} as a JSON text (message escaped).
std::string json_error(std::string_view message);

// GETs `path` from the hush listening on `listen` (its http.listen: a
// wildcard address is asked on loopback), with 5 s timeouts, over HTTP or,
// when that listener speaks TLS (http.tls) or `listen` starts with
// https://, over HTTPS. Returns the body of a 200, or nullopt with `why`
// saying what failed and where.
std::optional<std::string> local_get(const std::string& listen, const std::string& path, std::string& why);

}  // namespace hush::web

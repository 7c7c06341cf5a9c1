// Downloading one list (libcurl): HTTPS, bounded redirects, gzip, a size cap,
// connect and total timeouts, conditional GET (ETag / If-Modified-Since) and
// file:// URLs. The body goes to a file, never whole into memory.
//
// Failure model: fetch() never throws; every failure (network, HTTP status,
// size cap, timeout, a binary body) comes back as Status::Failed with a one-
// line reason in `error`. The destination file then holds a partial body that
// the caller must delete (fetch() deletes it itself when it can).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace hush::blocklists::subs {

struct FetchOptions {
  uint64_t max_bytes = 50ull << 20;  // decoded body; more is a failure
  long connect_timeout_s = 15;
  long total_timeout_s = 300;
  long max_redirects = 5;
  std::string etag;            // sent as If-None-Match when not empty
  int64_t last_modified = 0;   // unix seconds; sent as If-Modified-Since when > 0
  // Called now and then with bytes received and expected (0 = unknown).
  // Returning false aborts the download ("cancelled").
  std::function<bool(uint64_t received, uint64_t expected)> progress;
  const std::atomic<bool>* stop = nullptr;  // set -> abort soon ("cancelled")
};

struct FetchResult {
  enum class Status { Ok, NotModified, Failed };
  Status status = Status::Failed;
  long http_code = 0;          // 0 for file:// and transport failures
  std::string error;           // Failed: why, one line
  std::string etag;            // from the answer ("" if none)
  int64_t last_modified = 0;   // from the answer (0 if none)
  uint64_t bytes = 0;          // decoded body bytes written
  std::string content_type;
  std::string effective_url;   // after redirects
};

// Global libcurl set-up; call once before any thread downloads (fetch() calls
// it too, guarded by std::call_once).
void init_curl();

// Downloads `url` (http, https or file) into `dest` (created/truncated).
FetchResult fetch(const std::string& url, const std::string& dest, const FetchOptions& opts);

// Checks a downloaded body before it may replace a list: "" if it looks like
// a list, else the reason ("an HTML page", "a binary file (NUL bytes)").
std::string sniff_body(const std::string& text);

}  // namespace hush::blocklists::subs

#include "hush/blocklists/subscriptions/download.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "base/memory.hpp"

namespace hush::blocklists::subs {

namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

// What the callbacks share during one transfer.
struct Transfer {
  FILE* out = nullptr;
  uint64_t max_bytes = 0;
  uint64_t written = 0;
  bool too_large = false;
  bool write_failed = false;
  bool binary = false;      // a NUL byte in the body
  std::string etag;
  const FetchOptions* opts = nullptr;
  bool cancelled = false;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (t->written + len > t->max_bytes) {
    t->too_large = true;
    return 0;  // aborts with CURLE_WRITE_ERROR
  }
  if (std::memchr(data, '\0', len)) {
    t->binary = true;
    return 0;
  }
  if (std::fwrite(data, 1, len, t->out) != len) {
    t->write_failed = true;
    return 0;
  }
  t->written += len;
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  std::string_view line(data, len);
  // A redirect's headers come first; the last response's ETag wins.
  if (line.rfind("HTTP/", 0) == 0) t->etag.clear();
  constexpr std::string_view key = "etag:";
  if (line.size() > key.size()) {
    bool match = true;
    for (size_t i = 0; i < key.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(line[i])) != key[i]) match = false;
    if (match) {
      std::string_view v = line.substr(key.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      t->etag = std::string(v);
    }
  }
  return len;
}

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->opts->stop && t->opts->stop->load(std::memory_order_relaxed)) {
    t->cancelled = true;
    return 1;
  }
  if (t->opts->progress && !t->opts->progress(uint64_t(dlnow), uint64_t(dltotal))) {
    t->cancelled = true;
    return 1;
  }
  return 0;
}


}  // namespace

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

FetchResult fetch(const std::string& url, const std::string& dest, const FetchOptions& opts) {
  init_curl();
  FetchResult r;
  std::unique_ptr<FILE, FileCloser> out(std::fopen(dest.c_str(), "wb"));
  if (!out) {
    r.error = "cannot write " + dest + ": " + std::strerror(errno);
    return r;
  }
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    r.error = "libcurl could not start";
    return r;
  }
  CURL* c = curl.get();
  Transfer t;
  t.out = out.get();
  t.max_bytes = opts.max_bytes;
  t.opts = &opts;
  char errbuf[CURL_ERROR_SIZE] = {};
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  if (!opts.etag.empty())
    headers.reset(curl_slist_append(nullptr, ("If-None-Match: " + opts.etag).c_str()));

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");  // never from http to file://
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, opts.max_redirects);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // every encoding libcurl can decode
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, opts.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, opts.total_timeout_s);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 0L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "hush (DNS sinkhole; list subscriptions)");
  // Refuse early when the server announces a body over the cap; the write
  // callback enforces the cap on the decoded bytes either way.
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(opts.max_bytes));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  // If-None-Match wins over If-Modified-Since (RFC 9110), and libcurl drops
  // a 200 body itself when the date condition fails: send the date only for
  // hosts without ETags.
  if (opts.last_modified > 0 && opts.etag.empty()) {
    curl_easy_setopt(c, CURLOPT_TIMECONDITION, long(CURL_TIMECOND_IFMODSINCE));
    curl_easy_setopt(c, CURLOPT_TIMEVALUE_LARGE, curl_off_t(opts.last_modified));
  }

  CURLcode rc = curl_easy_perform(c);
  bool flushed = std::fflush(out.get()) == 0;
  out.reset();
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  r.http_code = code;
  curl_off_t filetime = -1;
  if (curl_easy_getinfo(c, CURLINFO_FILETIME_T, &filetime) == CURLE_OK && filetime > 0)
    r.last_modified = int64_t(filetime);
  char* ct = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) r.content_type = ct;
  char* eff = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) r.effective_url = eff;
  r.etag = t.etag;
  r.bytes = t.written;

  auto fail = [&](std::string why) {
    r.status = FetchResult::Status::Failed;
    r.error = std::move(why);
    std::remove(dest.c_str());
    return r;
  };
  if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED)
    return fail("larger than the limit of " + memory::mib_text(double(opts.max_bytes)) + " (subscriptions.max_bytes)");
  if (t.binary) return fail("a binary file (NUL bytes), not a list");
  if (t.write_failed || !flushed) return fail("cannot write " + dest + ": " + std::strerror(errno));
  if (t.cancelled) return fail("cancelled");
  if (rc == CURLE_TOO_MANY_REDIRECTS)
    return fail("more than " + std::to_string(opts.max_redirects) + " redirects");
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return fail(std::string("timed out (") + (errbuf[0] ? errbuf : curl_easy_strerror(rc)) + ")");
  if (rc == CURLE_PARTIAL_FILE)
    return fail(std::string("the connection closed before the whole list arrived (") +
                (errbuf[0] ? errbuf : curl_easy_strerror(rc)) + ")");
  if (rc != CURLE_OK) return fail(errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(rc)));

  bool http = url.rfind("http", 0) == 0;
  long unmet = 0;
  curl_easy_getinfo(c, CURLINFO_CONDITION_UNMET, &unmet);
  if ((http && code == 304) || (unmet && t.written == 0)) {
    std::remove(dest.c_str());
    r.status = FetchResult::Status::NotModified;
    return r;
  }
  if (http && (code < 200 || code >= 300)) return fail("HTTP " + std::to_string(code));
  r.status = FetchResult::Status::Ok;
  return r;
}

std::string sniff_body(const std::string& text) {
  if (text.find('\0') != std::string::npos) return "a binary file (NUL bytes), not a list";
  // Look at the start only: HTML error pages announce themselves at once.
  std::string head;
  for (size_t i = 0; i < text.size() && head.size() < 512; ++i)
    head += char(std::tolower(static_cast<unsigned char>(text[i])));
  size_t p = head.find_first_not_of(" \t\r\n\xef\xbb\xbf");
  if (p != std::string::npos) {
    std::string_view s = std::string_view(head).substr(p);
    if (s.rfind("<!doctype html", 0) == 0 || s.rfind("<html", 0) == 0 || s.rfind("<head", 0) == 0 ||
        s.rfind("<?xml", 0) == 0 || s.rfind("<body", 0) == 0)
      return "an HTML page, not a list";
  }
  if (head.find("<html") != std::string::npos && head.find("</") != std::string::npos)
    return "an HTML page, not a list";
  return "";
}

}  // namespace hush::blocklists::subs

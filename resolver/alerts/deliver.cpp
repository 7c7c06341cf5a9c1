#include "alerts/deliver.hpp"

#include <curl/curl.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "base/clock.hpp"

namespace hush::alerts {

namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

void add_header(Slist& list, const std::string& line) { list.reset(curl_slist_append(list.release(), line.c_str())); }

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

struct Upload {
  const std::string* text;
  size_t at = 0;
};
size_t read_upload(char* buf, size_t size, size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  size_t len = std::min(size * n, u->text->size() - u->at);
  std::memcpy(buf, u->text->data() + u->at, len);
  u->at += len;
  return len;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* stop = static_cast<const std::atomic<bool>*>(user);
  return stop && stop->load() ? 1 : 0;
}

nlohmann::json event_json(const Event& e) {
  nlohmann::json j{{"event", kind_name(e.kind)}, {"key", e.key}, {"title", e.title}, {"text", e.text},
                   {"time", e.time_ms / 1000}};
  for (const auto& [k, v] : e.fields) j["fields"][k] = v;
  return j;
}

// Header values are one line: a title with a newline would end the header.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\r' || c == '\n') c = ' ';
  return s;
}

std::string rfc5322_date(int64_t now_ms) {
  std::time_t t = std::time_t(now_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

}  // namespace

std::string webhook_body(const Message& m) {
  nlohmann::json j;
  if (m.digest()) {
    j = {{"event", "digest"}, {"title", m.title}, {"text", m.text}, {"more", m.more}};
    j["events"] = nlohmann::json::array();
    for (const Event& e : m.events) j["events"].push_back(event_json(e));
  } else {
    j = event_json(m.events.at(0));
  }
  return j.dump();
}

std::string email_text(const SinkSettings& s, const Message& m, int64_t now_ms) {
  std::string to;
  for (const std::string& a : s.to) to += (to.empty() ? "" : ", ") + a;
  std::string body;
  // Dot-stuffing is libcurl's; lines end in CRLF as SMTP wants.
  for (size_t i = 0; i < m.text.size(); ++i) body += m.text[i] == '\n' ? std::string("\r\n") : std::string(1, m.text[i]);
  return "Date: " + rfc5322_date(now_ms) + "\r\nFrom: " + s.from + "\r\nTo: " + to + "\r\nSubject: " +
         one_line(m.title) + "\r\nContent-Type: text/plain; charset=utf-8\r\nMIME-Version: 1.0\r\n\r\n" + body +
         "\r\n";
}

std::string deliver(const SinkSettings& s, const Message& m, long timeout_s, const std::atomic<bool>* stop) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return "cannot start libcurl";
  CURL* c = curl.get();
  char errbuf[CURL_ERROR_SIZE] = "";
  Slist headers;
  std::string body;
  const std::string* upload = nullptr;
  curl_easy_setopt(c, CURLOPT_URL, s.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, std::min(timeout_s, 5L));
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "hush (DNS sinkhole; alerts)");
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, stop);
  if (!s.header.empty()) add_header(headers, s.header);
  if (!s.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, s.ca_file.c_str());
  if (s.kind == "email") {
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_USE_SSL, s.plain ? long(CURLUSESSL_NONE) : long(CURLUSESSL_ALL));
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, ("<" + s.from + ">").c_str());
    Slist rcpt;
    for (const std::string& a : s.to) add_header(rcpt, "<" + a + ">");
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
    if (!s.username.empty()) {
      curl_easy_setopt(c, CURLOPT_USERNAME, s.username.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, s.password.c_str());
    }
    body = email_text(s, m, now_us() / 1000);
    Upload up{&body};
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) return *errbuf ? errbuf : curl_easy_strerror(rc);
    return "";
  }
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (s.kind == "webhook") {
    body = webhook_body(m);
    add_header(headers, "Content-Type: application/json");
  } else {
    body = m.text.empty() ? m.title : m.text;
    add_header(headers, "Title: " + one_line(m.title));
    add_header(headers, "Content-Type: text/plain; charset=utf-8");
  }
  upload = &body;
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, upload->c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, long(upload->size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) return *errbuf ? errbuf : curl_easy_strerror(rc);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300) return "HTTP " + std::to_string(status);
  return "";
}

}  // namespace hush::alerts

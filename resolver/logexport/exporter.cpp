#include "logexport/exporter.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <vector>
#include <nlohmann/json.hpp>

#include "base/address.hpp"
#include "base/log.hpp"
#include "base/qtype.hpp"

namespace hush::logexport {

using json = nlohmann::json;

namespace {

constexpr size_t kBatch = 4096;
constexpr auto kRetry = std::chrono::seconds(1);

// A socket to the syslog receiver, opened again a second after it failed.
class SyslogSink {
 public:
  SyslogSink(std::string target, std::string local_socket)
      : target_(std::move(target)), local_socket_(std::move(local_socket)) {}
  ~SyslogSink() { close_fd(); }

  // Sends the messages; false when they (or some) were not sent.
  bool send(const std::vector<std::string>& messages) {
    if (!ready()) return false;
    if (tcp_) {
      // RFC 6587 octet counting: "LENGTH SP MESSAGE", one write for the batch.
      std::string framed;
      for (const std::string& m : messages) framed += std::to_string(m.size()) + " " + m;
      for (size_t at = 0; at < framed.size();) {
        ssize_t n = ::send(fd_, framed.data() + at, framed.size() - at, MSG_NOSIGNAL);
        if (n <= 0) return failed("writing");
        at += size_t(n);
      }
      return true;
    }
    // One datagram a line, up to 64 in a system call.
    bool all = true;
    std::vector<iovec> iov(std::min<size_t>(messages.size(), 64));
    std::vector<mmsghdr> msgs(iov.size());
    for (size_t at = 0; at < messages.size();) {
      size_t n = std::min(iov.size(), messages.size() - at);
      for (size_t i = 0; i < n; ++i) {
        iov[i] = {const_cast<char*>(messages[at + i].data()), messages[at + i].size()};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int sent = ::sendmmsg(fd_, msgs.data(), unsigned(n), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent <= 0) {
        // A datagram receiver that is not listening answers with ICMP; the
        // next send reports it. Keep the socket; count the line.
        if (errno != ECONNREFUSED && errno != EAGAIN && errno != EWOULDBLOCK) return failed("sending");
        all = false;
        sent = 1;
      }
      at += size_t(sent);
    }
    return all;
  }

 private:
  bool ready() {
    if (fd_ >= 0) return true;
    auto now = std::chrono::steady_clock::now();
    if (now < next_try_) return false;
    next_try_ = now + kRetry;
    sockaddr_storage ss{};
    socklen_t len = 0;
    int type = SOCK_DGRAM;
    if (target_ == "local") {
      auto* un = reinterpret_cast<sockaddr_un*>(&ss);
      un->sun_family = AF_UNIX;
      snprintf(un->sun_path, sizeof un->sun_path, "%s", local_socket_.c_str());
      len = sizeof(sockaddr_un);
    } else {
      tcp_ = target_.rfind("tcp://", 0) == 0;
      type = tcp_ ? SOCK_STREAM : SOCK_DGRAM;
      std::string why;
      if (!parse_address(target_.substr(6), 514, ss, why)) return false;
      len = ss.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    }
    fd_ = ::socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return failed("opening a socket for");
    timeval tv{1, 0};  // a receiver that stops reading holds the exporter a second at most
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) return failed("connecting to");
    if (said_away_) log::info("export: syslog receiver ", target_, " is back");
    said_away_ = false;
    return true;
  }

  bool failed(const char* what) {
    if (!said_away_) log::warn("export: ", what, " syslog receiver ", target_, ": ", strerror(errno),
                               "; lines are dropped until it is back");
    said_away_ = true;
    close_fd();
    return false;
  }

  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::string target_, local_socket_;
  int fd_ = -1;
  bool tcp_ = false;
  bool said_away_ = false;
  std::chrono::steady_clock::time_point next_try_{};
};

// The file, renamed to FILE.1 (and FILE.1 to FILE.2 ...) when it would pass its size.
class FileSink {
 public:
  FileSink(std::string path, uint64_t max_bytes, unsigned kept) : path_(std::move(path)), max_(max_bytes), kept_(kept) {}
  ~FileSink() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Whole lines only: the file is rotated between two lines, before the
  // one that would take it past its size.
  bool write(std::string_view lines) {
    while (!lines.empty()) {
      if (fd_ < 0 && !open()) return false;
      size_t room = max_ > size_ ? size_t(max_ - size_) : 0;
      size_t take = lines.size();
      if (take > room) {
        size_t nl = room ? lines.rfind('\n', room - 1) : std::string_view::npos;
        take = nl == std::string_view::npos ? 0 : nl + 1;
      }
      if (take == 0) {
        // Not even one line fits: a new file, or one line alone in an empty one.
        if (size_ > 0) {
          rotate();
          continue;
        }
        size_t nl = lines.find('\n');
        take = nl == std::string_view::npos ? lines.size() : nl + 1;
      }
      if (!put(lines.substr(0, take))) return false;
      lines.remove_prefix(take);
    }
    return true;
  }

 private:
  bool put(std::string_view bytes) {
    for (size_t at = 0; at < bytes.size();) {
      ssize_t n = ::write(fd_, bytes.data() + at, bytes.size() - at);
      if (n <= 0) {
        log::warn("export: writing ", path_, ": ", strerror(errno));
        ::close(fd_);
        fd_ = -1;
        return false;
      }
      at += size_t(n);
      size_ += uint64_t(n);
    }
    return true;
  }

  bool open() {
    auto now = std::chrono::steady_clock::now();
    if (now < next_try_) return false;
    next_try_ = now + kRetry;
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd_ < 0) {
      log::warn("export: cannot open ", path_, ": ", strerror(errno));
      return false;
    }
    struct stat st{};
    size_ = ::fstat(fd_, &st) == 0 ? uint64_t(st.st_size) : 0;
    return true;
  }

  void rotate() {
    ::close(fd_);
    fd_ = -1;
    for (unsigned i = kept_; i > 1; --i)
      ::rename((path_ + "." + std::to_string(i - 1)).c_str(), (path_ + "." + std::to_string(i)).c_str());
    ::rename(path_.c_str(), (path_ + ".1").c_str());
    next_try_ = {};
  }

  std::string path_;
  uint64_t max_;
  unsigned kept_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::chrono::steady_clock::time_point next_try_{};
};

}  // namespace

struct Exporter::Sinks {
  std::unique_ptr<SyslogSink> syslog;
  std::unique_ptr<FileSink> file;
};

namespace {

// Appends "key":"text" with JSON escapes. False when `text` has a byte
// past ASCII, which the caller leaves to the JSON library (it replaces
// what is not UTF-8).
bool put_text(std::string& out, const char* key, std::string_view text) {
  out += '"';
  out += key;
  out += "\":\"";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) return false;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", u);
      out += esc;
    } else {
      out += c;
    }
  }
  out += "\",";
  return true;
}

std::string json_line_by_library(const querylog::Record& r, bool anonymous) {
  json j{{"time_ms", r.time_us / 1000},
         {"type", qtype_name(r.qtype)},
         {"transport", transport_name(r.transport)},
         {"status", querylog::to_string(r.status)},
         {"rcode", r.rcode == 0xffff ? -1 : int(r.rcode)},
         {"latency_ms", r.latency_us / 1000.0}};
  if (!anonymous) {
    j["client"] = r.client_text();
    j["domain"] = std::string(r.name());
    j["reason"] = std::string(r.reason());
    j["upstream"] = std::string(r.upstream());
    j["answer"] = querylog::answer_text(r.answer());
    if (!r.client_id().empty()) j["client_id"] = std::string(r.client_id());
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

// Written by hand, keys in the order the JSON library sorts them: building
// a library object per line cost more than the rest of the export together
// (tests/bench/exportcost.sh: 3.7 us of CPU per answer for the file export).
std::string json_line(const querylog::Record& r, bool anonymous) {
  std::string out;
  out.reserve(256);
  out += '{';
  bool ascii = true;
  if (!anonymous) {
    ascii = put_text(out, "answer", querylog::answer_text(r.answer())) && put_text(out, "client", r.client_text());
    if (ascii && !r.client_id().empty()) ascii = put_text(out, "client_id", r.client_id());
    ascii = ascii && put_text(out, "domain", r.name());
  }
  char num[96];
  snprintf(num, sizeof num, "\"latency_ms\":%.3f,\"rcode\":%d,", r.latency_us / 1000.0, r.rcode == 0xffff ? -1 : int(r.rcode));
  out += num;
  if (!anonymous) ascii = ascii && put_text(out, "reason", r.reason());
  ascii = ascii && put_text(out, "status", querylog::to_string(r.status));
  snprintf(num, sizeof num, "\"time_ms\":%lld,", static_cast<long long>(r.time_us / 1000));
  out += num;
  ascii = ascii && put_text(out, "transport", transport_name(r.transport)) && put_text(out, "type", qtype_name(r.qtype));
  if (!anonymous) ascii = ascii && put_text(out, "upstream", r.upstream());
  if (!ascii) return json_line_by_library(r, anonymous);
  out.back() = '}';
  return out;
}

std::string syslog_message(const std::string& line, int64_t time_us, const std::string& hostname) {
  time_t secs = time_t(time_us / 1000000);
  tm parts{};
  gmtime_r(&secs, &parts);
  char stamp[40];
  size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &parts);
  snprintf(stamp + n, sizeof stamp - n, ".%06dZ", int(time_us % 1000000));
  // <134>: facility local0 (16), severity informational (6).
  return "<134>1 " + std::string(stamp) + " " + (hostname.empty() ? "-" : hostname) + " hush - query - " + line;
}

Exporter::Exporter(Settings s, size_t workers)
    : settings_(std::move(s)),
      privacy_(settings_.ignore_clients, settings_.ignore_domains),
      queue_(workers, settings_.queue_per_worker),
      sinks_(std::make_unique<Sinks>()) {
  if (settings_.hostname.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) settings_.hostname = host;
  }
  if (!settings_.syslog.empty()) sinks_->syslog = std::make_unique<SyslogSink>(settings_.syslog, settings_.local_socket);
  if (!settings_.file.empty())
    sinks_->file = std::make_unique<FileSink>(settings_.file, settings_.max_file_bytes, settings_.files_kept);
  thread_ = std::thread([this] { run(); });
}

Exporter::~Exporter() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

Stats Exporter::stats() const {
  return {sent_.load(std::memory_order_relaxed), failed_.load(std::memory_order_relaxed) + queue_.dropped()};
}

bool Exporter::hidden(const querylog::Record& r) const {
  return privacy_.hides_domain(r.name()) || privacy_.hides_client(r.client_text(), "", "");
}

void Exporter::run() {
  std::vector<std::string> messages;
  std::string lines;
  while (true) {
    bool stopping = stop_.load();
    messages.clear();
    lines.clear();
    queue_.drain(
        [&](const querylog::Record& r) {
          if (hidden(r)) return;
          std::string line = json_line(r, settings_.anonymous);
          if (sinks_->syslog) messages.push_back(syslog_message(line, r.time_us, settings_.hostname));
          if (sinks_->file) lines += line + "\n";
        },
        kBatch);
    size_t count = std::max(messages.size(), size_t(std::count(lines.begin(), lines.end(), '\n')));
    if (count == 0) {
      if (stopping) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    bool ok = true;
    if (sinks_->syslog && !messages.empty()) ok = sinks_->syslog->send(messages) && ok;
    if (sinks_->file && !lines.empty()) ok = sinks_->file->write(lines) && ok;
    (ok ? sent_ : failed_).fetch_add(count, std::memory_order_relaxed);
  }
}

}  // namespace hush::logexport

// Query export: every logged query as one JSON line (the fields of
// /api/log, less the device the log's database assigns) to syslog (RFC
// 5424: the local /dev/log, or a remote UDP or TCP receiver) or to a file
// rotated when it reaches its size.
//
// The workers hand records to a querylog::LogQueue of the exporter's own
// (one ring per worker, never waiting; a full ring drops and counts); one
// thread formats and writes them. A receiver that is gone or a file that
// cannot be written costs dropped lines, counted, never an answer. The query
// log's privacy settings apply: ignored clients and domains are left out,
// and in anonymous mode a line carries no client, name, answer or rule.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "querylog/options.hpp"
#include "querylog/queue.hpp"
#include "querylog/record.hpp"

namespace hush::logexport {

struct Settings {
  std::string syslog;  // "local", "udp://ADDR:PORT", "tcp://ADDR:PORT" or ""
  std::string local_socket = "/dev/log";  // where "local" sends (the tests' own socket)
  std::string file;    // or "" (both may be set)
  uint64_t max_file_bytes = 64u << 20;
  unsigned files_kept = 3;
  size_t queue_per_worker = 8192;
  bool anonymous = false;
  std::vector<std::string> ignore_clients, ignore_domains;
  std::string hostname;  // RFC 5424's HOSTNAME ("" : gethostname)
};

struct Stats {
  uint64_t sent = 0;     // lines written
  uint64_t dropped = 0;  // lines lost: a ring full, the receiver away, a failed write
};

// The JSON text of one record, without a newline.
std::string json_line(const querylog::Record& r, bool anonymous);
// `line` as an RFC 5424 message: facility local0, severity info, app "hush".
std::string syslog_message(const std::string& line, int64_t time_us, const std::string& hostname);

class Exporter {
 public:
  Exporter(Settings s, size_t workers);
  ~Exporter();  // writes what is queued, then stops
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // The workers' rings (worker i logs to queue().producer(i)).
  querylog::LogQueue& queue() { return queue_; }
  Stats stats() const;

 private:
  struct Sinks;
  void run();
  bool hidden(const querylog::Record& r) const;

  Settings settings_;
  querylog::Privacy privacy_;
  querylog::LogQueue queue_;
  std::unique_ptr<Sinks> sinks_;
  std::atomic<uint64_t> sent_{0}, failed_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace hush::logexport

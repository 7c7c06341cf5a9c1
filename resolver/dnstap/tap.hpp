// dnstap export: each answer as a CLIENT_QUERY and a CLIENT_RESPONSE frame
// (protobuf over Frame Streams) to a collector on a Unix socket or a TCP
// address, with hush's verdict and list in the frames' `extra` field.
//
// A worker encodes its answer's two frames into one buffer and puts it in
// its own bounded ring (one producer, one consumer); it never waits. A full
// ring drops the answer's frames and counts them. One thread of the tap's
// own empties the rings and writes to the collector; while the collector is
// away it connects again every second and counts what it could not send as
// dropped, so a slow or gone collector costs no answer. The query log's
// privacy settings apply: ignored clients and domains are not sent, and in
// anonymous mode the frames carry neither the client's address nor the DNS
// messages (only the time, transport and verdict).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "querylog/options.hpp"
#include "querylog/record.hpp"

namespace hush::dnstap {

struct Settings {
  std::string socket_path;      // a Unix socket, or
  std::string tcp_host;         // a TCP address (numeric) and port
  std::string tcp_port;
  size_t queue_per_worker = 4096;  // answers waiting to be sent, per worker
  std::string identity, version;
  bool anonymous = false;
  std::vector<std::string> ignore_clients, ignore_domains;
};

struct Stats {
  uint64_t sent = 0;     // answers (two frames each) written to the collector
  uint64_t dropped = 0;  // answers not sent: ring full, collector away, write failed
};

struct Item;  // one answer's two frames, in the rings

class Tap {
 public:
  // Starts the writer thread; `workers` rings.
  Tap(Settings s, size_t workers);
  // Stops the thread; what is still queued is sent if the collector is there.
  ~Tap();
  Tap(const Tap&) = delete;
  Tap& operator=(const Tap&) = delete;

  // Worker `worker`'s answer `e` to the question `qname_wire`. Never blocks;
  // allocates one buffer of the frames' size, and only when the ring has room.
  void answer(size_t worker, const querylog::Event& e, const uint8_t* qname_wire, size_t qname_len);

  Stats stats() const;

 private:
  struct Ring;
  struct Writer;
  // The query log's privacy settings: an ignored domain or client address.
  bool hidden(const querylog::Event& e) const;
  void run();
  size_t drain(std::vector<Item>& out);

  Settings settings_;
  querylog::Privacy privacy_;
  std::vector<std::unique_ptr<Ring>> rings_;
  std::unique_ptr<Writer> writer_;
  std::atomic<uint64_t> sent_{0}, dropped_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace hush::dnstap

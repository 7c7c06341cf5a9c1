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
//
// With `forwarder` on, each question hush asks an upstream and the reply it
// takes from it go too, as a FORWARDER_QUERY and a FORWARDER_RESPONSE frame
// with the upstream's address (and the server as configured in `extra`),
// through the same rings. Not in anonymous mode, where the frames would
// carry nothing but the time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/socket.h>

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
  bool forwarder = false;  // also each exchange with an upstream
};

// One question hush asked an upstream and the reply it took.
struct Exchange {
  const sockaddr* server = nullptr;  // null: the address is not known (a server given by name)
  std::string_view server_text;      // as configured
  int protocol = 1;                  // the schema's SocketProtocol: 1 UDP, 2 TCP, 3 DOT, 4 DOH
  int64_t sent_us = 0, received_us = 0;  // wall clock
  std::string_view name;             // the question's name, for the ignored domains
  const uint8_t* qname_wire = nullptr;
  size_t qname_len = 0;
  uint16_t id = 0, qtype = 0, qclass = 1;
  bool rd = true, cd = false;
  const uint8_t* reply = nullptr;
  size_t reply_len = 0;
};

struct Stats {
  uint64_t sent = 0;     // answers or upstream exchanges (two frames each) written to the collector
  uint64_t dropped = 0;  // those not sent: ring full, collector away, write failed
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

  // Worker `worker`'s exchange with an upstream; a no-op unless `forwarder`
  // is on. Never blocks, as answer().
  void forwarded(size_t worker, const Exchange& x);
  bool forwarder() const { return settings_.forwarder && !settings_.anonymous; }

  Stats stats() const;

 private:
  struct Ring;
  struct Writer;
  // The query log's privacy settings: an ignored domain or client address.
  bool hidden(const querylog::Event& e) const;
  // Queues one item on `ring`, or frees it and counts the drop.
  void queue(Ring& ring, const Item& it);
  // Whether `ring` has room; counts the drop when it has not.
  bool room(Ring& ring);
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

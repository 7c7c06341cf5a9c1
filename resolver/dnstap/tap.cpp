#include "dnstap/tap.hpp"

#include <arpa/inet.h>
#include <fstrm.h>
#include <netinet/in.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "base/log.hpp"
#include "dnstap/dnstap.pb-c.h"

namespace hush::dnstap {

struct Item {
  uint8_t* data = nullptr;  // the query frame, then the response frame (malloc)
  uint32_t query_len = 0, response_len = 0;
};

// One producer (the worker), one consumer (the tap's thread).
struct Tap::Ring {
  explicit Ring(size_t capacity) : slots(capacity) {}
  std::vector<Item> slots;
  alignas(64) std::atomic<size_t> head{0};  // next to write (producer)
  alignas(64) std::atomic<size_t> tail{0};  // next to read (consumer)

  bool push(const Item& it) {
    size_t h = head.load(std::memory_order_relaxed);
    if (h - tail.load(std::memory_order_acquire) >= slots.size()) return false;
    slots[h % slots.size()] = it;
    head.store(h + 1, std::memory_order_release);
    return true;
  }
  bool pop(Item& it) {
    size_t t = tail.load(std::memory_order_relaxed);
    if (t == head.load(std::memory_order_acquire)) return false;
    it = slots[t % slots.size()];
    tail.store(t + 1, std::memory_order_release);
    return true;
  }
};

// The Frame Streams connection: opened again a second after it failed.
struct Tap::Writer {
  const Settings& s;
  fstrm_writer* w = nullptr;
  std::chrono::steady_clock::time_point next_try{};
  bool said_away = false;

  explicit Writer(const Settings& settings) : s(settings) {}
  ~Writer() { close(); }

  void close() {
    if (w) fstrm_writer_destroy(&w);
    w = nullptr;
  }

  fstrm_writer* make() {
    static const char kType[] = "protobuf:dnstap.Dnstap";
    fstrm_writer_options* wopt = fstrm_writer_options_init();
    fstrm_writer_options_add_content_type(wopt, kType, sizeof kType - 1);
    fstrm_writer* out = nullptr;
    if (!s.socket_path.empty()) {
      fstrm_unix_writer_options* u = fstrm_unix_writer_options_init();
      fstrm_unix_writer_options_set_socket_path(u, s.socket_path.c_str());
      out = fstrm_unix_writer_init(u, wopt);
      fstrm_unix_writer_options_destroy(&u);
    } else {
      fstrm_tcp_writer_options* t = fstrm_tcp_writer_options_init();
      fstrm_tcp_writer_options_set_socket_address(t, s.tcp_host.c_str());
      fstrm_tcp_writer_options_set_socket_port(t, s.tcp_port.c_str());
      out = fstrm_tcp_writer_init(t, wopt);
      fstrm_tcp_writer_options_destroy(&t);
    }
    fstrm_writer_options_destroy(&wopt);
    return out;
  }

  // Open now, or nothing until the next try is due.
  bool ready() {
    if (w) return true;
    auto now = std::chrono::steady_clock::now();
    if (now < next_try) return false;
    next_try = now + std::chrono::seconds(1);
    w = make();
    if (w && fstrm_writer_open(w) == fstrm_res_success) {
      log::info("dnstap: connected to ", target());
      said_away = false;
      return true;
    }
    close();
    if (!said_away) log::warn("dnstap: cannot reach ", target(), "; answers are not sent until it is back");
    said_away = true;
    return false;
  }

  bool write(const std::vector<iovec>& frames) {
    if (fstrm_writer_writev(w, frames.data(), int(frames.size())) == fstrm_res_success) return true;
    log::warn("dnstap: writing to ", target(), " failed; connecting again");
    close();
    return false;
  }

  std::string target() const { return s.socket_path.empty() ? s.tcp_host + ":" + s.tcp_port : s.socket_path; }
};

namespace {

constexpr size_t kMaxQuery = 12 + 255 + 4;

// The question as a DNS message: the answer's id and RD bit, one question.
size_t query_message(const querylog::Event& e, const uint8_t* qname, size_t qname_len, uint8_t* out) {
  std::memset(out, 0, 12);
  if (e.answer && e.answer_len >= 3) {
    out[0] = e.answer[0];
    out[1] = e.answer[1];
    out[2] = e.answer[2] & 0x01;
  }
  out[5] = 1;
  std::memcpy(out + 12, qname, qname_len);
  uint8_t* p = out + 12 + qname_len;
  p[0] = uint8_t(e.qtype >> 8);
  p[1] = uint8_t(e.qtype);
  p[2] = 0;
  p[3] = 1;
  return 12 + qname_len + 4;
}

// The schema's own values for encrypted transports (DOT, DOH), so a
// collector tells a phone's Private DNS from plain TCP.
Dnstap__SocketProtocol socket_protocol(Transport t) {
  switch (t) {
    case Transport::Udp: return DNSTAP__SOCKET_PROTOCOL__UDP;
    case Transport::Tcp: return DNSTAP__SOCKET_PROTOCOL__TCP;
    case Transport::Dot: return DNSTAP__SOCKET_PROTOCOL__DOT;
    case Transport::Doh: return DNSTAP__SOCKET_PROTOCOL__DOH;
  }
  return DNSTAP__SOCKET_PROTOCOL__UDP;
}

// The client's address and port, pointing into `client` (no copy).
void set_client(Dnstap__Message& m, const sockaddr* client) {
  m.has_socket_family = m.has_query_address = m.has_query_port = 1;
  if (client->sa_family == AF_INET6) {
    auto* a6 = reinterpret_cast<const sockaddr_in6*>(client);
    m.socket_family = DNSTAP__SOCKET_FAMILY__INET6;
    m.query_address = {16, const_cast<uint8_t*>(a6->sin6_addr.s6_addr)};
    m.query_port = ntohs(a6->sin6_port);
  } else {
    auto* a4 = reinterpret_cast<const sockaddr_in*>(client);
    m.socket_family = DNSTAP__SOCKET_FAMILY__INET;
    m.query_address = {4, reinterpret_cast<uint8_t*>(const_cast<in_addr*>(&a4->sin_addr))};
    m.query_port = ntohs(a4->sin_port);
  }
}

// The upstream's address and port as the frames' response address.
void set_server(Dnstap__Message& m, const sockaddr* server) {
  m.has_socket_family = m.has_response_address = m.has_response_port = 1;
  if (server->sa_family == AF_INET6) {
    auto* a6 = reinterpret_cast<const sockaddr_in6*>(server);
    m.socket_family = DNSTAP__SOCKET_FAMILY__INET6;
    m.response_address = {16, const_cast<uint8_t*>(a6->sin6_addr.s6_addr)};
    m.response_port = ntohs(a6->sin6_port);
  } else {
    auto* a4 = reinterpret_cast<const sockaddr_in*>(server);
    m.socket_family = DNSTAP__SOCKET_FAMILY__INET;
    m.response_address = {4, reinterpret_cast<uint8_t*>(const_cast<in_addr*>(&a4->sin_addr))};
    m.response_port = ntohs(a4->sin_port);
  }
}

// The question hush sent upstream as a DNS message: its id, RD and CD bits
// and question (the EDNS record it also carries is left out).
size_t question_message(const Exchange& x, uint8_t* out) {
  std::memset(out, 0, 12);
  out[0] = uint8_t(x.id >> 8);
  out[1] = uint8_t(x.id);
  out[2] = x.rd ? 0x01 : 0;
  out[3] = x.cd ? 0x10 : 0;
  out[5] = 1;
  std::memcpy(out + 12, x.qname_wire, x.qname_len);
  uint8_t* p = out + 12 + x.qname_len;
  p[0] = uint8_t(x.qtype >> 8);
  p[1] = uint8_t(x.qtype);
  p[2] = uint8_t(x.qclass >> 8);
  p[3] = uint8_t(x.qclass);
  return 12 + x.qname_len + 4;
}

// The Dnstap frame around `m`, with hush's identity, version and `extra`.
Dnstap__Dnstap frame(Settings& s, Dnstap__Message& m, char* extra, size_t extra_len) {
  Dnstap__Dnstap d = DNSTAP__DNSTAP__INIT;
  d.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
  d.message = &m;
  d.has_extra = 1;
  d.extra = {extra_len, reinterpret_cast<uint8_t*>(extra)};
  if (!s.identity.empty()) {
    d.has_identity = 1;
    d.identity = {s.identity.size(), reinterpret_cast<uint8_t*>(s.identity.data())};
  }
  if (!s.version.empty()) {
    d.has_version = 1;
    d.version = {s.version.size(), reinterpret_cast<uint8_t*>(s.version.data())};
  }
  return d;
}

// The query frame (`m` with its query message when `with_query`, no
// response fields) then the response frame (with the response time and,
// when `with_response`, its message) in one buffer; data is null when the
// allocation failed.
Item pack_pair(Dnstap__Dnstap& d, Dnstap__Message& m, Dnstap__Message__Type query_type,
               Dnstap__Message__Type response_type, bool with_query, bool with_response) {
  m.type = query_type;
  m.has_query_message = with_query;
  m.has_response_message = m.has_response_time_sec = m.has_response_time_nsec = 0;
  size_t qsize = dnstap__dnstap__get_packed_size(&d);
  m.type = response_type;
  m.has_query_message = 0;
  m.has_response_message = with_response;
  m.has_response_time_sec = m.has_response_time_nsec = 1;
  size_t rsize = dnstap__dnstap__get_packed_size(&d);
  Item it;
  it.data = static_cast<uint8_t*>(malloc(qsize + rsize));
  if (!it.data) return it;
  dnstap__dnstap__pack(&d, it.data + qsize);
  m.type = query_type;
  m.has_query_message = with_query;
  m.has_response_message = m.has_response_time_sec = m.has_response_time_nsec = 0;
  dnstap__dnstap__pack(&d, it.data);
  it.query_len = uint32_t(qsize);
  it.response_len = uint32_t(rsize);
  return it;
}

}  // namespace

Tap::Tap(Settings s, size_t workers)
    : settings_(std::move(s)), privacy_(settings_.ignore_clients, settings_.ignore_domains) {
  for (size_t i = 0; i < workers; ++i) rings_.push_back(std::make_unique<Ring>(settings_.queue_per_worker));
  writer_ = std::make_unique<Writer>(settings_);
  thread_ = std::thread([this] { run(); });
}

Tap::~Tap() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  Item it;
  for (auto& r : rings_)
    while (r->pop(it)) free(it.data);
}

bool Tap::room(Ring& ring) {
  if (ring.head.load(std::memory_order_relaxed) - ring.tail.load(std::memory_order_acquire) < ring.slots.size())
    return true;
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void Tap::queue(Ring& ring, const Item& it) {
  if (it.data && ring.push(it)) return;
  free(it.data);
  dropped_.fetch_add(1, std::memory_order_relaxed);
}

void Tap::answer(size_t worker, const querylog::Event& e, const uint8_t* qname_wire, size_t qname_len) {
  if (worker >= rings_.size() || qname_len > 255 || hidden(e)) return;
  Ring& ring = *rings_[worker];
  if (!room(ring)) return;
  // "blocked ads-list: ||ads.example^": the verdict, then the list and rule
  // (not in anonymous mode: a rule names the domain).
  std::string_view reason = settings_.anonymous ? std::string_view() : e.reason;
  char extra[160];
  size_t extra_len = size_t(snprintf(extra, sizeof extra, "%s%s%.*s", querylog::to_string(e.status),
                                     reason.empty() ? "" : " ", int(std::min<size_t>(reason.size(), 140)),
                                     reason.data()));
  extra_len = std::min(extra_len, sizeof extra - 1);
  uint8_t query[kMaxQuery];
  size_t query_len = query_message(e, qname_wire, qname_len, query);

  Dnstap__Message m = DNSTAP__MESSAGE__INIT;
  m.has_socket_protocol = 1;
  m.socket_protocol = socket_protocol(e.transport);
  if (e.client && !settings_.anonymous) set_client(m, e.client);
  int64_t asked_us = e.time_us - int64_t(e.latency_us);
  m.has_query_time_sec = m.has_query_time_nsec = 1;
  m.query_time_sec = uint64_t(asked_us / 1000000);
  m.query_time_nsec = uint32_t(asked_us % 1000000 * 1000);
  m.query_message = {query_len, query};
  m.response_message = {e.answer_len, const_cast<uint8_t*>(e.answer)};
  m.response_time_sec = uint64_t(e.time_us / 1000000);
  m.response_time_nsec = uint32_t(e.time_us % 1000000 * 1000);
  Dnstap__Dnstap d = frame(settings_, m, extra, extra_len);
  queue(ring, pack_pair(d, m, DNSTAP__MESSAGE__TYPE__CLIENT_QUERY, DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE,
                        !settings_.anonymous, !settings_.anonymous && e.answer));
}

void Tap::forwarded(size_t worker, const Exchange& x) {
  if (!forwarder() || worker >= rings_.size() || x.qname_len > 255 || privacy_.hides_domain(x.name)) return;
  Ring& ring = *rings_[worker];
  if (!room(ring)) return;
  char extra[160];
  size_t extra_len = size_t(snprintf(extra, sizeof extra, "upstream %.*s", int(std::min<size_t>(x.server_text.size(), 140)),
                                     x.server_text.data()));
  extra_len = std::min(extra_len, sizeof extra - 1);
  uint8_t query[kMaxQuery];
  size_t query_len = question_message(x, query);

  Dnstap__Message m = DNSTAP__MESSAGE__INIT;
  m.has_socket_protocol = 1;
  m.socket_protocol = Dnstap__SocketProtocol(x.protocol);
  if (x.server) set_server(m, x.server);
  m.has_query_time_sec = m.has_query_time_nsec = 1;
  m.query_time_sec = uint64_t(x.sent_us / 1000000);
  m.query_time_nsec = uint32_t(x.sent_us % 1000000 * 1000);
  m.query_message = {query_len, query};
  m.response_message = {x.reply_len, const_cast<uint8_t*>(x.reply)};
  m.response_time_sec = uint64_t(x.received_us / 1000000);
  m.response_time_nsec = uint32_t(x.received_us % 1000000 * 1000);
  Dnstap__Dnstap d = frame(settings_, m, extra, extra_len);
  queue(ring, pack_pair(d, m, DNSTAP__MESSAGE__TYPE__FORWARDER_QUERY, DNSTAP__MESSAGE__TYPE__FORWARDER_RESPONSE,
                        true, x.reply != nullptr));
}

bool Tap::hidden(const querylog::Event& e) const {
  if (privacy_.hides_domain(e.name)) return true;
  if (settings_.ignore_clients.empty() || !e.client) return false;
  char ip[INET6_ADDRSTRLEN] = "";
  const void* a = e.client->sa_family == AF_INET6
                      ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(e.client)->sin6_addr)
                      : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(e.client)->sin_addr);
  inet_ntop(e.client->sa_family, a, ip, sizeof ip);
  return privacy_.hides_client(ip, "", "");
}

size_t Tap::drain(std::vector<Item>& out) {
  out.clear();
  Item it;
  // At most a ring's worth from each, so one busy worker cannot hold the
  // writer back from the others.
  for (auto& r : rings_)
    for (size_t n = 0; n < r->slots.size() && r->pop(it); ++n) out.push_back(it);
  return out.size();
}

void Tap::run() {
  std::vector<Item> batch;
  batch.reserve(rings_.size() * settings_.queue_per_worker);
  std::vector<iovec> frames;
  frames.reserve(2 * batch.capacity());
  while (true) {
    bool stopping = stop_.load();
    bool connected = writer_->ready();
    if (drain(batch) == 0) {
      if (stopping) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    frames.clear();
    for (const Item& it : batch) {
      frames.push_back({it.data, it.query_len});
      frames.push_back({it.data + it.query_len, it.response_len});
    }
    bool ok = connected && writer_->write(frames);
    (ok ? sent_ : dropped_).fetch_add(batch.size(), std::memory_order_relaxed);
    for (const Item& it : batch) free(it.data);
  }
}

Stats Tap::stats() const { return {sent_.load(std::memory_order_relaxed), dropped_.load(std::memory_order_relaxed)}; }

}  // namespace hush::dnstap

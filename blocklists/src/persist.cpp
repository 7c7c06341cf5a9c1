#include "hush/blocklists/persist.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <type_traits>

#include "base/file.hpp"

namespace hush::blocklists {
namespace {

constexpr char kMagic[8] = {'H', 'U', 'S', 'H', 'B', 'L', 'K', '\n'};

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  uint64_t key;
  uint64_t payload_size;
  uint32_t crc;
  uint32_t reserved;
};
static_assert(sizeof(Header) == 40);
constexpr size_t kPayloadStart = 64;  // keeps payload 8-byte aligned with room to grow the header

uint32_t crc_of(const uint8_t* p, size_t n) {
  return static_cast<uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), p, n));
}

class Writer {
 public:
  template <class T>
  void pod(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    buf_.insert(buf_.end(), p, p + sizeof(T));
  }
  void u64(uint64_t v) { pod(v); }
  void str(const std::string& s) {
    u64(s.size());
    buf_.insert(buf_.end(), s.begin(), s.end());
  }
  template <class T>
  void array(std::span<const T> v, size_t alignment = 8) {
    u64(v.size());
    align(alignment);
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    buf_.insert(buf_.end(), p, p + v.size_bytes());
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    array(std::span<const T>(v));
  }
  void align(size_t alignment = 8) {
    while (buf_.size() % alignment) buf_.push_back(0);
  }
  std::vector<uint8_t>& buf() { return buf_; }

 private:
  std::vector<uint8_t> buf_;
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : base_(p), n_(n) {}
  bool ok() const { return ok_; }
  template <class T>
  T pod() {
    T v{};
    if (!need(sizeof(T))) return v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  uint64_t u64() { return pod<uint64_t>(); }
  std::string str() {
    uint64_t n = u64();
    if (!need(n)) return {};
    std::string s(reinterpret_cast<const char*>(base_ + pos_), n);
    pos_ += n;
    return s;
  }
  template <class T>
  std::span<const T> array(size_t alignment = 8) {
    uint64_t n = u64();
    align(alignment);
    if (n > n_ / sizeof(T) || !need(n * sizeof(T))) return {};
    std::span<const T> s(reinterpret_cast<const T*>(base_ + pos_), n);
    pos_ += n * sizeof(T);
    return s;
  }
  template <class T>
  std::vector<T> vec() {
    auto s = array<T>();
    return {s.begin(), s.end()};
  }
  void align(size_t alignment = 8) { pos_ = (pos_ + alignment - 1) & ~(alignment - 1); }

 private:
  bool need(uint64_t n) {
    if (!ok_ || n > n_ || pos_ > n_ - n) ok_ = false;
    return ok_;
  }
  const uint8_t* base_;
  size_t n_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Buckets are one cache line each only if the table starts on one; the
// payload itself starts 64-byte aligned in the file and in the mapping.
constexpr size_t kTableAlign = 64;

void write_set(Writer& w, const CompiledSet& s) {
  w.pod(s.header());
  w.array(s.slots(), kTableAlign);
  w.array(s.values());
  w.array(s.filter());
}

bool read_set(Reader& r, CompiledSet& s, const std::shared_ptr<const void>& keepalive) {
  const auto header = r.pod<SetHeader>();
  auto slots = r.array<uint64_t>(kTableAlign);
  auto values = r.array<EntryValue>();
  auto filter = r.array<uint64_t>();
  return r.ok() && CompiledSet::from_views(header, slots, values, filter, keepalive, &s);
}

void write_strings(Writer& w, const std::vector<std::string>& v) {
  w.u64(v.size());
  for (const auto& s : v) w.str(s);
}

std::vector<std::string> read_strings(Reader& r) {
  uint64_t n = r.u64();
  std::vector<std::string> v;
  for (uint64_t i = 0; i < n && r.ok(); ++i) v.push_back(r.str());
  return v;
}

void write_rule(Writer& w, const Rule& rule) {
  w.str(rule.name);
  w.pod(static_cast<uint8_t>(rule.kind));
  w.pod(static_cast<uint8_t>(rule.format));
  w.pod(static_cast<uint8_t>(rule.allow | (rule.important << 1)));
  w.pod(rule.line);
  w.vec(rule.dnstype);
  w.vec(rule.not_dnstype);
  write_strings(w, rule.client);
  write_strings(w, rule.not_client);
  w.str(rule.text);
}

Rule read_rule(Reader& r) {
  Rule rule;
  rule.name = r.str();
  rule.kind = static_cast<RuleKind>(r.pod<uint8_t>() % 3);
  rule.format = static_cast<Format>(r.pod<uint8_t>() % kFormatCount);
  auto flags = r.pod<uint8_t>();
  rule.allow = flags & 1;
  rule.important = flags & 2;
  rule.line = r.pod<uint32_t>();
  rule.dnstype = r.vec<uint16_t>();
  rule.not_dnstype = r.vec<uint16_t>();
  rule.client = read_strings(r);
  rule.not_client = read_strings(r);
  rule.text = r.str();
  return rule;
}

void write_report(Writer& w, const ListReport& l) {
  w.str(l.name);
  w.str(l.path);
  w.str(l.error);
  w.u64(l.entries);
  const ParseStats& s = l.stats;
  w.pod(static_cast<uint8_t>(s.detected));
  w.pod(static_cast<uint8_t>(s.plain_means_subdomains));
  w.str(s.syntax_header);
  for (size_t v : {s.lines, s.comments, s.rules, s.self_entries, s.skipped_browser, s.skipped_unsupported,
                   s.invalid}) {
    w.u64(v);
  }
  for (size_t v : s.by_format) w.u64(v);
  w.u64(s.first_invalid.size());
  for (const auto& inv : s.first_invalid) {
    w.u64(inv.line);
    w.str(inv.text);
    w.str(inv.reason);
  }
}

ListReport read_report(Reader& r) {
  ListReport l;
  l.name = r.str();
  l.path = r.str();
  l.error = r.str();
  l.entries = r.u64();
  ParseStats& s = l.stats;
  s.detected = static_cast<Format>(r.pod<uint8_t>() % kFormatCount);
  s.plain_means_subdomains = r.pod<uint8_t>() != 0;
  s.syntax_header = r.str();
  for (size_t* v : {&s.lines, &s.comments, &s.rules, &s.self_entries, &s.skipped_browser,
                    &s.skipped_unsupported, &s.invalid}) {
    *v = r.u64();
  }
  for (size_t& v : s.by_format) v = r.u64();
  uint64_t n = r.u64();
  for (uint64_t i = 0; i < n && i < kKeptInvalid && r.ok(); ++i) {
    InvalidLine inv;
    inv.line = r.u64();
    inv.text = r.str();
    inv.reason = r.str();
    s.first_invalid.push_back(std::move(inv));
  }
  return l;
}

struct Mapping {
  void* addr = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (addr != MAP_FAILED) munmap(addr, size);
  }
};

}  // namespace

uint64_t cache_key(const std::vector<ListSource>& sources) {
  Writer w;
  w.u64(kCacheVersion);
  for (const ListSource& s : sources) {
    w.str(s.name);
    w.str(s.path);
    w.u64(s.subdomains);
    struct stat st{};
    if (::stat(s.path.c_str(), &st) == 0) {
      w.u64(static_cast<uint64_t>(st.st_size));
      w.u64(static_cast<uint64_t>(st.st_mtim.tv_sec));
      w.u64(static_cast<uint64_t>(st.st_mtim.tv_nsec));
      w.u64(static_cast<uint64_t>(st.st_ino));
    } else {
      w.u64(~uint64_t{0});
    }
  }
  const auto& b = w.buf();
  // Two CRCs over different seeds make a 64-bit fingerprint; good enough to
  // notice change, which is all a cache key must do.
  uint64_t lo = crc_of(b.data(), b.size());
  uint64_t hi = static_cast<uint32_t>(crc32_z(0x9e3779b9L, b.data(), b.size()));
  return (hi << 32) | lo;
}

std::string save_compiled(const CompiledLists& lists, uint64_t key, const std::string& path) {
  Writer w;
  w.u64(lists.lists.size());
  for (const auto& l : lists.lists) write_report(w, l);
  w.pod(lists.sets.singletons());
  w.u64(lists.sets.multi().size());
  for (const auto& s : lists.sets.multi()) w.vec(s);
  write_set(w, lists.block);
  write_set(w, lists.allow);
  w.u64(lists.rules.size());
  for (const Rule& r : lists.rules) write_rule(w, r);
  w.vec(lists.rule_list);
  w.u64(lists.dropped_covered);
  w.u64(lists.badfiltered);
  w.align();
  const auto& payload = w.buf();

  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kCacheVersion;
  h.header_size = kPayloadStart;
  h.key = key;
  h.payload_size = payload.size();
  h.crc = crc_of(payload.data(), payload.size());
  uint8_t head[kPayloadStart] = {};
  std::memcpy(head, &h, sizeof h);

  return write_file_atomic(path, {std::string_view(reinterpret_cast<const char*>(head), sizeof head),
                                  std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size())});
}

std::string load_compiled(const std::string& path, uint64_t key, CompiledLists& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? "missing" : "cannot open " + path + ": " + std::strerror(errno);
  struct stat st{};
  if (::fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(kPayloadStart)) {
    ::close(fd);
    return "corrupt: file too short";
  }
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<size_t>(st.st_size);
  map->addr = ::mmap(nullptr, map->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map->addr == MAP_FAILED) return std::string("cannot map ") + path + ": " + std::strerror(errno);
  const auto* base = static_cast<const uint8_t*>(map->addr);

  Header h{};
  std::memcpy(&h, base, sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) return "corrupt: not a hush compiled list file";
  if (h.version != kCacheVersion) return "stale: format version " + std::to_string(h.version);
  if (h.header_size != kPayloadStart || h.payload_size != map->size - kPayloadStart) {
    return "corrupt: size mismatch (truncated?)";
  }
  const uint8_t* payload = base + kPayloadStart;
  if (crc_of(payload, h.payload_size) != h.crc) return "corrupt: checksum mismatch";
  if (h.key != key) return "stale: lists or their files changed";

  Reader r(payload, h.payload_size);
  CompiledLists cl;
  uint64_t n = r.u64();
  for (uint64_t i = 0; i < n && r.ok(); ++i) cl.lists.push_back(read_report(r));
  auto singletons = r.pod<uint32_t>();
  uint64_t n_multi = r.u64();
  std::vector<std::vector<uint32_t>> multi;
  for (uint64_t i = 0; i < n_multi && r.ok(); ++i) {
    multi.push_back(r.vec<uint32_t>());
    for (uint32_t id : multi.back()) {
      if (id >= n) return "corrupt: bad list id in set";
    }
  }
  cl.sets = SetTable(singletons);
  cl.sets.set_multi(std::move(multi));
  std::shared_ptr<const void> keep = map;
  if (!read_set(r, cl.block, keep) || !read_set(r, cl.allow, keep)) return "corrupt: bad name set";
  uint64_t n_rules = r.u64();
  for (uint64_t i = 0; i < n_rules && r.ok(); ++i) cl.rules.push_back(read_rule(r));
  cl.rule_list = r.vec<uint32_t>();
  cl.dropped_covered = r.u64();
  cl.badfiltered = r.u64();
  if (!r.ok() || cl.rule_list.size() != cl.rules.size() || singletons != cl.lists.size()) {
    return "corrupt: truncated payload";
  }
  for (uint32_t l : cl.rule_list) {
    if (l >= cl.lists.size()) return "corrupt: bad list id";
  }
  out = std::move(cl);
  return {};
}

}  // namespace hush::blocklists

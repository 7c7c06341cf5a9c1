// What an alert is about, and where alerts go (the [[alerts.sink]] tables).
// Plain data, no I/O: config reads SinkSettings, the dispatcher sends
// Events, the dashboard shows SinkStatus.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hush::alerts {

enum class Kind { FirstContact, NewDevice, EncryptedDns, SubscriptionFailing, UpstreamsFailing, DiskLow, Test };
inline constexpr Kind kAllKinds[] = {Kind::FirstContact,        Kind::NewDevice,        Kind::EncryptedDns,
                                     Kind::SubscriptionFailing, Kind::UpstreamsFailing, Kind::DiskLow};

// "first_contact", "new_device", "encrypted_dns", "subscription_failing",
// "upstreams_failing", "disk_low", "test": the names the config file and
// the webhook's JSON use.
const char* kind_name(Kind k);
std::optional<Kind> kind_named(std::string_view name);

struct Event {
  Kind kind = Kind::Test;
  // Sent once: a second event with the same key within the de-duplication
  // window is dropped ("first_contact:3:google").
  std::string key;
  std::string title;  // one line, e.g. "tv contacted Samsung for the first time"
  std::string text;   // a few lines with the details
  int64_t time_ms = 0;  // when it happened (unix ms): for a first contact, the query's time
  std::map<std::string, std::string> fields;  // for the webhook's JSON: device, company, name, ...
};

struct SinkSettings {
  std::string name;  // shown in the dashboard; default "<kind> <n>"
  std::string kind;  // "webhook", "ntfy" or "email"
  std::string url;   // http(s):// for webhook and ntfy; smtp:// or smtps:// for email
  // Sent with every request ("Authorization: Bearer ..."); never shown.
  std::string header;
  std::vector<std::string> events;  // kind names; empty: every kind
  // E-mail only.
  std::string from;
  std::vector<std::string> to;
  std::string username, password;
  // smtp:// without STARTTLS: only for a relay on a loopback address.
  bool plain = false;
  // CA certificates (PEM) the server's certificate must chain to, for a
  // mail server or webhook with a private CA; "": the system's store.
  std::string ca_file;

  bool wants(Kind k) const;
  bool operator==(const SinkSettings&) const = default;
};

// Problems of one sink's settings as "alerts.sink[<i>] (<name>): why" lines.
std::vector<std::string> check(const SinkSettings& s, size_t index);

struct Settings {
  std::vector<SinkSettings> sinks;
  unsigned disk_min_free_mib = 1024;  // disk_low when the data directory's filesystem has less free
};

// What the dashboard shows of a sink.
struct SinkStatus {
  std::string name, kind;
  std::string state = "idle";  // idle, ok, retrying, failed
  int64_t last_attempt_ms = 0, last_ok_ms = 0;  // unix ms; 0: never
  std::string last_error;
  int64_t next_retry_ms = 0;  // unix ms while retrying
  uint64_t sent = 0;       // messages delivered (a digest counts once)
  uint64_t failed = 0;     // messages given up after the last retry
  uint64_t dropped = 0;    // events that found this sink's outbox full
  uint64_t digests = 0;    // of `sent`, digests
  size_t pending = 0;      // events waiting
};

}  // namespace hush::alerts

#include "alerts/outbox.hpp"

#include <unistd.h>

#include <algorithm>
#include <climits>

namespace hush::alerts {

namespace {

const char* kKindNames[] = {"first_contact", "new_device",        "encrypted_dns", "subscription_failing",
                            "upstreams_failing", "disk_low", "test"};

bool loopback_host(const std::string& url) {
  size_t at = url.find("://");
  if (at == std::string::npos) return false;
  std::string rest = url.substr(at + 3);
  if (size_t cred = rest.find('@'); cred != std::string::npos) rest = rest.substr(cred + 1);
  return rest.starts_with("127.") || rest.starts_with("[::1]") || rest.starts_with("localhost:") ||
         rest == "localhost";
}

}  // namespace

const char* kind_name(Kind k) { return kKindNames[size_t(k)]; }

std::optional<Kind> kind_named(std::string_view name) {
  for (size_t i = 0; i < std::size(kKindNames); ++i)
    if (name == kKindNames[i]) return Kind(i);
  return std::nullopt;
}

bool SinkSettings::wants(Kind k) const {
  if (k == Kind::Test || events.empty()) return true;
  return std::find(events.begin(), events.end(), kind_name(k)) != events.end();
}

std::vector<std::string> check(const SinkSettings& s, size_t index) {
  std::vector<std::string> out;
  const std::string where = "alerts.sink[" + std::to_string(index) + "]" + (s.name.empty() ? "" : " (" + s.name + ")");
  auto bad = [&](const std::string& why) { out.push_back(where + ": " + why); };
  const bool http = s.url.starts_with("http://") || s.url.starts_with("https://");
  if (s.kind == "webhook" || s.kind == "ntfy") {
    if (!http) bad("url: expected http:// or https:// for a " + s.kind + " sink, got '" + s.url + "'");
  } else if (s.kind == "email") {
    const bool smtp = s.url.starts_with("smtp://"), smtps = s.url.starts_with("smtps://");
    if (!smtp && !smtps) bad("url: expected smtp://HOST:PORT (STARTTLS) or smtps://HOST:PORT, got '" + s.url + "'");
    if (s.from.empty()) bad("from: the sender address is missing");
    if (s.to.empty()) bad("to: expected at least one recipient address");
    for (const std::string& a : s.to)
      if (a.find('@') == std::string::npos) bad("to: '" + a + "' is not an e-mail address");
    if (s.plain && !(smtp && loopback_host(s.url)))
      bad("plain = true sends without TLS, which is only allowed to smtp:// on a loopback address");
  } else {
    bad("kind: expected \"webhook\", \"ntfy\" or \"email\", got '" + s.kind + "'");
  }
  if (!s.ca_file.empty() && ::access(s.ca_file.c_str(), R_OK) != 0) bad("ca_file: " + s.ca_file + " cannot be read");
  if (!s.header.empty() && (s.header.find(':') == std::string::npos || s.header.find('\n') != std::string::npos ||
                            s.header.find('\r') != std::string::npos))
    bad("header: expected one \"Name: value\" line");
  for (const std::string& e : s.events)
    if (!kind_named(e) || e == "test")
      bad("events: unknown event '" + e +
          "' (expected first_contact, new_device, encrypted_dns, subscription_failing, upstreams_failing, disk_low)");
  return out;
}

bool Dedupe::first(const std::string& key, int64_t now_ms) {
  while (!order_.empty() &&
         (order_.front().second <= now_ms - limits_.dedupe_window_ms || order_.size() >= limits_.dedupe_keys)) {
    auto it = seen_.find(order_.front().first);
    if (it != seen_.end() && it->second == order_.front().second) seen_.erase(it);
    order_.pop_front();
  }
  auto it = seen_.find(key);
  if (it != seen_.end() && it->second > now_ms - limits_.dedupe_window_ms) return false;
  seen_[key] = now_ms;
  order_.emplace_back(key, now_ms);
  return true;
}

Message digest_of(std::vector<Event> events, const Limits& l) {
  Message m;
  const size_t n = events.size();
  if (n == 1) {
    m.title = events[0].title;
    m.text = events[0].text;
  } else {
    m.title = "hush: " + std::to_string(n) + " alerts";
    for (size_t i = 0; i < n && i < l.digest_lines; ++i) m.text += "- " + events[i].title + "\n";
    if (n > l.digest_lines) m.text += "... and " + std::to_string(n - l.digest_lines) + " more\n";
  }
  if (n > l.digest_lines) {
    m.more = n - l.digest_lines;
    events.resize(l.digest_lines);
  }
  m.events = std::move(events);
  return m;
}

Outbox::Outbox(SinkSettings s, const Limits& l) : settings_(std::move(s)), limits_(l), tokens_(l.burst) {
  status_.name = settings_.name;
  status_.kind = settings_.kind;
}

bool Outbox::add(Event e) {
  if (waiting_.size() >= limits_.outbox) {
    ++status_.dropped;
    return false;
  }
  waiting_.push_back(std::move(e));
  status_.pending = waiting_.size();
  return true;
}

void Outbox::refill(int64_t now_ms) {
  if (refilled_ms_ == 0) refilled_ms_ = now_ms;
  if (now_ms <= refilled_ms_) return;
  tokens_ = std::min<double>(limits_.burst, tokens_ + double(now_ms - refilled_ms_) / double(limits_.refill_ms));
  refilled_ms_ = now_ms;
}

std::optional<Message> Outbox::take(int64_t now_ms) {
  if (in_flight_) return std::nullopt;
  refill(now_ms);
  if (retry_) {
    if (now_ms < status_.next_retry_ms) return std::nullopt;
    in_flight_ = std::move(retry_);
    retry_.reset();
    return in_flight_;
  }
  if (waiting_.empty() || tokens_ < 1) return std::nullopt;
  tokens_ -= 1;
  std::vector<Event> events;
  // As many single messages as tokens cover; past that, everything left in one digest.
  if (double(waiting_.size()) <= tokens_ + 1) {
    events.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  } else {
    events.assign(std::make_move_iterator(waiting_.begin()), std::make_move_iterator(waiting_.end()));
    waiting_.clear();
  }
  status_.pending = waiting_.size();
  in_flight_ = digest_of(std::move(events), limits_);
  return in_flight_;
}

void Outbox::done(const std::string& error, int64_t now_ms) {
  if (!in_flight_) return;
  Message m = std::move(*in_flight_);
  in_flight_.reset();
  status_.last_attempt_ms = now_ms;
  if (error.empty()) {
    status_.state = "ok";
    status_.last_ok_ms = now_ms;
    status_.last_error.clear();
    status_.next_retry_ms = 0;
    ++status_.sent;
    if (m.digest()) ++status_.digests;
    return;
  }
  status_.last_error = error;
  if (unsigned(m.attempt) >= limits_.retries) {
    status_.state = "failed";
    status_.next_retry_ms = 0;
    ++status_.failed;
    return;
  }
  int64_t wait = limits_.backoff_first_ms;
  for (int i = 0; i < m.attempt && wait < limits_.backoff_max_ms; ++i) wait *= 2;
  status_.state = "retrying";
  status_.next_retry_ms = now_ms + std::min(wait, limits_.backoff_max_ms);
  ++m.attempt;
  retry_ = std::move(m);
}

int64_t Outbox::next_due(int64_t now_ms) const {
  if (in_flight_) return INT64_MAX;
  if (retry_) return status_.next_retry_ms;
  if (waiting_.empty()) return INT64_MAX;
  if (tokens_ >= 1) return now_ms;
  return refilled_ms_ + int64_t((1 - tokens_) * double(limits_.refill_ms)) + 1;
}

}  // namespace hush::alerts

// Sends one message to one sink through libcurl (blocking, bounded by
// Limits::timeout_s): a JSON POST for a webhook, a plain-text POST with a
// Title header for an ntfy topic, an e-mail over SMTP (STARTTLS required
// unless the sink says plain for a loopback relay). Called only from the
// dispatcher's thread and `hush alerts test`, never from a DNS worker.
#pragma once

#include <atomic>
#include <string>

#include "alerts/event.hpp"
#include "alerts/outbox.hpp"

namespace hush::alerts {

// "" when the sink took it; else why not ("HTTP 500", "Couldn't connect ...").
// `stop` (may be null) ends a delivery under way when it turns true.
std::string deliver(const SinkSettings& s, const Message& m, long timeout_s, const std::atomic<bool>* stop = nullptr);

// What each kind of sink is sent, without sending (for tests and deliver()).
std::string webhook_body(const Message& m);
std::string email_text(const SinkSettings& s, const Message& m, int64_t now_ms);

}  // namespace hush::alerts

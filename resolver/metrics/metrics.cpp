#include "metrics/metrics.hpp"

#include <cstdio>

namespace hush::metrics {

namespace {

uint64_t get(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }

struct Writer {
  std::string& out;

  void head(const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
  }
  void value(const std::string& name, const std::string& labels, double v) {
    out += name;
    if (!labels.empty()) {
      out += '{';
      out += labels;
      out += '}';
    }
    char buf[64];
    // Range first: a negative double (a list file dated in the future gives
    // a negative age) converted to an unsigned integer is undefined.
    if (v >= 0 && v < 1e18 && v == double(uint64_t(v)))
      std::snprintf(buf, sizeof buf, " %llu\n", static_cast<unsigned long long>(v));
    else
      std::snprintf(buf, sizeof buf, " %.6g\n", v);
    out += buf;
  }
  void single(const char* name, const char* type, const char* help, double v) {
    head(name, type, help);
    value(name, "", v);
  }
};

std::string label(const char* key, const std::string& value) {
  return std::string(key) + "=\"" + escape_label(value) + "\"";
}

}  // namespace

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void render(const Snapshot& s, std::string& out) {
  Writer w{out};
  const Counters& c = *s.totals;

  w.head("hush_queries_total", "counter", "DNS queries received, by transport.");
  w.value("hush_queries_total", label("transport", "udp"), double(get(c.queries_udp)));
  w.value("hush_queries_total", label("transport", "tcp"), double(get(c.queries_tcp)));
  w.value("hush_queries_total", label("transport", "dot"), double(get(c.queries_dot)));
  w.value("hush_queries_total", label("transport", "doh"), double(get(c.queries_doh)));

  w.head("hush_queries_by_type_total", "counter", "Well-formed DNS questions, by query type.");
  for (size_t i = 0; i < kQtypeSlots; ++i)
    w.value("hush_queries_by_type_total", label("type", kCountedQtypeNames[i]), double(get(c.qtypes[i])));

  // One outcome per query, except "forwarded" and "coalesced", which split the cache misses.
  w.head("hush_query_outcomes_total", "counter",
         "How queries were settled: blocked, cached, forwarded (sent upstream), coalesced (joined a "
         "question already upstream), servfail, refused, rate_limited, formerr, notimp, badvers, dropped.");
  const std::pair<const char*, const std::atomic<uint64_t>*> outcomes[] = {
      {"blocked", &c.blocked},       {"cached", &c.cache_hits},         {"forwarded", &c.forwarded},
      {"coalesced", &c.coalesced},   {"servfail", &c.servfail},         {"refused", &c.refused_network},
      {"rate_limited", &c.rate_limited}, {"formerr", &c.formerr},       {"notimp", &c.notimp},
      {"badvers", &c.badvers},       {"dropped", &c.dropped}};
  for (const auto& [name, counter] : outcomes)
    w.value("hush_query_outcomes_total", label("outcome", name), double(get(*counter)));

  w.single("hush_answers_sent_total", "counter", "DNS answers sent to clients.", double(get(c.answered)));
  w.single("hush_rebind_blocked_total", "counter",
           "Answers replaced by a blocked one because a public name pointed at a private address "
           "(rebinding protection); also counted as blocked.",
           double(get(c.rebind)));
  w.single("hush_cache_hits_total", "counter", "Questions answered from the cache.", double(get(c.cache_hits)));
  w.single("hush_cache_misses_total", "counter", "Questions the cache could not answer.",
           double(get(c.cache_misses)));
  w.single("hush_cache_entries", "gauge", "Answers held in the cache.", double(s.cache_entries));
  w.single("hush_cache_stale_answers_total", "counter",
           "Expired answers served (TTL 30, EDE 3) because the upstreams failed or were slow (RFC 8767).",
           double(get(c.stale_answers)));
  w.single("hush_cache_prefetches_total", "counter",
           "Popular answers refreshed from upstream before they expired (no client waits for them).",
           double(get(c.prefetches)));
  w.single("hush_cache_prefetches_failed_total", "counter",
           "Prefetches the upstreams did not answer usefully (the entry expires as usual).",
           double(get(c.prefetches_failed)));
  w.single("hush_send_errors_total", "counter", "Answers that could not be sent.", double(get(c.send_errors)));
  w.single("hush_tcp_refused_total", "counter", "TCP connections refused (over tcp.max_per_client).",
           double(get(c.tcp_refused)));
  w.single("hush_tcp_evicted_total", "counter",
           "TCP connections closed to make room for a new one (the longest without a query).",
           double(get(c.tcp_evicted)));
  w.single("hush_tls_failed_total", "counter",
           "DNS-over-TLS and DNS-over-HTTPS connections that failed (a handshake or record the server could not accept).",
           double(get(c.tls_failed)));

  w.head("hush_upstream_latency_seconds", "histogram", "Round-trip time of answered upstream queries.");
  for (size_t u = 0; u < s.upstreams.size() && u < kMaxUpstreams; ++u) {
    const UpstreamCounters& uc = c.upstreams[u];
    std::string up = label("upstream", s.upstreams[u]);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kLatencyBuckets; ++b) {
      cumulative += get(uc.latency[b]);
      char le[32];
      if (b + 1 < kLatencyBuckets)
        std::snprintf(le, sizeof le, "%g", kLatencyBoundsMs[b] / 1000.0);
      else
        std::snprintf(le, sizeof le, "+Inf");
      w.value("hush_upstream_latency_seconds_bucket", up + "," + label("le", le), double(cumulative));
    }
    w.value("hush_upstream_latency_seconds_sum", up, double(get(uc.latency_sum_ms)) / 1000.0);
    w.value("hush_upstream_latency_seconds_count", up, double(get(uc.answers)));
  }
  w.head("hush_upstream_failures_total", "counter",
         "Upstream attempts that failed (timeouts, errors, unusable replies); the next upstream is asked.");
  for (size_t u = 0; u < s.upstreams.size() && u < kMaxUpstreams; ++u)
    w.value("hush_upstream_failures_total", label("upstream", s.upstreams[u]), double(get(c.upstreams[u].failures)));
  w.head("hush_upstream_timeouts_total", "counter", "Upstream attempts that timed out.");
  for (size_t u = 0; u < s.upstreams.size() && u < kMaxUpstreams; ++u)
    w.value("hush_upstream_timeouts_total", label("upstream", s.upstreams[u]), double(get(c.upstreams[u].timeouts)));
  w.single("hush_upstream_rejected_replies_total", "counter",
           "Upstream replies dropped (wrong ID, question or source).", double(get(c.upstream_rejected)));
  w.single("hush_upstream_tcp_retries_total", "counter", "Truncated upstream replies asked again over TCP.",
           double(get(c.upstream_tcp_retries)));
  w.head("hush_dnssec_answers_total", "counter",
         "Upstream answers DNSSEC validation judged (dnssec.validate): secure, insecure or bogus.");
  w.value("hush_dnssec_answers_total", label("state", "secure"), double(get(c.dnssec_secure)));
  w.value("hush_dnssec_answers_total", label("state", "insecure"), double(get(c.dnssec_insecure)));
  w.value("hush_dnssec_answers_total", label("state", "bogus"), double(get(c.dnssec_bogus)));

  w.single("hush_blocklist_names", "gauge", "Unique names and rules in the blocking policy in force.",
           double(s.blocked_names));
  w.single("hush_blocklist_memory_bytes", "gauge", "Memory of the compiled blocking policy.",
           double(s.policy_bytes));
  w.single("hush_blocklist_loaded_timestamp_seconds", "gauge",
           "When the blocking policy in force was built (Unix time).", double(s.lists_loaded_unix));
  w.head("hush_list_entries", "gauge", "Rules read from each list at the last load.");
  for (const ListInfo& l : s.lists) w.value("hush_list_entries", label("list", l.name), double(l.entries));
  w.head("hush_list_age_seconds", "gauge", "Age of each list file (now minus its modification time).");
  for (const ListInfo& l : s.lists)
    if (l.ok && l.modified_unix > 0)
      w.value("hush_list_age_seconds", label("list", l.name), double(s.now_unix - l.modified_unix));
  w.head("hush_list_ok", "gauge", "1 when the list file could be read at the last load, else 0.");
  for (const ListInfo& l : s.lists) w.value("hush_list_ok", label("list", l.name), l.ok ? 1 : 0);

  w.head("hush_config_reloads_total", "counter", "SIGHUP reloads, by result.");
  w.value("hush_config_reloads_total", label("result", "ok"), double(s.reloads_ok));
  w.value("hush_config_reloads_total", label("result", "failed"), double(s.reloads_failed));

  if (s.querylog) {
    w.single("hush_querylog_dropped_total", "counter",
             "Query log records dropped because the log queue was full or the database unwritable.",
             double(s.querylog->dropped));
    w.single("hush_querylog_devices_over_limit_total", "counter",
             "New client addresses logged as \"other devices\" because querylog.max_devices was reached.",
             double(s.querylog->over_device_cap));
  }

  if (s.alerts) {
    w.single("hush_alerts_posted_total", "counter", "Alert events handed to the dispatcher.", double(s.alerts->posted));
    w.single("hush_alerts_dropped_total", "counter", "Alert events dropped: the queue or a sink's outbox was full.",
             double(s.alerts->dropped));
    w.single("hush_alerts_sent_total", "counter", "Alert messages delivered to sinks (a digest counts once).",
             double(s.alerts->sent));
    w.single("hush_alerts_failed_total", "counter", "Alert messages given up after their last retry.",
             double(s.alerts->failed));
  }
  if (s.dnstap) {
    w.single("hush_dnstap_sent_total", "counter", "Answers sent to the dnstap collector (two frames each).",
             double(s.dnstap->sent));
    w.single("hush_dnstap_dropped_total", "counter",
             "Answers not sent to the dnstap collector: queue full, collector away or a failed write.",
             double(s.dnstap->dropped));
  }

  if (s.log_export) {
    w.single("hush_export_sent_total", "counter", "Query lines written to syslog or the export file.",
             double(s.log_export->sent));
    w.single("hush_export_dropped_total", "counter",
             "Query lines not exported: queue full, syslog receiver away or a failed write.",
             double(s.log_export->dropped));
  }
  if (s.sync) {
    w.single("hush_sync_version", "gauge", "Version of the primary's settings this replica holds.",
             double(s.sync->version));
    w.single("hush_sync_last_heard_seconds", "gauge", "Unix time the primary last answered this replica.",
             double(s.sync->heard_unix));
  }

  if (s.memory) {
    const Snapshot::Memory& m = *s.memory;
    w.single("hush_memory_budget_bytes", "gauge", "server.memory_budget_mib in bytes; 0 when there is none.",
             double(m.budget));
    w.single("hush_memory_rss_bytes", "gauge", "Resident memory of the process (VmRSS).", double(m.rss));
    w.head("hush_memory_bytes", "gauge",
           "Memory by part: the blocking lists, the answer cache, the query log writer's tables, SQLite (all "
           "connections), and the rest of the resident set (other).");
    const size_t known = m.lists + m.cache + m.querylog + m.sqlite;
    const std::pair<const char*, size_t> parts[] = {{"lists", m.lists},       {"cache", m.cache},
                                                    {"querylog", m.querylog}, {"sqlite", m.sqlite},
                                                    {"other", m.rss > known ? m.rss - known : 0}};
    for (const auto& [part, bytes] : parts) w.value("hush_memory_bytes", label("part", part), double(bytes));
    w.head("hush_memory_share_bytes", "gauge", "The part of the budget each growing part may hold.");
    w.value("hush_memory_share_bytes", label("part", "cache"), double(m.cache_share));
    w.value("hush_memory_share_bytes", label("part", "querylog"), double(m.querylog_share));
    w.value("hush_memory_share_bytes", label("part", "sqlite"), double(m.sqlite_share));
    w.single("hush_memory_over_budget", "gauge",
             "1 when the lists and the rest of what is not shared leave less than the smallest shares of the "
             "budget (the shares then get their minimum and RSS goes past the budget).",
             m.fixed_over ? 1 : 0);
  }

  w.single("hush_start_time_seconds", "gauge", "When hush started (Unix time).", double(s.started_unix));
  w.head("hush_build_info", "gauge", "hush's version.");
  w.value("hush_build_info", label("version", s.version), 1);
}

}  // namespace hush::metrics

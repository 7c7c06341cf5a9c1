// hush's settings: built-in defaults, overridden by the TOML file, overridden
// by command-line flags. Every key is declared once, in config.cpp's table.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "access/access.hpp"
#include "alerts/event.hpp"
#include "config/schedule.hpp"
#include "local/load.hpp"
#include "upstream/selector.hpp"
#include "hush/blocklists/policy.h"
#include "hush/blocklists/subscriptions/subscriptions.h"

namespace hush {

struct Config {
  struct Server {
    std::vector<std::string> listen{"127.0.0.1:5353"};
    unsigned threads = 0;  // 0: one per core
    std::string data_dir = "./hush-data";
    std::string log_level = "info";
    // Who to run as after binding when started as root. Unset: "hush" if
    // that user exists; "": stay root. See privileges.hpp.
    std::optional<std::string> user;
    // What the process may hold, MiB: the lists take what they take, the
    // answer cache, the query log's tables and SQLite share the rest
    // (base/memory.hpp). 64 fits a small board with a 1M-name list; 0: no
    // budget (each keeps its own bounds: cache.max_entries, fixed tables).
    unsigned memory_budget_mib = 64;
  } server;
  struct Upstream {
    std::vector<std::string> servers;  // empty: the nameservers of /etc/resolv.conf
    unsigned timeout_ms = 1500;        // per attempt
    // EDNS Client Subnet from clients: "strip" (never sent upstream) or
    // "forward" (sent cut to these prefix lengths).
    std::string ecs = "strip";
    unsigned ecs_prefix_v4 = 24;
    unsigned ecs_prefix_v6 = 56;
    // Plain servers (by address) that look up the names of servers given
    // by name; empty: the first plain upstream, else /etc/resolv.conf.
    std::vector<std::string> bootstrap;
    // DNS over TLS: the CA certificates (PEM) a server's certificate must
    // chain to; "": the system's store.
    std::string tls_ca_file;
    unsigned tls_idle_timeout_ms = 30000;  // a TLS connection without a query waiting is closed after this
  } upstream;
  struct Rebind {
    bool protect = true;             // private addresses for public names become blocked answers
    std::vector<std::string> allow;  // names (with subdomains) that may have them
  } rebind;
  struct Cache {
    unsigned max_entries = 100000;
    unsigned min_ttl = 0;
    unsigned max_ttl = 86400;
    unsigned negative_max_ttl = 3600;
    unsigned stale_max = 86400;               // seconds an expired answer may be served stale; 0: never
    unsigned stale_answer_after_ms = 1800;    // a slower upstream lets the client have the stale answer
    bool prefetch = true;                     // refresh popular answers before they expire
    unsigned prefetch_max_inflight = 64;      // prefetches asked upstream at once, all workers together
  } cache;
  struct Dnssec {
    // Off until its cost is measured on real traffic (docs/BENCHMARKS.md).
    bool validate = false;
    // DS or DNSKEY records, one per line; Debian's dns-root-data by default.
    std::string trust_anchor = "/usr/share/dns/root.key";
    unsigned key_cache_entries = 4096;  // validated DNSKEY/DS sets and proofs kept
  } dnssec;
  struct Tcp {
    unsigned max_connections = 512;
    unsigned max_per_client = 32;
    unsigned idle_timeout_ms = 10000;
  } tcp;
  struct Tls {  // the certificate DNS over TLS and HTTPS are served with (PEM files)
    std::string cert, key;
    // Devices connecting as <id>.<server_name> (the SNI of Android's Private
    // DNS) are known by <id> wherever their address changes.
    std::string server_name;
  } tls;
  struct Dot {
    std::vector<std::string> listen;  // DNS over TLS (RFC 7858), port 853 by default; empty: off
  } dot;
  struct Doh {
    // DNS over HTTPS (RFC 8484) at /dns-query, HTTP/2 and HTTP/1.1, port
    // 443 by default; empty: off
    std::vector<std::string> listen;
  } doh;
  struct Blocking {
    bool enabled = true;
    std::string mode = "null";  // null, nxdomain, nodata or ip
    std::string ipv4 = "0.0.0.0";  // answers for A in "ip" mode
    std::string ipv6 = "::";       // answers for AAAA in "ip" mode
    unsigned ttl = 60;             // TTL of sinkhole answers and their SOA minimum
    bool special_names = true;
    bool cname_inspection = true;
    std::vector<blocklists::Entry> allow, deny;
    // Lists (by name, from [[lists]] or subscriptions) left out of the
    // policy: switched off from the dashboard or `hush lists disable`.
    std::vector<std::string> disabled_lists;
  } blocking;
  struct Access {
    std::vector<std::string> allow = default_allowed_networks();
    bool drop_refused = false;
    unsigned rate_limit = 1000;
    unsigned rate_window_s = 60;
    bool limit_loopback = false;
  } access;
  struct Http {
    std::string listen = "127.0.0.1:8080";  // /metrics (and later the dashboard); "" = off
    bool tls = false;  // HTTPS with [tls]'s certificate, HSTS and Secure cookies
  } http;
  struct Subscriptions {               // lists followed by URL (hush lists add)
    unsigned interval_hours = 24;      // default time between updates of a list
    unsigned max_bytes = 50u << 20;    // a bigger download is refused
    double shrink_limit = 0.9;         // refuse a version with < (1 - this) x the old rules
    unsigned connect_timeout_s = 15;
    unsigned total_timeout_s = 300;
  } subscriptions;
  struct QueryLog {
    bool enabled = true;
    unsigned retention_days = 30;             // raw rows
    unsigned aggregate_retention_days = 365;  // per-hour and per-day counts, first/last seen
    bool anonymous = false;                   // keep only counts: no device, no domain
    std::vector<std::string> ignore_clients, ignore_domains;  // never logged (globs)
    unsigned queue_size = 8192;               // per worker; more waiting entries are dropped and counted
    unsigned max_devices = 10000;             // past it, new addresses share one "other devices" entry
    // The database's used size; past it the oldest days go, raw rows first.
    // 1 GiB is about 4.5 million queries of unique names (about 230 bytes
    // each), weeks of a household's traffic, and fits the SD card or USB
    // stick of a small board with room to spare. 0: no cap.
    unsigned max_size_mib = 1024;
  } querylog;
  struct Dnstap {  // every answer to a dnstap collector (off when both are "")
    std::string socket;     // a Unix socket path, or
    std::string address;    // ADDR:PORT over TCP
    unsigned queue = 4096;  // answers waiting per worker; more are dropped and counted
    std::string identity;   // the frames' identity field ("" : none)
    bool forwarder = false;  // also FORWARDER_QUERY/RESPONSE for each exchange with an upstream
  } dnstap;
  struct Sync {  // following another hush's settings (a replica); off when primary is ""
    std::string primary;  // the primary's dashboard, https://HOST:PORT (http:// on loopback only)
    std::string token;    // made on the primary with `hush token create --scope sync`
    std::string ca_file;  // CA for the primary's certificate ("" : the system's)
  } sync;
  struct Export {  // every logged query as a JSON line (off when both are "")
    std::string syslog;          // "local" (/dev/log), udp://ADDR:PORT or tcp://ADDR:PORT (RFC 5424)
    std::string file;            // a file, rotated at max_file_mib
    unsigned max_file_mib = 64;  // size at which the file is rotated
    unsigned files_kept = 3;     // rotated files kept beside it (FILE.1 ... FILE.N)
    unsigned queue = 8192;       // queries waiting per worker; more are dropped and counted
  } log_export;
  struct Clients {  // where device names come from
    std::string hosts_file = "/etc/hosts";
    std::string dnsmasq_leases = "/var/lib/misc/dnsmasq.leases";
    std::string isc_leases = "/var/lib/dhcp/dhcpd.leases";
    // Asked for the names of client addresses (PTR); "": the servers of a
    // [[forward]] zone for the address's reverse zone, if there is one.
    std::string router;
  } device_names;
  struct Report {    // the phone-home report (hush report)
    std::string overrides;  // the user's company map corrections; "" = <data_dir>/companies.txt
  } report;
  // Where alerts go ([[alerts.sink]]) and alerts.disk_min_free_mib.
  alerts::Settings alerts;
  std::vector<blocklists::ListSource> lists;
  std::vector<blocklists::ClientRule> clients;
  local::Settings local;
  std::vector<upstream::ForwardZone> forwards;
  // [[schedule]]: read-only beside those of <data_dir>/schedules.json. Each
  // has its name as id and its FILE:LINE as source; policy/schedules.hpp
  // checks the rest, and the server finds a device's group when it reads them.
  std::vector<Schedule> schedules;

  // The TOML file load_config_file() read, so a backup can take it along.
  std::string file;

  // "file:line" of each key read from a file, so later checks can say where.
  std::map<std::string, std::string> origin;
  std::string where(const std::string& key) const {
    auto it = origin.find(key);
    return it == origin.end() ? key : it->second + ": " + key;
  }

  // Filled by resolve().
  std::vector<sockaddr_storage> listen_addrs;
  std::vector<sockaddr_storage> dot_addrs;
  std::vector<sockaddr_storage> doh_addrs;
  std::vector<upstream::Server> upstream_servers;  // upstream.servers (or resolv.conf), parsed
  // Their addresses, AF_UNSPEC for a server given by name.
  std::vector<sockaddr_storage> upstream_addrs;
  std::vector<sockaddr_storage> bootstrap_addrs;  // empty when no server is given by name
  std::optional<sockaddr_storage> http_addr;  // empty when http.listen is ""
  std::optional<sockaddr_storage> router_addr;  // empty when devices.router is ""
  AccessSettings access_settings;
  uint8_t block_ipv4[4] = {};
  uint8_t block_ipv6[16] = {};

  // The blocklist engine's view of these settings (the configuration's own
  // inputs only: policy/inputs.hpp adds those kept in the data directory).
  blocklists::PolicyConfig policy_config() const;
  // The subscriptions' view of [subscriptions].
  blocklists::subs::Settings subscription_settings() const;
};

// Reads `path` over the values already in `cfg`. Each problem is appended to
// `errors` as one line naming the file, line, key and the expected form.
// Returns false when there was any problem; `cfg` is then partly updated.
bool load_config_file(const std::string& path, Config& cfg, std::vector<std::string>& errors);

// The same for TOML text already in memory; `path` names it in messages.
bool load_config_text(const std::string& text, const std::string& path, Config& cfg,
                      std::vector<std::string>& errors);

// Turns addresses into socket addresses, reads /etc/resolv.conf (or
// `resolv_conf`) when no upstream is set, and checks values that depend on
// each other. Problems are appended to `errors`; returns false if any.
bool resolve(Config& cfg, std::vector<std::string>& errors,
             const std::string& resolv_conf = "/etc/resolv.conf");

// SIGHUP, after resolve() of `next`: copies every key that takes effect
// while serving (blocking.*, lists, clients, server.log_level) from `next`
// into `current`, and returns the names of the other keys whose value in
// `next` differs from `startup`'s: they need a restart. Cannot fail.
std::vector<std::string> take_live_keys(const Config& startup, const Config& next, Config& current);

// The keys whose values differ between `a` and `b`, each with whether
// SIGHUP can change it: what a restore says about a new configuration.
struct KeyChange {
  std::string name;
  bool live;
};
std::vector<KeyChange> differing_keys(const Config& a, const Config& b);

// Whether SIGHUP can change key `name`; nullopt when there is no such key.
std::optional<bool> key_is_live(const std::string& name);

// After resolve(): an upstream that is one of hush's own listen addresses
// (or loopback while hush listens on all addresses) would send every query
// back to hush. Appends one line per such upstream; returns false if any.
bool check_upstream_loops(const Config& cfg, std::vector<std::string>& errors);

}  // namespace hush

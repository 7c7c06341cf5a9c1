#include "config/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <toml++/toml.h>

#include "base/address.hpp"
#include "base/file.hpp"
#include "config/upstreams.hpp"
#include "hush/blocklists/client_table.h"
#include "tls/server_context.hpp"

namespace hush {

namespace {

using Report = std::function<void(const toml::node&, const std::string&)>;

// One configuration key: its dotted name, how to take a value from TOML
// (reporting what does not fit against the node that holds it), and what a
// SIGHUP does with it: a live key is taken over while serving, any other key
// that changed is reported as needing a restart.
struct Key {
  const char* name;
  std::function<void(Config&, const toml::node&, const Report&)> set;
  bool live = false;
  // Whether two configurations hold the same value (restart keys).
  std::function<bool(const Config&, const Config&)> same;
  // Copies the value, with what resolve() derived from it (live keys).
  std::function<void(Config&, const Config&)> take;
};

// Fills same/take of `k` from the field it sets.
template <class Section, class T>
Key field(Key k, Section Config::*section, T Section::*member) {
  k.same = [=](const Config& a, const Config& b) { return (a.*section).*member == (b.*section).*member; };
  k.take = [=](Config& to, const Config& from) { (to.*section).*member = (from.*section).*member; };
  return k;
}
template <class T>
Key field(Key k, T Config::*member) {
  k.same = [=](const Config& a, const Config& b) { return a.*member == b.*member; };
  k.take = [=](Config& to, const Config& from) { to.*member = from.*member; };
  return k;
}

// The answer bytes resolve() made from blocking.ipv4/ipv6 go with them.
template <size_t N>
Key with_resolved(Key k, uint8_t (Config::*bytes)[N]) {
  k.take = [take = k.take, bytes](Config& to, const Config& from) {
    take(to, from);
    std::memcpy(to.*bytes, from.*bytes, N);
  };
  return k;
}

Key live(Key k) {
  k.live = true;
  return k;
}

template <class Section>
Key uint_in(const char* name, Section Config::*section, unsigned Section::*member, unsigned lo,
            unsigned hi) {
  return field(Key{name, [=](Config& c, const toml::node& n, const Report& report) {
                     auto v = n.value<int64_t>();
                     if (!n.is_integer() || !v || *v < lo || *v > hi)
                       return report(n, std::string(name) + ": expected an integer from " +
                                            std::to_string(lo) + " to " + std::to_string(hi));
                     (c.*section).*member = unsigned(*v);
                   }},
               section, member);
}

template <class Section>
Key bool_in(const char* name, Section Config::*section, bool Section::*member) {
  return field(Key{name, [=](Config& c, const toml::node& n, const Report& report) {
                     if (!n.is_boolean()) return report(n, std::string(name) + ": expected true or false");
                     (c.*section).*member = *n.value<bool>();
                   }},
               section, member);
}

template <class Section>
Key string_in(const char* name, Section Config::*section, std::string Section::*member) {
  return field(Key{name, [=](Config& c, const toml::node& n, const Report& report) {
                     if (!n.is_string()) return report(n, std::string(name) + ": expected a string");
                     (c.*section).*member = *n.value<std::string>();
                   }},
               section, member);
}

std::optional<std::vector<std::string>> string_array(const toml::node& n) {
  const toml::array* a = n.as_array();
  if (!a) return std::nullopt;
  std::vector<std::string> out;
  for (const toml::node& e : *a) {
    if (!e.is_string()) return std::nullopt;
    out.push_back(*e.value<std::string>());
  }
  return out;
}

template <class Section>
Key strings_in(const char* name, Section Config::*section,
               std::vector<std::string> Section::*member) {
  return field(Key{name, [=](Config& c, const toml::node& n, const Report& report) {
                     auto v = string_array(n);
                     if (!v) return report(n, std::string(name) + ": expected an array of strings");
                     (c.*section).*member = std::move(*v);
                   }},
               section, member);
}

// Reads the fields of one table in an array of tables (`[[lists]]`), each
// field by a setter; unknown fields and missing required ones are reported.
using FieldSetter = std::function<bool(const toml::node&)>;
void read_table(const char* what, const toml::node& n, const Report& report,
                const std::vector<std::pair<const char*, FieldSetter>>& fields,
                const std::vector<const char*>& required) {
  const toml::table* t = n.as_table();
  if (!t) return report(n, std::string(what) + ": expected a table");
  for (auto&& [k, v] : *t) {
    bool known = false;
    for (const auto& [field, set] : fields) {
      if (k.str() != field) continue;
      known = true;
      if (!set(v)) report(v, std::string(what) + "." + field + ": wrong type");
    }
    if (!known) report(v, std::string("unknown key '") + what + "." + std::string(k.str()) + "'");
  }
  for (const char* r : required)
    if (!t->contains(r)) report(n, std::string(what) + ": missing '" + r + "'");
}

FieldSetter to_string(std::string& out) {
  return [&out](const toml::node& v) {
    if (!v.is_string()) return false;
    out = *v.value<std::string>();
    return true;
  };
}
FieldSetter to_strings(std::vector<std::string>& out) {
  return [&out](const toml::node& v) {
    auto a = string_array(v);
    if (a) out = std::move(*a);
    return bool(a);
  };
}
FieldSetter to_bool(bool& out) {
  return [&out](const toml::node& v) {
    if (!v.is_boolean()) return false;
    out = *v.value<bool>();
    return true;
  };
}

// allow/deny: "a.com" or { pattern = "a.com", groups = ["kids"] }.
Key entries_in(const char* name, std::vector<blocklists::Entry> Config::Blocking::*member) {
  return field(Key{name, [=](Config& c, const toml::node& n, const Report& report) {
               const toml::array* a = n.as_array();
               if (!a) return report(n, std::string(name) + ": expected an array");
               std::vector<blocklists::Entry> out;
               for (const toml::node& e : *a) {
                 blocklists::Entry entry;
                 if (e.is_string()) {
                   entry.pattern = *e.value<std::string>();
                 } else {
                   read_table(name, e, report,
                              {{"pattern", to_string(entry.pattern)}, {"groups", to_strings(entry.groups)}},
                              {"pattern"});
                 }
                 out.push_back(std::move(entry));
               }
               c.blocking.*member = std::move(out);
             }},
               &Config::blocking, member);
}

Key lists_key() {
  return field(Key{"lists", [](Config& c, const toml::node& n, const Report& report) {
               const toml::array* a = n.as_array();
               if (!a) return report(n, "lists: expected [[lists]] tables");
               for (const toml::node& e : *a) {
                 blocklists::ListSource l;
                 read_table("lists", e, report,
                            {{"name", to_string(l.name)},
                             {"path", to_string(l.path)},
                             {"groups", to_strings(l.groups)},
                             {"subdomains", to_bool(l.subdomains)}},
                            {"path"});
                 c.lists.push_back(std::move(l));
               }
             }},
               &Config::lists);
}

Key forwards_key() {
  Key k{"forward", [](Config& c, const toml::node& n, const Report& report) {
               const toml::array* a = n.as_array();
               if (!a) return report(n, "forward: expected [[forward]] tables");
               for (const toml::node& e : *a) {
                 upstream::ForwardZone f;
                 read_table("forward", e, report,
                            {{"domain", to_string(f.domain)}, {"servers", to_strings(f.servers)}},
                            {"domain", "servers"});
                 c.forwards.push_back(std::move(f));
               }
             }};
  k.same = [](const Config& a, const Config& b) {
    if (a.forwards.size() != b.forwards.size()) return false;
    for (size_t i = 0; i < a.forwards.size(); ++i)
      if (a.forwards[i].domain != b.forwards[i].domain || a.forwards[i].servers != b.forwards[i].servers)
        return false;
    return true;
  };
  return k;
}

Key clients_key() {
  return field(Key{"clients", [](Config& c, const toml::node& n, const Report& report) {
               const toml::array* a = n.as_array();
               if (!a) return report(n, "clients: expected [[clients]] tables");
               for (const toml::node& e : *a) {
                 blocklists::ClientRule r;
                 read_table("clients", e, report,
                            {{"address", to_string(r.cidr_or_ip)},
                             {"groups", to_strings(r.groups)},
                             {"name", to_string(r.name)}},
                            {"address", "groups"});
                 blocklists::Cidr cidr;
                 if (!r.cidr_or_ip.empty() && blocklists::client_id_of(r.cidr_or_ip).empty() &&
                     !blocklists::parse_cidr(r.cidr_or_ip, cidr))
                   report(e, "clients: address \"" + r.cidr_or_ip +
                                 "\" is not an IP address, a CIDR or id:NAME (NAME: 1-63 of a-z, 0-9 and -)");
                 c.clients.push_back(std::move(r));
               }
             }},
               &Config::clients);
}

// [[alerts.sink]]: where alerts go; alerts::check() judges the values in resolve().
Key alert_sinks_key() {
  Key k{"alerts.sink", [](Config& c, const toml::node& n, const Report& report) {
          const toml::array* a = n.as_array();
          if (!a) return report(n, "alerts.sink: expected [[alerts.sink]] tables");
          for (const toml::node& e : *a) {
            alerts::SinkSettings s;
            read_table("alerts.sink", e, report,
                       {{"name", to_string(s.name)},
                        {"kind", to_string(s.kind)},
                        {"url", to_string(s.url)},
                        {"header", to_string(s.header)},
                        {"events", to_strings(s.events)},
                        {"from", to_string(s.from)},
                        {"to", to_strings(s.to)},
                        {"username", to_string(s.username)},
                        {"password", to_string(s.password)},
                        {"plain", to_bool(s.plain)},
                        {"ca_file", to_string(s.ca_file)}},
                       {"kind", "url"});
            if (s.name.empty()) s.name = s.kind + " " + std::to_string(c.alerts.sinks.size() + 1);
            c.alerts.sinks.push_back(std::move(s));
          }
        }};
  k.same = [](const Config& a, const Config& b) {
    auto text = [](const Config& c) {
      std::string t;
      for (const alerts::SinkSettings& s : c.alerts.sinks) {
        t += s.name + '\n' + s.kind + '\n' + s.url + '\n' + s.header + '\n' + s.from + '\n' + s.username + '\n' +
             s.password + '\n' + (s.plain ? "1" : "0") + '\n' + s.ca_file + '\n';
        for (const auto& v : {s.events, s.to})
          for (const std::string& x : v) t += x + ',';
        t += '\n';
      }
      return t;
    };
    return text(a) == text(b);
  };
  // SIGHUP hands the new sinks to the running dispatcher (Alerting::apply).
  k.take = [](Config& to, const Config& from) { to.alerts.sinks = from.alerts.sinks; };
  return live(k);
}

// [[schedule]]: one window as days/from/to, or several as windows = [{...}].
// The text forms are judged here, with the line; what needs the time zones,
// the presets or the device table is judged by policy/ and the server.
Key schedules_key() {
  Key k{"schedule", [](Config& c, const toml::node& n, const Report& report) {
          const toml::array* a = n.as_array();
          if (!a) return report(n, "schedule: expected [[schedule]] tables");
          for (const toml::node& e : *a) {
            Schedule s;
            std::string days, from, to;
            const toml::node *windows = nullptr, *days_at = nullptr, *device_at = nullptr;
            // A setter that also keeps where the value was, for the messages below.
            auto at = [](FieldSetter set, const toml::node*& where) {
              return [set, &where](const toml::node& v) { return set(v) && (where = &v); };
            };
            read_table("schedule", e, report,
                       {{"name", to_string(s.id)},
                        {"group", to_string(s.group)},
                        {"device", at(to_string(s.device), device_at)},
                        {"zone", to_string(s.zone)},
                        {"days", at(to_string(days), days_at)},
                        {"from", to_string(from)},
                        {"to", to_string(to)},
                        {"windows", [&windows](const toml::node& v) { return (windows = &v)->is_array(); }},
                        {"off", to_bool(s.off)},
                        {"lists", to_strings(s.lists)},
                        {"services", to_strings(s.services)},
                        {"companies", to_strings(s.companies)},
                        {"rules", to_strings(s.rules)}},
                       {"name"});
            auto window = [&](const toml::node& where, const std::string& d, const std::string& f, const std::string& t) {
              std::string why;
              Window w{parse_days(d, why), parse_clock(f, false), parse_clock(t, true)};
              if (!w.days) return report(where, "schedule '" + s.id + "': " + why);
              if (w.from < 0 || w.to < 0)
                return report(where, "schedule '" + s.id + "': from and to: a time like \"21:00\" (to may be \"24:00\"), not \"" +
                                         (w.from < 0 ? f : t) + "\"");
              s.windows.push_back(w);
            };
            if (!days.empty() || !from.empty() || !to.empty()) window(days_at ? *days_at : e, days, from, to);
            if (windows && windows->is_array())
              for (const toml::node& w : *windows->as_array()) {
                std::string wd, wf, wt;
                read_table("schedule.windows", w, report,
                           {{"days", to_string(wd)}, {"from", to_string(wf)}, {"to", to_string(wt)}},
                           {"days", "from", "to"});
                if (w.is_table()) window(w, wd, wf, wt);
              }
            if (!s.group.empty() && !s.device.empty())
              report(*device_at, "schedule '" + s.id + "': give group or device, not both");
            if (s.group.empty() && s.device.empty()) s.group = std::string(blocklists::kEveryGroup);
            s.label = !s.device.empty() ? s.device : s.group == blocklists::kEveryGroup ? "everyone" : "group " + s.group;
            s.source = (e.source().path ? *e.source().path : std::string("config")) + ":" +
                       std::to_string(e.source().begin.line);
            c.schedules.push_back(std::move(s));
          }
        }};
  k.same = [](const Config& a, const Config& b) {
    auto text = [](const Config& c) {
      std::string t;
      for (const Schedule& s : c.schedules) {
        t += s.id + '\n' + s.group + '\n' + s.device + '\n' + s.zone + '\n' + (s.off ? "1" : "0") + '\n';
        for (const Window& w : s.windows) t += std::to_string(w.days) + ' ' + std::to_string(w.from) + ' ' + std::to_string(w.to) + ',';
        for (const auto* v : {&s.lists, &s.services, &s.companies, &s.company_rules, &s.rules})
          for (const std::string& x : *v) t += x + ',';
        t += '\n';
      }
      return t;
    };
    return text(a) == text(b);
  };
  // SIGHUP: the server has found the devices' groups in `from` already.
  k.take = [](Config& to, const Config& from) { to.schedules = from.schedules; };
  return live(k);
}

const std::vector<Key>& keys() {
  using C = Config;
  using B = Config::Blocking;
  static const std::vector<Key> table = {
      strings_in("server.listen", &C::server, &C::Server::listen),
      uint_in("server.threads", &C::server, &C::Server::threads, 0, 256),
      uint_in("server.memory_budget_mib", &C::server, &C::Server::memory_budget_mib, 0, 1048576),
      string_in("server.data_dir", &C::server, &C::Server::data_dir),
      live(string_in("server.log_level", &C::server, &C::Server::log_level)),
      field(Key{"server.user",
                [](Config& c, const toml::node& n, const Report& report) {
                  if (!n.is_string()) return report(n, "server.user: expected a user name, or \"\" to stay root");
                  c.server.user = *n.value<std::string>();
                }},
            &C::server, &C::Server::user),
      string_in("http.listen", &C::http, &C::Http::listen),
      bool_in("http.tls", &C::http, &C::Http::tls),
      strings_in("dot.listen", &C::dot, &C::Dot::listen),
      strings_in("doh.listen", &C::doh, &C::Doh::listen),
      string_in("tls.cert", &C::tls, &C::Tls::cert),
      string_in("tls.key", &C::tls, &C::Tls::key),
      string_in("tls.server_name", &C::tls, &C::Tls::server_name),
      bool_in("querylog.enabled", &C::querylog, &C::QueryLog::enabled),
      uint_in("querylog.retention_days", &C::querylog, &C::QueryLog::retention_days, 1, 3650),
      uint_in("querylog.aggregate_retention_days", &C::querylog, &C::QueryLog::aggregate_retention_days, 1, 3650),
      bool_in("querylog.anonymous", &C::querylog, &C::QueryLog::anonymous),
      strings_in("querylog.ignore_clients", &C::querylog, &C::QueryLog::ignore_clients),
      strings_in("querylog.ignore_domains", &C::querylog, &C::QueryLog::ignore_domains),
      uint_in("querylog.queue_size", &C::querylog, &C::QueryLog::queue_size, 64, 1u << 20),
      uint_in("querylog.max_devices", &C::querylog, &C::QueryLog::max_devices, 16, 1000000),
      uint_in("querylog.max_size_mib", &C::querylog, &C::QueryLog::max_size_mib, 0, 1u << 20),
      string_in("dnstap.socket", &C::dnstap, &C::Dnstap::socket),
      string_in("dnstap.address", &C::dnstap, &C::Dnstap::address),
      uint_in("dnstap.queue", &C::dnstap, &C::Dnstap::queue, 16, 1u << 20),
      string_in("dnstap.identity", &C::dnstap, &C::Dnstap::identity),
      bool_in("dnstap.forwarder", &C::dnstap, &C::Dnstap::forwarder),
      string_in("sync.primary", &C::sync, &C::Sync::primary),
      string_in("sync.token", &C::sync, &C::Sync::token),
      string_in("sync.ca_file", &C::sync, &C::Sync::ca_file),
      string_in("export.syslog", &C::log_export, &C::Export::syslog),
      string_in("export.file", &C::log_export, &C::Export::file),
      uint_in("export.max_file_mib", &C::log_export, &C::Export::max_file_mib, 1, 1u << 20),
      uint_in("export.files_kept", &C::log_export, &C::Export::files_kept, 1, 100),
      uint_in("export.queue", &C::log_export, &C::Export::queue, 64, 1u << 20),
      string_in("devices.hosts_file", &C::device_names, &C::Clients::hosts_file),
      string_in("devices.dnsmasq_leases", &C::device_names, &C::Clients::dnsmasq_leases),
      string_in("devices.isc_leases", &C::device_names, &C::Clients::isc_leases),
      string_in("devices.router", &C::device_names, &C::Clients::router),
      string_in("report.overrides", &C::report, &C::Report::overrides),
      strings_in("upstream.servers", &C::upstream, &C::Upstream::servers),
      uint_in("upstream.timeout_ms", &C::upstream, &C::Upstream::timeout_ms, 50, 60000),
      string_in("upstream.ecs", &C::upstream, &C::Upstream::ecs),
      uint_in("upstream.ecs_prefix_v4", &C::upstream, &C::Upstream::ecs_prefix_v4, 0, 32),
      uint_in("upstream.ecs_prefix_v6", &C::upstream, &C::Upstream::ecs_prefix_v6, 0, 128),
      strings_in("upstream.bootstrap", &C::upstream, &C::Upstream::bootstrap),
      string_in("upstream.tls_ca_file", &C::upstream, &C::Upstream::tls_ca_file),
      uint_in("upstream.tls_idle_timeout_ms", &C::upstream, &C::Upstream::tls_idle_timeout_ms, 100, 3600000),
      bool_in("rebind.protect", &C::rebind, &C::Rebind::protect),
      strings_in("rebind.allow", &C::rebind, &C::Rebind::allow),
      uint_in("cache.max_entries", &C::cache, &C::Cache::max_entries, 0, 100000000),
      uint_in("cache.min_ttl", &C::cache, &C::Cache::min_ttl, 0, 604800),
      uint_in("cache.max_ttl", &C::cache, &C::Cache::max_ttl, 0, 604800),
      uint_in("cache.negative_max_ttl", &C::cache, &C::Cache::negative_max_ttl, 0, 604800),
      uint_in("cache.stale_max", &C::cache, &C::Cache::stale_max, 0, 604800),
      uint_in("cache.stale_answer_after_ms", &C::cache, &C::Cache::stale_answer_after_ms, 10, 60000),
      bool_in("cache.prefetch", &C::cache, &C::Cache::prefetch),
      uint_in("cache.prefetch_max_inflight", &C::cache, &C::Cache::prefetch_max_inflight, 1, 100000),
      bool_in("dnssec.validate", &C::dnssec, &C::Dnssec::validate),
      string_in("dnssec.trust_anchor", &C::dnssec, &C::Dnssec::trust_anchor),
      uint_in("dnssec.key_cache_entries", &C::dnssec, &C::Dnssec::key_cache_entries, 16, 10000000),
      uint_in("tcp.max_connections", &C::tcp, &C::Tcp::max_connections, 1, 1000000),
      uint_in("tcp.max_per_client", &C::tcp, &C::Tcp::max_per_client, 1, 1000000),
      uint_in("tcp.idle_timeout_ms", &C::tcp, &C::Tcp::idle_timeout_ms, 100, 3600000),
      live(bool_in("blocking.enabled", &C::blocking, &B::enabled)),
      live(string_in("blocking.mode", &C::blocking, &B::mode)),
      live(with_resolved(string_in("blocking.ipv4", &C::blocking, &B::ipv4), &C::block_ipv4)),
      live(with_resolved(string_in("blocking.ipv6", &C::blocking, &B::ipv6), &C::block_ipv6)),
      live(uint_in("blocking.ttl", &C::blocking, &B::ttl, 0, 86400)),
      live(bool_in("blocking.special_names", &C::blocking, &B::special_names)),
      live(bool_in("blocking.cname_inspection", &C::blocking, &B::cname_inspection)),
      live(entries_in("blocking.allow", &B::allow)),
      live(strings_in("blocking.disabled_lists", &C::blocking, &B::disabled_lists)),
      strings_in("access.allow", &C::access, &C::Access::allow),
      bool_in("access.drop_refused", &C::access, &C::Access::drop_refused),
      uint_in("access.rate_limit", &C::access, &C::Access::rate_limit, 0, 100000000),
      uint_in("access.rate_window_s", &C::access, &C::Access::rate_window_s, 1, 86400),
      bool_in("access.limit_loopback", &C::access, &C::Access::limit_loopback),
      live(entries_in("blocking.deny", &B::deny)),
      string_in("local.domain", &C::local, &local::Settings::domain),
      string_in("local.hostname", &C::local, &local::Settings::hostname),
      strings_in("local.aliases", &C::local, &local::Settings::aliases),
      uint_in("local.ttl", &C::local, &local::Settings::ttl, 0, 604800),
      strings_in("local.records", &C::local, &local::Settings::records),
      strings_in("local.hosts_files", &C::local, &local::Settings::hosts_files),
      strings_in("local.zone_files", &C::local, &local::Settings::zone_files),
      uint_in("subscriptions.interval_hours", &C::subscriptions, &C::Subscriptions::interval_hours, 1, 8760),
      uint_in("subscriptions.max_bytes", &C::subscriptions, &C::Subscriptions::max_bytes, 1024, 4000000000u),
      field(Key{"subscriptions.shrink_limit",
                [](Config& c, const toml::node& n, const Report& report) {
                  auto v = n.value<double>();  // integers convert too (0 or 1)
                  if (!v || *v < 0 || *v > 1)
                    return report(n, "subscriptions.shrink_limit: expected a number from 0 to 1 (0.9 = refuse a "
                                     "version that lost more than 90% of its rules)");
                  c.subscriptions.shrink_limit = *v;
                }},
            &C::subscriptions, &C::Subscriptions::shrink_limit),
      uint_in("subscriptions.connect_timeout_s", &C::subscriptions, &C::Subscriptions::connect_timeout_s, 1, 600),
      uint_in("subscriptions.total_timeout_s", &C::subscriptions, &C::Subscriptions::total_timeout_s, 1, 86400),
      live(lists_key()),
      live(clients_key()),
      forwards_key(),
      alert_sinks_key(),
      schedules_key(),
      uint_in("alerts.disk_min_free_mib", &C::alerts, &alerts::Settings::disk_min_free_mib, 0, 1u << 24),
  };
  return table;
}

void walk(const toml::table& t, const std::string& prefix, Config& cfg, const Report& report) {
  for (auto&& [k, node] : t) {
    std::string name = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    const Key* key = nullptr;
    for (const Key& candidate : keys())
      if (name == candidate.name) key = &candidate;
    if (key) {
      key->set(cfg, node, report);
      cfg.origin[name] = node.source().path ? *node.source().path + ":" + std::to_string(node.source().begin.line)
                                            : std::to_string(node.source().begin.line);
      continue;
    }
    if (const toml::table* sub = node.as_table()) {
      bool known_section = false;
      for (const Key& candidate : keys())
        if (std::string(candidate.name).rfind(name + ".", 0) == 0) known_section = true;
      if (known_section) {
        walk(*sub, name, cfg, report);
        continue;
      }
    }
    report(node, "unknown key '" + name + "'");
  }
}

// True when a query sent to upstream `u` would reach hush's own listener `l`
// (the same address, or a loopback address while hush listens on all
// addresses): forwarding there would loop until every query times out.
bool is_own_address(const sockaddr_storage& u, const sockaddr_storage& l) {
  if (u.ss_family != l.ss_family) return false;
  if (u.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(u);
    const auto& b = reinterpret_cast<const sockaddr_in&>(l);
    if (a.sin_port != b.sin_port) return false;
    bool loopback = (ntohl(a.sin_addr.s_addr) >> 24) == 127;
    return a.sin_addr.s_addr == b.sin_addr.s_addr || (b.sin_addr.s_addr == INADDR_ANY && loopback);
  }
  const auto& a = reinterpret_cast<const sockaddr_in6&>(u);
  const auto& b = reinterpret_cast<const sockaddr_in6&>(l);
  if (a.sin6_port != b.sin6_port) return false;
  return std::memcmp(&a.sin6_addr, &b.sin6_addr, 16) == 0 ||
         (IN6_IS_ADDR_UNSPECIFIED(&b.sin6_addr) && IN6_IS_ADDR_LOOPBACK(&a.sin6_addr));
}

// The "nameserver" addresses of a resolv.conf; none when it cannot be read.
std::vector<std::string> resolv_conf_nameservers(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line, word, addr;
  while (std::getline(in, line))
    if (std::istringstream words(line); words >> word >> addr && word == "nameserver") out.push_back(addr);
  return out;
}

// Parses upstream.servers (or resolv.conf's nameservers) and the bootstrap
// servers that look up those given by name.
void resolve_upstreams(Config& cfg, const std::vector<std::string>& upstreams, const std::string& where,
                       const std::string& resolv_conf, std::vector<std::string>& errors) {
  cfg.upstream_servers.clear();
  cfg.upstream_addrs.clear();
  cfg.bootstrap_addrs.clear();
  bool by_name = false;
  for (const std::string& u : upstreams) {
    upstream::Server s;
    std::string why;
    if (!parse_upstream(u, s, why)) {
      errors.push_back(where + ": " + why);
      continue;
    }
    by_name = by_name || !s.host.empty();
    cfg.upstream_addrs.push_back(s.addr);
    cfg.upstream_servers.push_back(std::move(s));
  }
  if (!by_name) return;
  std::vector<std::string> bootstrap = cfg.upstream.bootstrap;
  std::string bootstrap_where = cfg.where("upstream.bootstrap");
  if (bootstrap.empty())
    for (const upstream::Server& s : cfg.upstream_servers)
      if (s.transport == upstream::Transport::Udp && bootstrap.empty()) {
        bootstrap.push_back(s.text);
        bootstrap_where = where;
      }
  if (bootstrap.empty()) {
    bootstrap_where = resolv_conf;
    bootstrap = resolv_conf_nameservers(resolv_conf);
  }
  for (const std::string& b : bootstrap) {
    upstream::Server s;
    std::string why;
    if (!parse_upstream(b, s, why))
      errors.push_back(bootstrap_where + ": " + why);
    else if (s.transport != upstream::Transport::Udp && s.transport != upstream::Transport::Tcp)
      errors.push_back(bootstrap_where + ": '" + b + "': a bootstrap server must be plain DNS (it looks up the "
                       "names of the encrypted ones)");
    else
      cfg.bootstrap_addrs.push_back(s.addr);
  }
  if (cfg.bootstrap_addrs.empty() && bootstrap.empty())
    errors.push_back(cfg.where("upstream.bootstrap") + ": an upstream is given by name but no plain server can "
                     "look it up (set upstream.bootstrap, or give the server as tls://ADDR#NAME)");
}

}  // namespace

std::vector<std::string> take_live_keys(const Config& startup, const Config& next, Config& current) {
  std::vector<std::string> restart;
  for (const Key& k : keys()) {
    if (k.live) k.take(current, next);
    else if (!k.same(startup, next)) restart.push_back(k.name);
  }
  return restart;
}

std::optional<bool> key_is_live(const std::string& name) {
  for (const Key& k : keys())
    if (name == k.name) return k.live;
  return std::nullopt;
}

std::vector<KeyChange> differing_keys(const Config& a, const Config& b) {
  std::vector<KeyChange> out;
  for (const Key& k : keys())
    if (k.same && !k.same(a, b)) out.push_back({k.name, k.live});
  return out;
}

bool load_config_file(const std::string& path, Config& cfg, std::vector<std::string>& errors) {
  cfg.file = path;
  std::optional<std::string> text = read_file(path);
  if (!text) {
    errors.push_back(path + ": cannot read the file");
    return false;
  }
  return load_config_text(*text, path, cfg, errors);
}

bool load_config_text(const std::string& text, const std::string& path, Config& cfg,
                      std::vector<std::string>& errors) {
  size_t before = errors.size();
  toml::table parsed;
  try {
    parsed = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    errors.push_back(path + ":" + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()));
    return false;
  }
  Report report = [&](const toml::node& n, const std::string& message) {
    errors.push_back(path + ":" + std::to_string(n.source().begin.line) + ": " + message);
  };
  walk(parsed, "", cfg, report);
  return errors.size() == before;
}

namespace {
// A name certificates are issued for: dot-separated labels of letters,
// digits and hyphens, at least two of them.
bool valid_hostname(const std::string& name) {
  if (name.size() > 253 || name.find('.') == std::string::npos) return false;
  size_t label = 0;
  for (char ch : name + ".") {
    if (ch == '.') {
      if (label == 0 || label > 63) return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

// The listen addresses of `key` (`port` when an address has none).
std::vector<sockaddr_storage> listen_addresses(const Config& cfg, const std::vector<std::string>& list,
                                               const char* key, uint16_t port, std::vector<std::string>& errors) {
  std::vector<sockaddr_storage> out;
  for (const std::string& a : list) {
    sockaddr_storage ss;
    std::string why;
    if (parse_address(a, port, ss, why))
      out.push_back(ss);
    else
      errors.push_back(cfg.where(key) + ": " + why);
  }
  return out;
}

// dot.listen's and doh.listen's addresses, and a certificate that can serve
// them: `hush check` says what is wrong with the PEM files before a restart
// finds out.
void resolve_dot(Config& cfg, std::vector<std::string>& errors) {
  cfg.dot_addrs = listen_addresses(cfg, cfg.dot.listen, "dot.listen", 853, errors);
  cfg.doh_addrs = listen_addresses(cfg, cfg.doh.listen, "doh.listen", 443, errors);
  if (!cfg.tls.server_name.empty() && !valid_hostname(cfg.tls.server_name))
    errors.push_back(cfg.where("tls.server_name") + ": \"" + cfg.tls.server_name +
                     "\" is not a host name (expected e.g. \"dns.example.net\")");
  if (cfg.dot.listen.empty() && cfg.doh.listen.empty() && !cfg.http.tls) return;
  if (cfg.tls.cert.empty() || cfg.tls.key.empty()) {
    const bool dot = !cfg.dot.listen.empty(), doh = !dot && !cfg.doh.listen.empty();
    errors.push_back(cfg.where(dot ? "dot.listen" : doh ? "doh.listen" : "http.tls") + ": " +
                     (dot ? "DNS over TLS" : doh ? "DNS over HTTPS" : "the dashboard over HTTPS") +
                     " needs tls.cert and tls.key (PEM files)");
    return;
  }
  tls::ServerContext ctx;
  if (std::string why; !ctx.load(cfg.tls.cert, cfg.tls.key, why)) errors.push_back("tls: " + why);
}
// The host of an http(s):// URL ("" when it has none).
std::string url_host(const std::string& url) {
  size_t start = url.find("://");
  if (start == std::string::npos) return "";
  start += 3;
  if (start < url.size() && url[start] == '[') {
    size_t close = url.find(']', start);
    return close == std::string::npos ? "" : url.substr(start + 1, close - start - 1);
  }
  return url.substr(start, url.find_first_of(":/", start) - start);
}

// [sync]: the token travels in every request, so plain HTTP is allowed only
// where nobody else can read it. [export]: a syslog target hush can reach.
void resolve_sync_and_export(const Config& cfg, std::vector<std::string>& errors) {
  const std::string& p = cfg.sync.primary;
  if (!p.empty()) {
    std::string host = url_host(p);
    bool https = p.rfind("https://", 0) == 0, http = p.rfind("http://", 0) == 0;
    bool loopback = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
    if ((!https && !http) || host.empty())
      errors.push_back(cfg.where("sync.primary") + ": expected https://HOST:PORT, got " + p);
    else if (http && !loopback)
      errors.push_back(cfg.where("sync.primary") + ": use https:// (http:// only to a primary on loopback)");
    if (cfg.sync.token.empty())
      errors.push_back("sync.token: a replica needs a token (on the primary: hush token create --scope sync)");
  }
  const std::string& s = cfg.log_export.syslog;
  if (!s.empty() && s != "local") {
    bool udp = s.rfind("udp://", 0) == 0, tcp = s.rfind("tcp://", 0) == 0;
    sockaddr_storage ss;
    std::string why;
    if (!udp && !tcp) errors.push_back(cfg.where("export.syslog") + ": expected local, udp://ADDR:PORT or tcp://ADDR:PORT");
    else if (!parse_address(s.substr(6), 514, ss, why)) errors.push_back(cfg.where("export.syslog") + ": " + why);
  }
}

}  // namespace

bool resolve(Config& cfg, std::vector<std::string>& errors, const std::string& resolv_conf) {
  size_t before = errors.size();
  if (cfg.server.listen.empty()) errors.push_back("server.listen: expected at least one address");
  cfg.listen_addrs = listen_addresses(cfg, cfg.server.listen, "server.listen", 53, errors);
  resolve_dot(cfg, errors);
  cfg.http_addr.reset();
  if (!cfg.http.listen.empty()) {
    sockaddr_storage ss;
    std::string why;
    if (parse_address(cfg.http.listen, 8080, ss, why))
      cfg.http_addr = ss;
    else
      errors.push_back("http.listen: " + why);
  }
  if (!cfg.dnstap.socket.empty() && !cfg.dnstap.address.empty())
    errors.push_back("dnstap: set socket or address, not both");
  if (!cfg.dnstap.address.empty()) {
    sockaddr_storage ss;
    std::string why;
    if (!parse_address(cfg.dnstap.address, 6000, ss, why)) errors.push_back("dnstap.address: " + why);
  }
  resolve_sync_and_export(cfg, errors);
  std::vector<std::string> upstreams = cfg.upstream.servers;
  std::string upstream_origin = "upstream.servers";
  if (upstreams.empty()) {
    upstream_origin = resolv_conf;
    upstreams = resolv_conf_nameservers(resolv_conf);
    if (upstreams.empty())
      errors.push_back("upstream.servers: none set and no nameserver in " + resolv_conf +
                       " (use --upstream ADDR[:PORT])");
  }
  std::string where = upstream_origin == "upstream.servers" ? cfg.where(upstream_origin) : upstream_origin;
  resolve_upstreams(cfg, upstreams, where, resolv_conf, errors);
  if (!cfg.upstream.tls_ca_file.empty() && ::access(cfg.upstream.tls_ca_file.c_str(), R_OK) != 0)
    errors.push_back(cfg.where("upstream.tls_ca_file") + ": " + cfg.upstream.tls_ca_file + " cannot be read");
  if (cfg.upstream_addrs.size() > 32) errors.push_back("upstream.servers: at most 32 servers");
  if (cfg.cache.min_ttl > cfg.cache.max_ttl)
    errors.push_back(cfg.where("cache.min_ttl") + ": must not exceed cache.max_ttl");
  if (cfg.dnssec.validate && ::access(cfg.dnssec.trust_anchor.c_str(), R_OK) != 0)
    errors.push_back(cfg.where("dnssec.trust_anchor") + ": " + cfg.dnssec.trust_anchor +
                     " cannot be read (install dns-root-data, or set the file of your trust anchors)");
  const std::string& level = cfg.server.log_level;
  if (level != "debug" && level != "info" && level != "warn" && level != "error")
    errors.push_back(cfg.where("server.log_level") + ": expected one of debug, info, warn, error");
  const std::string& mode = cfg.blocking.mode;
  if (mode != "null" && mode != "nxdomain" && mode != "nodata" && mode != "ip")
    errors.push_back(cfg.where("blocking.mode") + ": expected one of null, nxdomain, nodata, ip");
  if (inet_pton(AF_INET, cfg.blocking.ipv4.c_str(), cfg.block_ipv4) != 1)
    errors.push_back(cfg.where("blocking.ipv4") + ": '" + cfg.blocking.ipv4 + "' is not an IPv4 address");
  if (inet_pton(AF_INET6, cfg.blocking.ipv6.c_str(), cfg.block_ipv6) != 1)
    errors.push_back(cfg.where("blocking.ipv6") + ": '" + cfg.blocking.ipv6 + "' is not an IPv6 address");
  if (cfg.upstream.ecs != "strip" && cfg.upstream.ecs != "forward")
    errors.push_back(cfg.where("upstream.ecs") + ": expected \"strip\" or \"forward\"");
  for (std::string& name : cfg.rebind.allow) {
    for (char& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    while (!name.empty() && name.back() == '.') name.pop_back();
    if (name.empty()) errors.push_back(cfg.where("rebind.allow") + ": a name must not be empty");
  }
  for (upstream::ForwardZone& f : cfg.forwards) {
    for (char& ch : f.domain) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    while (!f.domain.empty() && f.domain.back() == '.') f.domain.pop_back();
    if (f.domain.empty()) errors.push_back("forward: domain must not be empty (use upstream.servers)");
    if (f.servers.empty()) errors.push_back("forward " + f.domain + ": servers must not be empty");
    f.addrs.clear();
    f.parsed.clear();
    for (const std::string& server : f.servers) {
      upstream::Server parsed;
      std::string why;
      if (!parse_upstream(server, parsed, why)) {
        errors.push_back("forward " + f.domain + ": " + why);
      } else if (!parsed.host.empty()) {
        errors.push_back("forward " + f.domain + ": '" + server + "': give the server by address (tls://ADDR#NAME)");
      } else {
        f.addrs.push_back(parsed.addr);
        f.parsed.push_back(std::move(parsed));
      }
    }
  }
  if (cfg.forwards.size() > 200) errors.push_back("forward: at most 200 forward zones");
  for (size_t i = 0; i < cfg.alerts.sinks.size(); ++i)
    for (std::string& e : alerts::check(cfg.alerts.sinks[i], i)) errors.push_back(std::move(e));
  if (cfg.alerts.sinks.size() > 32) errors.push_back("alerts.sink: at most 32 sinks");
  cfg.router_addr.reset();
  if (!cfg.device_names.router.empty()) {
    sockaddr_storage ss;
    std::string why;
    if (parse_address(cfg.device_names.router, 53, ss, why))
      cfg.router_addr = ss;
    else
      errors.push_back(cfg.where("devices.router") + ": " + why);
  }
  cfg.local.records_file = cfg.server.data_dir + "/local.records";
  cfg.access_settings.allow = parse_networks(cfg.access.allow, cfg.where("access.allow").c_str(), errors);
  cfg.access_settings.drop_refused = cfg.access.drop_refused;
  cfg.access_settings.rate_limit = cfg.access.rate_limit;
  cfg.access_settings.rate_window_s = cfg.access.rate_window_s;
  cfg.access_settings.limit_loopback = cfg.access.limit_loopback;
  for (size_t i = 0; i < cfg.lists.size(); ++i) {
    blocklists::ListSource& l = cfg.lists[i];
    // http(s):// lists are downloaded into the data directory before use
    // (fetch_url_lists in policy/url_lists.cpp); other schemes are mistakes.
    bool web = l.path.rfind("http://", 0) == 0 || l.path.rfind("https://", 0) == 0;
    if (l.path.find("://") != std::string::npos && l.path.rfind("file://", 0) != 0 && !web)
      errors.push_back("lists: '" + l.path + "' is neither a file (a path or file://) nor an http(s):// URL");
    if (l.path.rfind("file://", 0) == 0) l.path = l.path.substr(7);
    if (l.name.empty()) {
      std::string p = web ? l.path.substr(0, l.path.find_first_of("?#")) : l.path;
      while (web && p.size() > 1 && p.back() == '/') p.pop_back();
      l.name = p.substr(p.find_last_of('/') + 1);
    }
  }
  return errors.size() == before;
}

bool check_upstream_loops(const Config& cfg, std::vector<std::string>& errors) {
  size_t before = errors.size();
  for (const sockaddr_storage& u : cfg.upstream_addrs)
    for (const sockaddr_storage& l : cfg.listen_addrs)
      if (is_own_address(u, l))
        errors.push_back("upstream " + format_address(u) + " is hush itself (it listens on " +
                         format_address(l) + "); set upstream.servers to the resolvers hush should "
                         "forward to" + (cfg.upstream.servers.empty() ? " (none set, so /etc/resolv.conf was used)" : ""));
  return errors.size() == before;
}

blocklists::PolicyConfig Config::policy_config() const {
  blocklists::PolicyConfig p;
  p.lists = lists;
  p.allow = blocking.allow;
  p.deny = blocking.deny;
  p.clients = clients;
  p.special_names = blocking.special_names;
  p.compiled_cache_path = server.data_dir + "/compiled-lists.bin";
  return p;
}

blocklists::subs::Settings Config::subscription_settings() const {
  blocklists::subs::Settings s;
  s.interval_s = int64_t(subscriptions.interval_hours) * 3600;
  s.max_bytes = subscriptions.max_bytes;
  s.shrink_limit = subscriptions.shrink_limit;
  s.connect_timeout_s = long(subscriptions.connect_timeout_s);
  s.total_timeout_s = long(subscriptions.total_timeout_s);
  return s;
}

}  // namespace hush

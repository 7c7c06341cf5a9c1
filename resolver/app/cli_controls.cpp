#include "app/cli_controls.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

#include "app/cli_format.hpp"
#include "base/clock.hpp"
#include "base/printable.hpp"
#include "policy/controls.hpp"
#include "policy/services.hpp"
#include "querylog/reader.hpp"
#include "hush/blocklists/data_dir.h"

namespace hush {

namespace {

using cli::kFailed, cli::kOk, cli::kUsage, cli::pad;
using nlohmann::json;

struct Run {
  const ControlsCommand& c;
  const Config& cfg;
  std::ostream& out;
  std::ostream& err;
  policy::ControlsStore store{cfg.server.data_dir};
  int64_t now = now_seconds();

  int fail(const std::string& why, int code = kFailed) {
    err << "hush: " << why << "\n";
    return code;
  }

  // The group and label --device / --group / neither stand for; a device
  // joins its own group. False (after saying why) when that fails.
  bool target(std::string& group, std::string& label, bool join) {
    int code = kOk;
    std::string why = resolve_whom(cfg, c.device, c.group, join, group, label, code);
    if (!why.empty()) fail(why, code);
    return why.empty();
  }

  // --for as seconds; 0 and a message when missing or malformed.
  int64_t seconds(bool required) {
    if (c.duration.empty()) {
      if (required) fail("say for how long: --for 30m, 2h or 1d", kUsage);
      return 0;
    }
    auto us = querylog::parse_duration(c.duration);
    if (!us || *us < kSecondUs) {
      fail("--for: expected a duration like 30m, 2h or 1d, not '" + c.duration + "'", kUsage);
      return 0;
    }
    return *us / kSecondUs;
  }

  int add(const std::string& kind, const std::string& what, bool timed) {
    int64_t secs = seconds(timed);
    if (timed && !secs) return kUsage;
    if (!timed && !c.duration.empty() && !secs) return kUsage;
    policy::Control x;
    x.kind = kind;
    x.target = what;
    if (!target(x.group, x.label, true)) return kUsage;
    x.until = secs ? now + secs : 0;
    if (kind == "service") {
      auto settings = cfg.subscription_settings();
      if (std::string why = policy::ensure_service_list(cfg.server.data_dir, settings, what); !why.empty())
        return fail(why, kUsage);
    }
    std::error_code ec;
    std::filesystem::create_directories(cfg.server.data_dir, ec);  // a first use before any `hush serve`
    std::string error;
    auto added = store.add(x, now, error);
    if (!added) return fail(error, kUsage);
    out << describe(*added) << " (id " << added->id << ")\n";
    return kOk;
  }

  std::string describe(const policy::Control& x) {
    std::string what = x.kind == "pause"   ? "blocking paused"
                       : x.kind == "allow" ? "allowed " + x.target
                       : x.kind == "deny"  ? "blocked " + x.target
                                           : "blocked service " + x.target;
    std::string until = x.until ? " until " + cli::local_time(x.until * kSecondUs) : "";
    return what + " for " + printable(x.label) + until;
  }

  int unblock_service() {
    const policy::Service* s = policy::find_service(c.name);
    if (!s) return fail("no service '" + c.name + "' (hush services ls)", kUsage);
    std::string group, label;
    if (!target(group, label, false)) return kUsage;
    std::string error;
    for (const policy::Control& x : store.active(now, &error))
      if (x.kind == "service" && x.target == s->id && x.group == group) {
        if (!store.remove(x.id, now, error)) return fail(error);
        out << "unblocked " << s->name << " for " << printable(label) << "\n";
        return kOk;
      }
    if (!error.empty()) return fail(error);
    return fail(s->name + " is not blocked for " + label, kUsage);
  }

  int list() {
    std::string error;
    auto all = store.active(now, &error);
    if (!error.empty()) return fail(error);
    if (c.json) {
      json j = json::array();
      for (const policy::Control& x : all)
        j.push_back({{"id", x.id}, {"kind", x.kind}, {"target", x.target}, {"group", x.group}, {"label", x.label},
                     {"until", x.until}, {"added", x.added}});
      out << json{{"controls", j}}.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
      return kOk;
    }
    if (all.empty()) {
      out << "no timed exceptions, pauses or blocked services\n";
      return kOk;
    }
    out << pad("ID", 14) << pad("KIND", 9) << pad("NAME", 32) << pad("FOR", 24) << "ENDS\n";
    for (const policy::Control& x : all) {
      std::string ends = x.until ? cli::local_time(x.until * kSecondUs) + " (in " + std::to_string((x.until - now + 59) / 60) + " min)" : "-";
      out << pad(x.id, 14) << pad(x.kind == "deny" ? "block" : x.kind, 9) << pad(printable(x.target.empty() ? "-" : x.target), 32)
          << pad(printable(x.label), 24) << ends << "\n";
    }
    return kOk;
  }

  int services() {
    std::string error;
    auto all = store.active(now, &error);
    if (c.json) {
      json j = json::array();
      for (const policy::Service& s : policy::services()) {
        json blocked = json::array();
        for (const policy::Control& x : all)
          if (x.kind == "service" && x.target == s.id) blocked.push_back({{"id", x.id}, {"group", x.group}, {"label", x.label}, {"until", x.until}});
        j.push_back({{"id", s.id}, {"name", s.name}, {"rules", s.rules}, {"catalog", s.catalog}, {"blocked", blocked}});
      }
      out << json{{"services", j}}.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
      return error.empty() ? kOk : fail(error);
    }
    out << pad("SERVICE", 22) << pad("NAME", 26) << pad("RULES", 40) << "BLOCKED FOR\n";
    for (const policy::Service& s : policy::services()) {
      std::string rules = s.catalog.empty() ? std::to_string(s.rules.size()) + " names" : "catalog list " + s.catalog;
      std::string whom;
      for (const policy::Control& x : all)
        if (x.kind == "service" && x.target == s.id) whom += (whom.empty() ? "" : ", ") + printable(x.label);
      out << pad(s.id, 22) << pad(s.name, 26) << pad(rules, 40) << (whom.empty() ? "-" : whom) << "\n";
    }
    return error.empty() ? kOk : fail(error);
  }
};

}  // namespace

std::string resolve_whom(const Config& cfg, const std::string& device, const std::string& group, bool join,
                         std::string& out_group, std::string& label, int& code) {
  code = kUsage;
  if (!device.empty() && !group.empty()) return "give --device or --group, not both";
  if (!group.empty()) {
    out_group = group;
    label = "group " + group;
    return "";
  }
  if (device.empty()) {
    out_group = std::string(blocklists::kEveryGroup);
    label = "everyone";
    return "";
  }
  code = kFailed;
  sqlite::Error e;
  auto log = querylog::Reader::open(database_path(cfg.server.data_dir), false, e);
  if (!log) return "no query log yet to find the device in: " + e.message;
  auto ids = log->find_devices(device, e);
  if (e) return e.message;
  if (ids.size() != 1) {
    code = kUsage;
    return ids.empty() ? "no device is called or has the address '" + device + "'"
                       : "'" + device + "' names " + std::to_string(ids.size()) + " devices; use its MAC or an address";
  }
  out_group = policy::device_group(ids[0]);
  auto d = log->device(ids[0], 0, e);
  label = d ? d->name : device;
  if (!join) return "";
  return policy::join_device_group(cfg.server.data_dir, ids[0]);
}

bool ControlsCommand::ran() const {
  for (CLI::App* a : with_data_dir())
    if (*a) return true;
  return false;
}

std::vector<CLI::App*> ControlsCommand::with_data_dir() const {
  return {allow, block, pause, ls, cancel, services_ls, services_block, services_unblock};
}

void add_controls_commands(CLI::App& app, ControlsCommand& cmd) {
  auto whom = [&cmd](CLI::App* sub) {
    sub->add_option("--device", cmd.device, "for this device only: name, MAC or address");
    sub->add_option("--group", cmd.group, "for every device of this group (default: everyone)");
  };
  auto* timed = app.add_subcommand("timed", "allow or block a name, or pause blocking, for a while");
  timed->require_subcommand(1);
  cmd.allow = timed->add_subcommand("allow", "allow a name (and the names below it) for a while");
  cmd.block = timed->add_subcommand("block", "block a name (and the names below it) for a while");
  for (CLI::App* sub : {cmd.allow, cmd.block}) {
    sub->add_option("name", cmd.name, "a name (example.com) or a /regex/")->required();
    sub->add_option("--for", cmd.duration, "how long: 30m, 2h, 1d (at most 7d)")->required();
    whom(sub);
  }
  cmd.pause = timed->add_subcommand("pause", "stop blocking for a device or group for a while");
  cmd.pause->add_option("--for", cmd.duration, "how long: 15m, 1h (at most 7d)")->required();
  whom(cmd.pause);
  cmd.ls = timed->add_subcommand("ls", "list the timed exceptions, pauses and blocked services in force");
  cmd.ls->add_flag("--json", cmd.json, "print JSON");
  cmd.cancel = timed->add_subcommand("cancel", "end a timed exception, pause or blocked service now");
  cmd.cancel->add_option("id", cmd.id, "its id (hush timed ls)")->required();

  auto* services = app.add_subcommand("services", "block services (YouTube, TikTok, ...) for a device or group");
  services->require_subcommand(1);
  cmd.services_ls = services->add_subcommand("ls", "list the services and whom each is blocked for");
  cmd.services_ls->add_flag("--json", cmd.json, "print JSON");
  cmd.services_block = services->add_subcommand("block", "block a service");
  cmd.services_block->add_option("--for", cmd.duration, "only for a while: 30m, 2h, 1d (default: until unblocked)");
  cmd.services_unblock = services->add_subcommand("unblock", "undo hush services block");
  for (CLI::App* sub : {cmd.services_block, cmd.services_unblock}) {
    sub->add_option("name", cmd.name, "the service's id or name (hush services ls)")->required();
    whom(sub);
  }
}

int run_controls_command(const ControlsCommand& c, const Config& cfg, std::ostream& out, std::ostream& err) {
  Run r{c, cfg, out, err};
  if (*c.allow) return r.add("allow", c.name, true);
  if (*c.block) return r.add("deny", c.name, true);
  if (*c.pause) return r.add("pause", "", true);
  if (*c.ls) return r.list();
  if (*c.services_ls) return r.services();
  if (*c.services_block) return r.add("service", c.name, false);
  if (*c.services_unblock) return r.unblock_service();
  std::string error;
  if (!r.store.remove(c.id, r.now, error)) return r.fail(error, kUsage);
  out << "cancelled " << c.id << "\n";
  return kOk;
}

}  // namespace hush

// serve's start-up steps for the JSON-lines export ([export]) and for
// following a primary's settings ([sync]).
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "config/config.hpp"
#include "logexport/exporter.hpp"
#include "sync/feed.hpp"
#include "sync/follower.hpp"

namespace hush {

// The exporter when [export] names syslog or a file; null otherwise.
std::unique_ptr<logexport::Exporter> start_export(const Config& cfg, unsigned workers);

// The follower when [sync] names a primary; null otherwise (and then the
// data directory's replica mark, left by an earlier run as a replica, goes).
// `totals` gives the answers and blocked answers since start (the summary a
// replica sends its primary); `applied` runs on the follower's thread after each new version is written,
// `reload` when the configuration file took keys a reload puts in force.
std::unique_ptr<sync::Follower> start_sync(const Config& cfg, const std::string& version,
                                           std::function<std::pair<uint64_t, uint64_t>()> totals,
                                           std::function<void()> applied, std::function<bool()> reload);

}  // namespace hush

namespace hush {

// The command-line tools that change settings refuse on a replica
// (cfg.sync.primary set, or its data directory marked as one): true, with
// the message on `err`, when they must.
bool refused_on_replica(const std::string& configured_primary, const std::string& data_dir, std::ostream& err);

}  // namespace hush

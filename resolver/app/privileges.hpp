// Giving up root: hush started as root (not from its systemd unit, which
// starts it as the `hush` user with CAP_NET_BIND_SERVICE) binds its ports,
// prepares its data directory, then runs as an unprivileged user.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace hush {

struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The user to switch to. `configured` is server.user: unset means "hush"
// when running as root and that user exists, otherwise stay as we are; ""
// means never switch. Returns nullopt when there is nothing to do (not root,
// or no user wanted). A configured user that does not exist is an error:
// returns nullopt and sets `error`.
std::optional<RunAs> user_to_run_as(const std::optional<std::string>& configured, std::string& error);

// Makes `dir` (created already) and everything in it belong to `who`
// (lchown: symbolic links themselves, never their targets), then sets the
// supplementary groups, the group and the user, in that order, and checks
// that root cannot be regained. Call after the listening sockets are open
// and before any thread starts. Returns false with `error` set on failure;
// the caller must then exit rather than run as root.
bool drop_privileges(const RunAs& who, const std::string& dir, std::string& error);

}  // namespace hush

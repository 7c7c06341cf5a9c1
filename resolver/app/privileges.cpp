#include "app/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace hush {

namespace {

std::optional<RunAs> lookup(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found)
    return std::nullopt;
  return RunAs{name, found->pw_uid, found->pw_gid};
}

}  // namespace

std::optional<RunAs> user_to_run_as(const std::optional<std::string>& configured, std::string& error) {
  if (::geteuid() != 0) return std::nullopt;  // e.g. the systemd unit: already unprivileged
  if (!configured) return lookup("hush");     // the package creates this user
  if (configured->empty()) return std::nullopt;
  auto who = lookup(*configured);
  if (!who) error = "server.user: there is no user '" + *configured + "' (set server.user = \"\" to stay root)";
  return who;
}

bool drop_privileges(const RunAs& who, const std::string& dir, std::string& error) {
  namespace fs = std::filesystem;
  auto fail = [&](const std::string& what) {
    error = what + ": " + std::strerror(errno);
    return false;
  };
  if (::lchown(dir.c_str(), who.uid, who.gid) != 0) return fail("cannot hand " + dir + " to " + who.name);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (::lchown(it->path().c_str(), who.uid, who.gid) != 0)
      return fail("cannot hand " + it->path().string() + " to " + who.name);
  }
  if (ec) {
    error = "cannot read " + dir + ": " + ec.message();
    return false;
  }
  if (::setgroups(1, &who.gid) != 0) return fail("setgroups");
  if (::setgid(who.gid) != 0) return fail("setgid");
  if (::setuid(who.uid) != 0) return fail("setuid");
  if (who.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
    error = "still able to regain root after switching to " + who.name;
    return false;
  }
  return true;
}

}  // namespace hush

#include "base/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hush {

FileLock::FileLock(const std::string& path) {
  std::string lock = path + ".lock";
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    error_ = "cannot open " + lock + ": " + std::strerror(errno);
    return;
  }
  // `sudo hush passwd` on a data directory the service user owns: the lock
  // file goes to that user too, or the server could not open it later.
  struct stat dir{};
  std::string parent = path.substr(0, path.find_last_of('/') + 1) + ".";
  if (::geteuid() == 0 && ::stat(parent.c_str(), &dir) == 0 && dir.st_uid != 0) {
    int ignored = ::fchown(fd_, dir.st_uid, dir.st_gid);
    (void)ignored;
  }
  int r;
  do r = ::flock(fd_, LOCK_EX);
  while (r != 0 && errno == EINTR);
  if (r != 0) {
    error_ = "cannot lock " + lock + ": " + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

}  // namespace hush

// One writer at a time for a settings file that the running server and the
// CLI can both change (web-auth.json, rules.json, the local records): each
// takes this lock around its whole read-change-write, so neither overwrites
// what the other just wrote.
#pragma once

#include <string>

namespace hush {

class FileLock {
 public:
  // Blocks until it holds an exclusive lock on `path`.lock (created, mode
  // 0600, beside the file). On failure held() is false and error() says
  // why; the caller then writes without the lock rather than not at all.
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  bool held() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  std::string error_;
};

}  // namespace hush

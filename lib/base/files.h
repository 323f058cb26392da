// Small file helpers shared by the servers and the client: atomic writes, mount-table fields,
// descriptors that close themselves.
#pragma once

#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace dfs {

// Writes content to path through a temporary file and rename, so readers see the old file or
// the whole new one. With sync, the file and its directory are fsynced (durable).
Result<void> writeFileAtomically(const std::string& path, const std::string& content,
                                 bool sync = false);

// A path field of /proc/*/mounts or mountinfo as it is: the kernel writes blanks, newlines and
// backslashes in it as octal escapes (\040).
std::string unescapeMountField(std::string_view field);

// A descriptor closed when it goes out of scope.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd() { reset(); }
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace dfs

// Drops the kernel's cached pages and attributes of a file, then runs a reply, on a thread of
// its own: invalidating pages waits for page locks that readers of the file may hold while
// they wait for the client's thread, so the client's thread must never do it itself.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

struct fuse_session;

namespace dfs::fuse {

class CacheInvalidator {
 public:
  explicit CacheInvalidator(fuse_session* session);
  ~CacheInvalidator();  // runs what is queued, then joins
  // Invalidates ino's cached data and attributes, then calls then().
  void invalidateThen(uint64_t ino, std::function<void()> then);

 private:
  void run();

  fuse_session* session_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<uint64_t, std::function<void()>>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dfs::fuse

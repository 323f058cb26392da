#include "server/chunkserver/write_behind.h"

#include <fcntl.h>
#include <unistd.h>

#include "lib/base/priority.h"

namespace dfs::chunkserver {

WriteBehind::WriteBehind(size_t max_queued, std::chrono::milliseconds delay)
    : max_queued_(max_queued), delay_(delay), thread_([this] { run(); }) {}

WriteBehind::~WriteBehind() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void WriteBehind::add(int fd, uint64_t offset, uint64_t length) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() < max_queued_ && !stopping_) {
      queue_.push_back({fd, offset, length, std::chrono::steady_clock::now() + delay_});
      wake_.notify_one();
      return;
    }
  }
  ::close(fd);
}

size_t WriteBehind::queued() {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void WriteBehind::run() {
  runOnlyWhenIdle();
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left
    if (!stopping_ && queue_.front().due > std::chrono::steady_clock::now()) {
      wake_.wait_until(lock, queue_.front().due);
      continue;
    }
    Range range = queue_.front();
    queue_.pop_front();
    lock.unlock();
    ::sync_file_range(range.fd, static_cast<off_t>(range.offset), static_cast<off_t>(range.length),
                      SYNC_FILE_RANGE_WRITE);
    ::close(range.fd);
    lock.lock();
  }
}

}  // namespace dfs::chunkserver

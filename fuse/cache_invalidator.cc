#include "fuse/cache_invalidator.h"

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

namespace dfs::fuse {

CacheInvalidator::CacheInvalidator(fuse_session* session)
    : session_(session), thread_([this] { run(); }) {}

CacheInvalidator::~CacheInvalidator() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void CacheInvalidator::invalidateThen(uint64_t ino, std::function<void()> then) {
  {
    std::lock_guard lock(mutex_);
    queue_.emplace_back(ino, std::move(then));
  }
  wake_.notify_one();
}

void CacheInvalidator::run() {
  for (;;) {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;
    auto [ino, then] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    // Offset 0, length 0: every cached page, and the attributes.
    fuse_lowlevel_notify_inval_inode(session_, ino, 0, 0);
    then();
  }
}

}  // namespace dfs::fuse

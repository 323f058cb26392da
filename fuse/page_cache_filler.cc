#include "fuse/page_cache_filler.h"

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>

#include <vector>

namespace dfs::fuse {
namespace {

class FuseKernelCache : public PageCacheFiller::KernelCache {
 public:
  explicit FuseKernelCache(fuse_session* session) : session_(session) {}
  void store(uint64_t ino, uint64_t offset, const std::string& data) override {
    fuse_bufvec buffer = FUSE_BUFVEC_INIT(data.size());
    buffer.buf[0].mem = const_cast<char*>(data.data());
    // ENOENT: the kernel forgot the inode meanwhile, nothing to fill.
    int rc = fuse_lowlevel_notify_store(session_, ino, static_cast<off_t>(offset), &buffer,
                                        static_cast<fuse_buf_copy_flags>(0));
    if (rc != 0 && rc != -ENOENT) spdlog::debug("page store of inode {}: {}", ino, rc);
  }
  void drop(uint64_t ino, uint64_t offset, uint64_t length) override {
    fuse_lowlevel_notify_inval_inode(session_, ino, static_cast<off_t>(offset),
                                     static_cast<off_t>(length));
  }

 private:
  fuse_session* session_;
};

constexpr uint64_t kPage = 4096;

}  // namespace

PageCacheFiller::PageCacheFiller(fuse_session* session)
    : PageCacheFiller(std::make_unique<FuseKernelCache>(session)) {}

PageCacheFiller::PageCacheFiller(std::unique_ptr<KernelCache> kernel)
    : kernel_(std::move(kernel)), thread_([this] { run(); }) {}

PageCacheFiller::~PageCacheFiller() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

uint64_t PageCacheFiller::ticket() {
  std::lock_guard lock(mutex_);
  return clock_;
}

void PageCacheFiller::touch(uint64_t ino, int writers_delta) {
  std::lock_guard lock(mutex_);
  if (inodes_.size() >= kMaxTrackedInodes && !inodes_.contains(ino)) {
    // Forget the inodes nobody writes; tickets from before this are refused
    // from now on.
    std::erase_if(inodes_, [](const auto& entry) { return entry.second.writers == 0; });
    forgotten_before_ = clock_ + 1;
  }
  Inode& inode = inodes_[ino];
  inode.changed_at = ++clock_;
  inode.writers += writers_delta;
  if (inode.writers < 0) inode.writers = 0;
}

void PageCacheFiller::opened(uint64_t ino, bool writable) { touch(ino, writable ? 1 : 0); }
void PageCacheFiller::released(uint64_t ino, bool writable) { touch(ino, writable ? -1 : 0); }
void PageCacheFiller::changed(uint64_t ino) { touch(ino, 0); }

bool PageCacheFiller::stillValid(uint64_t ino, uint64_t ticket) const {
  if (ticket < forgotten_before_) return false;
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return true;
  return it->second.writers == 0 && it->second.changed_at <= ticket;
}

void PageCacheFiller::store(uint64_t ino, uint64_t ticket, uint64_t offset, std::string data,
                            uint64_t skip_from, uint64_t skip_to) {
  // Whole pages only on either side of the skipped range (the last page of the
  // file may be partial: the kernel takes it as the file's end).
  uint64_t end = offset + data.size();
  uint64_t before_end = std::min(end, skip_from / kPage * kPage);
  uint64_t after_start = std::max(offset, (skip_to + kPage - 1) / kPage * kPage);
  std::vector<Job> jobs;
  if (offset < before_end)
    jobs.push_back({ino, ticket, offset, data.substr(0, before_end - offset)});
  if (after_start < end)
    jobs.push_back({ino, ticket, after_start, data.substr(after_start - offset)});
  if (jobs.empty()) return;
  {
    std::lock_guard lock(mutex_);
    for (auto& job : jobs) {
      if (queued_bytes_ + job.data.size() > kMaxQueuedBytes || !stillValid(ino, ticket)) return;
      queued_bytes_ += job.data.size();
      queue_.push_back(std::move(job));
    }
  }
  wake_.notify_one();
}

void PageCacheFiller::drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void PageCacheFiller::run() {
  for (;;) {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= job.data.size();
    if (!stillValid(job.ino, job.ticket)) {
      if (queue_.empty()) idle_.notify_all();
      continue;
    }
    busy_ = true;
    lock.unlock();
    kernel_->store(job.ino, job.offset, job.data);
    lock.lock();
    bool valid = stillValid(job.ino, job.ticket);
    lock.unlock();
    // Changed while the store waited for page locks: what it stored may be
    // older than the change, so it goes again.
    if (!valid) kernel_->drop(job.ino, job.offset, job.data.size());
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

}  // namespace dfs::fuse

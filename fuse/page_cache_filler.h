// Puts data the client read beyond what the kernel asked for (the rest of the
// checksum block a chunkserver had to read and verify anyway) into the kernel's
// page cache, so that reads near a random read are served by the kernel without
// a request.
//
// Storing pages takes page locks that readers waiting for the client's thread
// may hold, so it runs on a thread of its own. A store could overwrite newer
// data in the kernel's cache, so it happens only while nothing on this mount
// can have changed the file since the read that fetched the data arrived: no
// handle open for writing, no open, truncate or lock grant in between. A change
// that comes in while a store is under way drops the stored range again. (Other
// mounts' writes reach this mount's cache only through close-to-open, lock
// grants and the client's notice of another mount's change of an open file, all
// of which count as changes here.)
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

struct fuse_session;

namespace dfs::fuse {

class PageCacheFiller {
 public:
  // The kernel call that puts bytes into an inode's pages
  // (fuse_lowlevel_notify_store) and the one that drops a range
  // (fuse_lowlevel_notify_inval_inode); tests pass their own.
  struct KernelCache {
    virtual ~KernelCache() = default;
    virtual void store(uint64_t ino, uint64_t offset, const std::string& data) = 0;
    virtual void drop(uint64_t ino, uint64_t offset, uint64_t length) = 0;
  };
  static constexpr size_t kMaxQueuedBytes = 64 << 20;
  static constexpr size_t kMaxTrackedInodes = 1 << 16;

  explicit PageCacheFiller(fuse_session* session);
  explicit PageCacheFiller(std::unique_ptr<KernelCache> kernel);
  ~PageCacheFiller();  // stores what is queued, then joins

  // Taken when a read arrives; a store with it is refused if the file changed
  // meanwhile.
  uint64_t ticket();
  // An open or create of ino arrived (writable: for writing); its release.
  void opened(uint64_t ino, bool writable);
  void released(uint64_t ino, bool writable);
  // The file may have changed in ways the kernel's pages do not show (truncate,
  // lock grant).
  void changed(uint64_t ino);
  // Stores data at offset into ino's pages, leaving out [skip_from, skip_to)
  // (the pages the kernel is reading from the reply: they are locked, and
  // filled by it anyway).
  void store(uint64_t ino, uint64_t ticket, uint64_t offset, std::string data, uint64_t skip_from,
             uint64_t skip_to);
  // Waits until the queue is empty (tests).
  void drain();

 private:
  struct Inode {
    uint64_t changed_at = 0;
    int writers = 0;
  };
  struct Job {
    uint64_t ino, ticket, offset;
    std::string data;
  };
  bool stillValid(uint64_t ino, uint64_t ticket) const;  // mutex_ held
  void touch(uint64_t ino, int writers_delta);
  void run();

  std::unique_ptr<KernelCache> kernel_;
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::unordered_map<uint64_t, Inode> inodes_;
  uint64_t clock_ = 1;
  // Tickets older than this are refused: what changed before it was forgotten.
  uint64_t forgotten_before_ = 0;
  std::deque<Job> queue_;
  size_t queued_bytes_ = 0;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dfs::fuse

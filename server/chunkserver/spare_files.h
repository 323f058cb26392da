// Empty files created ahead of need, as parallel file systems precreate objects. Creating a
// file costs this kind of file system far more than renaming one (about 800 us against 25 us
// on ext4 here), and a new chunk's first write waits for its replica file: so a thread keeps a
// pool of empty files in DIR/spare, made only with CPU time nobody else wants, and a new
// replica is a rename of one of them. A removed replica's file joins the pool instead of being
// unlinked (recycle): a file system that creates and deletes files in step spends its time
// looking for inodes to allocate (ext4 without a journal skips every recently freed one).
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lib/base/background_worker.h"

namespace dfs::chunkserver {

class SpareFiles {
 public:
  // Reuses the spare files a previous run left in dir and keeps about target of them, and up
  // to max_recycled when removed replicas come back (empty files cost an inode, no space).
  SpareFiles(std::string dir, size_t target, size_t max_recycled = 0);
  ~SpareFiles() = default;  // stops the refill
  SpareFiles(const SpareFiles&) = delete;
  SpareFiles& operator=(const SpareFiles&) = delete;

  // The path of an empty file now owned by the caller (to rename), or nullopt when the pool
  // is empty (the caller creates its file itself).
  std::optional<std::string> take();
  size_t available();
  // Moves the file at path into the pool and empties it; false when the pool is full (the
  // caller unlinks it). Renamed before it is emptied: a crash in between leaves a
  // non-empty spare, which the next start drops, never an empty replica.
  bool recycle(const std::string& path);

 private:
  // Makes files until the pool holds target_ (a task of worker_, queued when the pool falls
  // below half of it).
  void refill();

  std::string dir_;
  size_t target_;
  size_t max_;  // recycled files kept at most
  std::mutex mutex_;  // guards ready_, next_name_ and refilling_
  std::vector<std::string> ready_;
  uint64_t next_name_ = 0;
  bool refilling_ = false;
  BackgroundWorker worker_;  // last: stopped before the rest goes
};

}  // namespace dfs::chunkserver

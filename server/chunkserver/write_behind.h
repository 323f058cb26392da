// Starts the disk write of large chunk writes before anyone flushes them (sync_file_range), so
// that a large file's fsync finds little left to write. Left alone, the kernel starts writing
// back only once a tenth of memory is dirty or after 30 s.
//
// The write-back is started by a thread of its own that runs only on CPU time nobody else
// wants: a copy that never syncs (cp) does not pay for it while it runs, a sequential write that
// waits on the disk anyway gets its data there early. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "lib/base/background_worker.h"

namespace dfs::chunkserver {

class WriteBehind {
 public:
  // A range is started delay after it was added: left alone meanwhile, a writer that is about to
  // finish (cp of a few hundred MiB) does not have its pages go under writeback while it still
  // writes next to them.
  explicit WriteBehind(size_t max_queued = 1024,
                       std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  ~WriteBehind() = default;  // starts what is queued, then joins
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // Takes over fd (a descriptor of its own, closed once the write-back has started). When too
  // much is queued the range is left to the kernel.
  void add(int fd, uint64_t offset, uint64_t length);
  size_t queued() { return worker_.queued(); }

 private:
  std::chrono::milliseconds delay_;
  BackgroundWorker worker_;
};

}  // namespace dfs::chunkserver

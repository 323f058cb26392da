#include "server/chunkserver/write_behind.h"

#include <fcntl.h>

#include "lib/base/files.h"

namespace dfs::chunkserver {

WriteBehind::WriteBehind(size_t max_queued, std::chrono::milliseconds delay)
    : delay_(delay),
      worker_(BackgroundWorker::Options{.name = "write-behind",
                                        .max_queued = max_queued,
                                        .only_when_idle = true}) {}

void WriteBehind::add(int fd, uint64_t offset, uint64_t length) {
  // The task owns fd: closed once the write-back has started, or with a task refused.
  worker_.post(
      [owned = OwnedFd(fd), offset, length] {
        ::sync_file_range(owned.get(), static_cast<off_t>(offset), static_cast<off_t>(length),
                          SYNC_FILE_RANGE_WRITE);
      },
      BackgroundWorker::Clock::now() + delay_);
}

}  // namespace dfs::chunkserver

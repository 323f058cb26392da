// Bytes of an open file to send as they are (sendfile), followed by zeros: what a chunkserver
// answers a read with when the reader checks the checksums itself.
#pragma once

#include <unistd.h>

#include <cstdint>

namespace dfs {

struct FileRegion {
  FileRegion(int fd, uint64_t offset, uint64_t file_bytes, uint64_t zero_bytes)
      : fd(fd), offset(offset), file_bytes(file_bytes), zero_bytes(zero_bytes) {}
  ~FileRegion() {
    if (fd >= 0) ::close(fd);
  }
  FileRegion(const FileRegion&) = delete;
  FileRegion& operator=(const FileRegion&) = delete;

  uint64_t size() const { return file_bytes + zero_bytes; }

  int fd;  // owned
  uint64_t offset;
  // Sent from the file; if it turns out shorter (truncated meanwhile), zeros make up the rest,
  // which the reader's checksums then reject.
  uint64_t file_bytes;
  uint64_t zero_bytes;  // past the file's end
};

}  // namespace dfs

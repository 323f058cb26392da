// Byte buffers for I/O.
#pragma once

#include <malloc.h>

#include <cstddef>
#include <string>

namespace dfs {

// A string of size bytes whose contents are not set: for buffers that a read fills right away
// (zero-filling a megabyte for every chunk read showed up in profiles).
inline std::string uninitializedBuffer(size_t size) {
  std::string buffer;
  // The size is returned as captured: g++ 12's libstdc++ passes the grown capacity, not the
  // size asked for, when a short string grows to 16..29 bytes.
  buffer.resize_and_overwrite(size, [size](char*, size_t) { return size; });
  return buffer;
}

// Chunk I/O allocates and frees megabyte buffers all the time: keep them in the heap instead of
// mapping and unmapping each one (and faulting in freshly zeroed pages). For processes that
// move chunk data: chunkservers and clients.
inline void keepLargeBuffersInHeap() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

}  // namespace dfs

// CRC32C (Castagnoli) of chunk blocks, computed by ISA-L's hardware-accelerated kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace dfs {

// Chunk data is checksummed in blocks of this size: a chunkserver reads and verifies a whole
// block to serve any part of it.
inline constexpr uint64_t kChecksumBlockSize = 64 * 1024;

// crc32c(data) for a fresh checksum; pass a previous result as seed to extend it.
uint32_t crc32c(const void* data, size_t size, uint32_t seed = 0);
inline uint32_t crc32c(std::string_view data, uint32_t seed = 0) {
  return crc32c(data.data(), data.size(), seed);
}

}  // namespace dfs

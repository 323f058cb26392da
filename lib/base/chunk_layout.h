// Where a chunk replica's file keeps what: shared by the chunkserver that writes the files and
// clients on its machine that read them directly (server/chunkserver/local_reads).
//   [0, 4 KiB)      header: magic, chunk id, version, CRC32C of the header
//   [4 KiB, 8 KiB)  CRC32C of each 64 KiB block of data (1024 entries, little-endian)
//   [8 KiB, ...)    data, up to 64 MiB; holes and what lies past the file's end read as zeros
#pragma once

#include <cstdint>

namespace dfs {

// Bytes of a file's data per chunk: the unit of placement, replication, leases and versions.
inline constexpr uint64_t kChunkSize = 64ull << 20;

inline constexpr uint64_t kReplicaHeaderSize = 4096;
inline constexpr uint64_t kReplicaCrcTableOffset = 4096;
inline constexpr uint64_t kReplicaDataOffset = 8192;
inline constexpr uint64_t kReplicaMaxDataSize = kChunkSize;

}  // namespace dfs

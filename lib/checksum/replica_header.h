// The header at the start of every replica file (lib/base/chunk_layout.h): magic, chunk id,
// version and a CRC32C of those. Written by the chunkserver; checked by it at start-up and by
// clients that read replica files directly, which must know the file still is that replica
// (a removed replica's file is reused for another chunk).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/base/status.h"

namespace dfs {

inline constexpr size_t kReplicaHeaderBytes = 28;

struct ReplicaHeader {
  uint64_t chunk_id = 0;
  uint64_t version = 0;
};

// Writes kReplicaHeaderBytes at out.
void encodeReplicaHeader(uint64_t chunk_id, uint64_t version, char* out);
// kCorrupt for a bad magic or checksum.
Result<ReplicaHeader> decodeReplicaHeader(const char* in);

}  // namespace dfs

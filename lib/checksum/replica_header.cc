#include "lib/checksum/replica_header.h"

#include <cstring>

#include "lib/checksum/crc32c.h"

namespace dfs {

namespace {
constexpr char kMagic[8] = {'D', 'F', 'S', 'C', 'H', 'N', 'K', '1'};
}  // namespace

void encodeReplicaHeader(uint64_t chunk_id, uint64_t version, char* out) {
  std::memcpy(out, kMagic, 8);
  std::memcpy(out + 8, &chunk_id, 8);
  std::memcpy(out + 16, &version, 8);
  uint32_t crc = crc32c(out, 24);
  std::memcpy(out + 24, &crc, 4);
}

Result<ReplicaHeader> decodeReplicaHeader(const char* in) {
  if (std::memcmp(in, kMagic, 8) != 0) return makeError(Code::kCorrupt, "bad magic");
  uint32_t crc;
  std::memcpy(&crc, in + 24, 4);
  if (crc != crc32c(in, 24)) return makeError(Code::kCorrupt, "header checksum mismatch");
  ReplicaHeader header;
  std::memcpy(&header.chunk_id, in + 8, 8);
  std::memcpy(&header.version, in + 16, 8);
  return header;
}

}  // namespace dfs

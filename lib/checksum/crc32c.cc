#include "lib/checksum/crc32c.h"

#include <isa-l/crc.h>

namespace dfs {

uint32_t crc32c(const void* data, size_t size, uint32_t seed) {
  // ISA-L's iSCSI CRC is CRC32C without the final inversion and with a raw seed, so invert on
  // both sides to get the standard value (crc32c("123456789") == 0xe3069283).
  return ~crc32_iscsi(static_cast<unsigned char*>(const_cast<void*>(data)), static_cast<int>(size),
                      ~seed);
}

}  // namespace dfs

#include "lib/checksum/crc32c.h"

#include <gtest/gtest.h>

#include "lib/checksum/sha256.h"

namespace dfs {
namespace {

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  // The CRC-32C check value from the Castagnoli polynomial's catalogue entry.
  EXPECT_EQ(crc32c("123456789"), 0xe3069283u);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(Crc32cTest, ExtendsAcrossPieces) {
  std::string data = "hello, distributed file system";
  uint32_t whole = crc32c(data);
  uint32_t pieces = crc32c(std::string_view(data).substr(10), crc32c(std::string_view(data).substr(0, 10)));
  EXPECT_EQ(whole, pieces);
}

TEST(Crc32cTest, DetectsASingleFlippedBit) {
  std::string data(65536, 'a');
  uint32_t before = crc32c(data);
  data[40000] ^= 0x04;
  EXPECT_NE(crc32c(data), before);
}

TEST(Sha256Test, MatchesKnownDigest) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace dfs

#include "lib/base/buffer.h"

#include <gtest/gtest.h>

namespace dfs {
namespace {

TEST(BufferTest, UninitializedBufferHasExactlyTheSizeAskedFor) {
  // Every size around the short-string limit, where g++ 12's resize_and_overwrite misreports.
  for (size_t size = 0; size < 100; ++size) EXPECT_EQ(uninitializedBuffer(size).size(), size);
  EXPECT_EQ(uninitializedBuffer(1 << 20).size(), 1u << 20);
}

}  // namespace
}  // namespace dfs

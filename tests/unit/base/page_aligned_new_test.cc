// unit_tests links lib/base/page_aligned_new.cc, as the chunkserver and the mount do.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/buffer.h"

namespace dfs {
namespace {

bool onPageBoundary(const void* block) { return reinterpret_cast<uintptr_t>(block) % 4096 == 0; }

TEST(PageAlignedNewTest, LargeBlocksStartOnAPageBoundary) {
  std::vector<std::string> payloads;
  for (size_t size : {size_t{256} << 10, size_t{1} << 20, (size_t{1} << 20) + 1, size_t{5000000}}) {
    payloads.push_back(uninitializedBuffer(size));
    EXPECT_TRUE(onPageBoundary(payloads.back().data())) << size;
  }
  std::vector<char> bytes(8 << 20);
  EXPECT_TRUE(onPageBoundary(bytes.data()));
  auto small = std::make_unique<char[]>(100);  // small blocks come from malloc as usual
  EXPECT_NE(small, nullptr);
}

}  // namespace
}  // namespace dfs

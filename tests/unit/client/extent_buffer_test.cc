#include "lib/client/extent_buffer.h"

#include <random>

#include <gtest/gtest.h>

namespace dfs::client {
namespace {

// Flattens extents over a model of the file, 'zero' where nothing is buffered.
std::string flatten(const ExtentBuffer& buffer, size_t size) {
  std::string out(size, '.');
  for (const auto& [offset, data] : buffer.extents()) out.replace(offset, data.size(), data);
  return out;
}

TEST(ExtentBufferTest, SequentialWritesGrowOneExtent) {
  ExtentBuffer buffer;
  buffer.insert(0, "abc");
  buffer.insert(3, "def");
  EXPECT_EQ(buffer.extents().size(), 1u);
  EXPECT_EQ(buffer.bytes(), 6u);
  EXPECT_EQ(buffer.extents().at(0), "abcdef");
}

TEST(ExtentBufferTest, SequentialWritesStartANewExtentOnceOneIsFull) {
  ExtentBuffer buffer(/*max_extent=*/4);
  buffer.insert(0, "ab");
  buffer.insert(2, "cde");  // the extent held less than 4 bytes: appended
  buffer.insert(5, "fgh");  // it is full: a new one, so it can be sent as it is
  buffer.insert(8, "i");
  EXPECT_EQ(buffer.extents().size(), 2u);
  EXPECT_EQ(buffer.extents().at(0), "abcde");
  EXPECT_EQ(buffer.extents().at(5), "fghi");
  EXPECT_EQ(buffer.bytes(), 9u);
  EXPECT_EQ(flatten(buffer, 10), "abcdefghi.");
}

TEST(ExtentBufferTest, NewerBytesWinOverlaps) {
  ExtentBuffer buffer;
  buffer.insert(10, "aaaaaaaaaa");  // [10, 20)
  buffer.insert(30, "bbbbb");       // [30, 35)
  buffer.insert(15, "XXXXXXXXXXXXXXXXX");  // [15, 32) covers the end of a and start of b
  EXPECT_EQ(flatten(buffer, 40), "..........aaaaaXXXXXXXXXXXXXXXXXbbb.....");
  EXPECT_EQ(buffer.bytes(), 25u);
  buffer.insert(12, "YY");  // inside
  EXPECT_EQ(flatten(buffer, 40), "..........aaYYaXXXXXXXXXXXXXXXXXbbb.....");
  EXPECT_EQ(buffer.bytes(), 25u);
}

TEST(ExtentBufferTest, MatchesAFlatModelUnderRandomWrites) {
  std::mt19937 random(42);
  ExtentBuffer buffer;
  std::string model(4096, '.');
  for (int i = 0; i < 2000; ++i) {
    size_t offset = random() % 4000;
    size_t size = 1 + random() % 90;
    std::string data(size, static_cast<char>('a' + i % 26));
    buffer.insert(offset, data);
    model.replace(offset, size, data);
    ASSERT_EQ(flatten(buffer, 4096), model) << "after write " << i;
  }
  size_t counted = 0;
  uint64_t previous_end = 0;
  for (const auto& [offset, data] : buffer.extents()) {
    EXPECT_GE(offset, previous_end);  // disjoint and ordered
    previous_end = offset + data.size();
    counted += data.size();
  }
  EXPECT_EQ(counted, buffer.bytes());
  auto taken = buffer.take();
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.bytes(), 0u);
  EXPECT_FALSE(taken.empty());
}

}  // namespace
}  // namespace dfs::client

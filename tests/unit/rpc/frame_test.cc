#include "lib/rpc/frame.h"

#include <gtest/gtest.h>

namespace dfs::rpc {
namespace {

void storeBigEndian(unsigned char* p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

TEST(FrameTest, HeadEncodesLengthsThatDecodeBack) {
  proto::RpcHeader header;
  header.set_call_id(7);
  header.set_method(proto::LOOKUP);
  std::string head = encodeFrameHead(header, "body!", 100);
  auto sizes = decodeFramePrefix(reinterpret_cast<const unsigned char*>(head.data()));
  ASSERT_TRUE(sizes);
  EXPECT_EQ(sizes->rest_size, head.size() - kFramePrefixSize + 100);
  proto::RpcHeader decoded;
  ASSERT_TRUE(decoded.ParseFromArray(head.data() + kFramePrefixSize, sizes->header_size));
  EXPECT_EQ(decoded.call_id(), 7u);
  EXPECT_EQ(decoded.body_size(), 5u);
}

TEST(FrameTest, RejectsOversizedAndInconsistentPrefixes) {
  unsigned char prefix[kFramePrefixSize];
  storeBigEndian(prefix, kMaxFrameSize + 1);
  storeBigEndian(prefix + 4, 10);
  EXPECT_EQ(decodeFramePrefix(prefix).error().code(), Code::kProtocol);

  storeBigEndian(prefix, 100);
  storeBigEndian(prefix + 4, 0);
  EXPECT_FALSE(decodeFramePrefix(prefix));  // no header

  storeBigEndian(prefix, 100);
  storeBigEndian(prefix + 4, 200);
  EXPECT_FALSE(decodeFramePrefix(prefix));  // header longer than the frame

  storeBigEndian(prefix, 1000);
  storeBigEndian(prefix + 4, kMaxHeaderSize + 1);
  EXPECT_FALSE(decodeFramePrefix(prefix));

  storeBigEndian(prefix, 2);
  storeBigEndian(prefix + 4, 1);
  EXPECT_FALSE(decodeFramePrefix(prefix));
}

}  // namespace
}  // namespace dfs::rpc

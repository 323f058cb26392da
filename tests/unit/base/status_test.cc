#include "lib/base/status.h"

#include <gtest/gtest.h>

namespace dfs {
namespace {

Result<int> half(int value) {
  if (value % 2 != 0) return makeError(Code::kInvalid, "odd");
  return value / 2;
}

Result<int> quarter(int value) {
  DFS_TRY(int h, half(value));
  DFS_TRY(int q, half(h));
  return q;
}

TEST(StatusTest, TryPropagatesTheFirstError) {
  EXPECT_EQ(quarter(8).value(), 2);
  auto odd = quarter(6);
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().code(), Code::kInvalid);
  EXPECT_EQ(odd.error().toString(), "invalid argument: odd");
}

TEST(StatusTest, ContextIsPrepended) {
  Status status(Code::kNotFound, "b");
  EXPECT_EQ(status.withContext("open /a").toString(), "not found: open /a: b");
  EXPECT_TRUE(Status::ok().withContext("x").isOk());
}

TEST(StatusTest, UnknownWireCodesBecomeInternal) {
  EXPECT_EQ(codeFromWire(1), Code::kNotFound);
  EXPECT_EQ(codeFromWire(39), Code::kSessionExpired);
  EXPECT_EQ(codeFromWire(12345), Code::kInternal);
  EXPECT_EQ(codeFromWire(-1), Code::kInternal);
}

}  // namespace
}  // namespace dfs

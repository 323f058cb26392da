#include "lib/client/deferred_attrs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace dfs::client {
namespace {

proto::Attr regularFile(uint32_t bits) {
  proto::Attr attr;
  attr.set_ino(7);
  attr.set_mode(S_IFREG | bits);
  attr.set_uid(1000);
  attr.set_gid(100);
  attr.set_size(4096);
  attr.set_mtime_ns(5);
  return attr;
}

proto::SetAttrRequest request(uint32_t valid) {
  proto::SetAttrRequest request;
  request.set_ino(7);
  request.set_valid(valid);
  return request;
}

TEST(DeferredAttrsTest, AModeThatAddsPermissionsWaitsOneThatRemovesAnyDoesNot) {
  auto widen = request(proto::SET_MODE);
  widen.set_mode(0644);
  auto next = applyDeferrable(regularFile(0600), widen, 99);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->mode(), S_IFREG | 0644u);
  EXPECT_EQ(next->ctime_ns(), 99);
  EXPECT_EQ(next->size(), 4096u);

  auto narrow = request(proto::SET_MODE);
  narrow.set_mode(0640);
  EXPECT_FALSE(applyDeferrable(regularFile(0644), narrow, 99));
  auto swap = request(proto::SET_MODE);  // adds group write, removes other read
  swap.set_mode(0664 & ~04);
  EXPECT_FALSE(applyDeferrable(regularFile(0644), swap, 99));
  auto drop_setgid = request(proto::SET_MODE);
  drop_setgid.set_mode(0755);
  EXPECT_FALSE(applyDeferrable(regularFile(02755), drop_setgid, 99));
}

TEST(DeferredAttrsTest, OnlyAChownToTheSameOwnerWaits) {
  auto same = request(proto::SET_UID | proto::SET_GID);
  same.set_uid(1000);
  same.set_gid(100);
  EXPECT_TRUE(applyDeferrable(regularFile(0644), same, 1));
  auto other_user = same;
  other_user.set_uid(0);
  EXPECT_FALSE(applyDeferrable(regularFile(0644), other_user, 1));
  auto other_group = same;
  other_group.set_gid(0);
  EXPECT_FALSE(applyDeferrable(regularFile(0644), other_group, 1));
  // Even a chown to the same owner clears set-user-id: that is the master's to do.
  EXPECT_FALSE(applyDeferrable(regularFile(04755), same, 1));
}

TEST(DeferredAttrsTest, TimesWaitAndNowIsNow) {
  auto times = request(proto::SET_MTIME | proto::SET_ATIME_NOW);
  times.set_mtime_ns(1234);
  auto next = applyDeferrable(regularFile(0644), times, 777);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->mtime_ns(), 1234);
  EXPECT_EQ(next->atime_ns(), 777);
  auto now = request(proto::SET_MTIME_NOW);
  EXPECT_EQ(applyDeferrable(regularFile(0644), now, 888)->mtime_ns(), 888);
}

TEST(DeferredAttrsTest, SizesAndNonRegularFilesGoToTheMaster) {
  auto resize = request(proto::SET_SIZE | proto::SET_MTIME_NOW);
  EXPECT_FALSE(applyDeferrable(regularFile(0644), resize, 1));
  EXPECT_FALSE(applyDeferrable(regularFile(0644), request(0), 1));
  proto::Attr dir = regularFile(0755);
  dir.set_mode(S_IFDIR | 0755);
  EXPECT_FALSE(applyDeferrable(dir, request(proto::SET_MTIME_NOW), 1));
}

}  // namespace
}  // namespace dfs::client

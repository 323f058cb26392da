#include "lib/client/permissions.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace dfs::client {
namespace {

proto::Attr attrOf(uint32_t mode, uint32_t uid, uint32_t gid) {
  proto::Attr attr;
  attr.set_ino(7);
  attr.set_mode(mode);
  attr.set_uid(uid);
  attr.set_gid(gid);
  return attr;
}

// A caller whose supplementary groups are counted when read.
struct CountingCaller {
  int loads = 0;
  Caller caller;
  CountingCaller(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups)
      : caller(uid, gid, [this, groups] {
          ++loads;
          return groups;
        }) {}
};

Code codeOf(const Result<void>& result) { return result ? Code::kOk : result.error().code(); }

TEST(PermissionsTest, TheOwnerGroupOrOthersBitsDecide) {
  auto file = attrOf(S_IFREG | 0640, 100, 200);
  EXPECT_TRUE(checkAccess(file, Caller(100, 1), kMayRead | kMayWrite));
  EXPECT_EQ(codeOf(checkAccess(file, Caller(100, 1), kMayExec)), Code::kAccessDenied);
  EXPECT_TRUE(checkAccess(file, Caller(101, 200), kMayRead));
  EXPECT_EQ(codeOf(checkAccess(file, Caller(101, 200), kMayWrite)), Code::kAccessDenied);
  EXPECT_EQ(codeOf(checkAccess(file, Caller(101, 201), kMayRead)), Code::kAccessDenied);
  // The owner's own bits count even when others may do more.
  auto odd = attrOf(S_IFREG | 0077, 100, 200);
  EXPECT_EQ(codeOf(checkAccess(odd, Caller(100, 200), kMayRead)), Code::kAccessDenied);
  EXPECT_TRUE(checkAccess(odd, Caller(101, 1), kMayRead));
  // Mask 0 asks only whether it exists.
  EXPECT_TRUE(checkAccess(attrOf(S_IFREG, 100, 200), Caller(101, 1), 0));
}

TEST(PermissionsTest, SupplementaryGroupsAreReadOnlyWhenTheyDecide) {
  auto shared = attrOf(S_IFDIR | 0750, 100, 300);
  CountingCaller member(101, 1, {5, 300});
  EXPECT_TRUE(checkAccess(shared, member.caller, kMayRead | kMayExec));
  EXPECT_EQ(member.loads, 1);
  EXPECT_TRUE(checkAccess(shared, member.caller, kMayExec));
  EXPECT_EQ(member.loads, 1);  // read once per caller

  CountingCaller outsider(101, 1, {5});
  EXPECT_EQ(codeOf(checkAccess(shared, outsider.caller, kMayExec)), Code::kAccessDenied);
  EXPECT_EQ(outsider.loads, 1);

  // Group and others alike, the owner, or the primary group: no need to ask.
  CountingCaller any(101, 1, {300});
  EXPECT_TRUE(checkAccess(attrOf(S_IFDIR | 0755, 100, 300), any.caller, kMayExec));
  EXPECT_TRUE(checkAccess(attrOf(S_IFDIR | 0700, 101, 300), any.caller, kMayExec));
  EXPECT_TRUE(checkAccess(attrOf(S_IFDIR | 0750, 100, 1), any.caller, kMayExec));
  EXPECT_EQ(any.loads, 0);

  // A group's bits also count against a member.
  auto not_for_group = attrOf(S_IFREG | 0604, 100, 300);
  CountingCaller denied(101, 1, {300});
  EXPECT_EQ(codeOf(checkAccess(not_for_group, denied.caller, kMayRead)), Code::kAccessDenied);
  EXPECT_TRUE(checkAccess(not_for_group, Caller(101, 1), kMayRead));
}

TEST(PermissionsTest, RootPassesAllButExecutingWhatNobodyMay) {
  Caller root(0, 0);
  EXPECT_TRUE(checkAccess(attrOf(S_IFREG | 0000, 100, 200), root, kMayRead | kMayWrite));
  EXPECT_TRUE(checkAccess(attrOf(S_IFDIR | 0000, 100, 200), root, kMayExec));
  EXPECT_EQ(codeOf(checkAccess(attrOf(S_IFREG | 0600, 100, 200), root, kMayExec)),
            Code::kAccessDenied);
  EXPECT_TRUE(checkAccess(attrOf(S_IFREG | 0100, 100, 200), root, kMayExec));
}

TEST(PermissionsTest, TheStickyBitKeepsOthersEntries) {
  auto tmp = attrOf(S_IFDIR | 01777, 0, 0);
  auto theirs = attrOf(S_IFREG | 0644, 100, 100);
  EXPECT_EQ(codeOf(checkSticky(tmp, theirs, Caller(101, 101))), Code::kNotPermitted);
  EXPECT_TRUE(checkSticky(tmp, theirs, Caller(100, 1)));
  EXPECT_TRUE(checkSticky(tmp, theirs, Caller(0, 0)));
  EXPECT_TRUE(checkSticky(attrOf(S_IFDIR | 01777, 101, 0), theirs, Caller(101, 1)));
  EXPECT_TRUE(checkSticky(attrOf(S_IFDIR | 0777, 0, 0), theirs, Caller(101, 101)));
}

proto::SetAttrRequest setAttr(uint32_t valid) {
  proto::SetAttrRequest request;
  request.set_ino(7);
  request.set_valid(valid);
  return request;
}

TEST(PermissionsTest, OwnersAndRootChangeAttributes) {
  auto file = attrOf(S_IFREG | 0644, 100, 200);
  auto chown = setAttr(proto::SET_UID);
  chown.set_uid(101);
  EXPECT_EQ(codeOf(checkSetAttr(file, &chown, Caller(100, 200), false)), Code::kNotPermitted);
  EXPECT_TRUE(checkSetAttr(file, &chown, Caller(0, 0), false));
  chown.set_uid(100);  // to the owner it has: allowed for the owner
  EXPECT_TRUE(checkSetAttr(file, &chown, Caller(100, 200), false));

  auto chgrp = setAttr(proto::SET_GID);
  chgrp.set_gid(300);
  EXPECT_TRUE(
      checkSetAttr(file, &chgrp, Caller(100, 1, [] { return std::vector<uint32_t>{300}; }), false));
  EXPECT_EQ(codeOf(checkSetAttr(file, &chgrp, Caller(100, 1), false)), Code::kNotPermitted);
  EXPECT_EQ(codeOf(checkSetAttr(file, &chgrp, Caller(101, 300), false)), Code::kNotPermitted);

  auto chmod = setAttr(proto::SET_MODE);
  chmod.set_mode(0600);
  EXPECT_EQ(codeOf(checkSetAttr(file, &chmod, Caller(101, 200), false)), Code::kNotPermitted);
  EXPECT_TRUE(checkSetAttr(file, &chmod, Caller(100, 1), false));

  // Anyone who writes to a set-user-ID file drops the bit (the kernel asks for it).
  auto privileged = attrOf(S_IFREG | 04777, 100, 200);
  auto drop = setAttr(proto::SET_MODE);
  drop.set_mode(S_IFREG | 0777);  // as the kernel sends it
  EXPECT_TRUE(checkSetAttr(privileged, &drop, Caller(101, 1), false));
  drop.set_mode(0775);
  EXPECT_EQ(codeOf(checkSetAttr(privileged, &drop, Caller(101, 1), false)), Code::kNotPermitted);

  // An owner outside the file's group cannot leave it set-group-ID.
  chmod.set_mode(02755);
  EXPECT_TRUE(checkSetAttr(file, &chmod, Caller(100, 1), false));
  EXPECT_EQ(chmod.mode(), 0755u);
  chmod.set_mode(02755);
  EXPECT_TRUE(checkSetAttr(file, &chmod, Caller(100, 200), false));
  EXPECT_EQ(chmod.mode(), 02755u);
}

TEST(PermissionsTest, TimesAndSizes) {
  auto shared = attrOf(S_IFREG | 0666, 100, 200);
  auto mine_only = attrOf(S_IFREG | 0644, 100, 200);
  auto explicit_times = setAttr(proto::SET_ATIME | proto::SET_MTIME);
  EXPECT_EQ(codeOf(checkSetAttr(shared, &explicit_times, Caller(101, 1), false)),
            Code::kNotPermitted);
  EXPECT_TRUE(checkSetAttr(shared, &explicit_times, Caller(100, 1), false));

  auto touch = setAttr(proto::SET_ATIME_NOW | proto::SET_MTIME_NOW);
  EXPECT_TRUE(checkSetAttr(shared, &touch, Caller(101, 1), false));
  EXPECT_EQ(codeOf(checkSetAttr(mine_only, &touch, Caller(101, 1), false)), Code::kAccessDenied);

  auto truncate = setAttr(proto::SET_SIZE);
  EXPECT_EQ(codeOf(checkSetAttr(mine_only, &truncate, Caller(101, 1), false)), Code::kAccessDenied);
  EXPECT_TRUE(checkSetAttr(mine_only, &truncate, Caller(101, 1), true));
  EXPECT_TRUE(checkSetAttr(shared, &truncate, Caller(101, 1), false));
}

}  // namespace
}  // namespace dfs::client

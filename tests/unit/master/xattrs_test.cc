#include "server/master/xattrs.h"

#include <sys/stat.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "proto/master.pb.h"

namespace dfs::master {
namespace {

// An ACL in the kernel's xattr format from (tag, perm, id) triples.
std::string acl(const std::vector<std::tuple<uint16_t, uint16_t, uint32_t>>& entries) {
  std::string out(4, '\0');
  uint32_t version = 2;
  std::memcpy(out.data(), &version, 4);
  for (auto [tag, perm, id] : entries) {
    char entry[8];
    std::memcpy(entry, &tag, 2);
    std::memcpy(entry + 2, &perm, 2);
    std::memcpy(entry + 4, &id, 4);
    out.append(entry, 8);
  }
  return out;
}
constexpr uint32_t kNone = 0xffffffff;

TEST(XattrsTest, NamesAreCheckedAsExt4Does) {
  EXPECT_TRUE(checkXattrName("user.a").isOk());
  EXPECT_TRUE(checkXattrName("trusted.a").isOk());
  EXPECT_TRUE(checkXattrName("security.selinux").isOk());
  EXPECT_TRUE(checkXattrName(kAclAccess).isOk());
  EXPECT_EQ(checkXattrName("user.").code(), Code::kInvalid);
  EXPECT_EQ(checkXattrName("system.other").code(), Code::kNotSupported);
  EXPECT_EQ(checkXattrName("").code(), Code::kOutOfRange);
  EXPECT_EQ(checkXattrName("user." + std::string(251, 'n')).code(), Code::kOutOfRange);
}

TEST(XattrsTest, SetsFollowTheFlagsAndLimits) {
  Xattrs current{{"user.a", "1"}};
  EXPECT_EQ(checkXattrSet(current, "user.a", "2", proto::XATTR_CREATE_ONLY, false).code(),
            Code::kExists);
  EXPECT_EQ(checkXattrSet(current, "user.b", "2", proto::XATTR_REPLACE_ONLY, false).code(),
            Code::kNoData);
  EXPECT_EQ(checkXattrSet(current, "user.b", std::string(65537, 'x'), 0, false).code(),
            Code::kTooBig);
  current["user.big"] = std::string(60000, 'x');
  EXPECT_EQ(checkXattrSet(current, "user.b", std::string(6000, 'x'), 0, false).code(),
            Code::kNoSpace);
  // Replacing a value counts the new one only.
  EXPECT_TRUE(checkXattrSet(current, "user.big", std::string(65000, 'x'), 0, false).isOk());
  std::string minimal = acl({{0x01, 7, kNone}, {0x04, 5, kNone}, {0x20, 5, kNone}});
  EXPECT_EQ(checkXattrSet({}, kAclDefault, minimal, 0, /*is_dir=*/false).code(),
            Code::kAccessDenied);
  EXPECT_EQ(checkXattrSet({}, kAclAccess, "garbage", 0, false).code(), Code::kInvalid);
  // A named entry needs a mask.
  EXPECT_EQ(checkAcl(acl({{0x01, 7, kNone}, {0x02, 7, 99}, {0x04, 5, kNone}, {0x20, 5, kNone}}))
                .code(),
            Code::kInvalid);
}

TEST(XattrsTest, TheModeAndTheAccessAclAreOneValue) {
  std::string with_mask =
      acl({{0x01, 6, kNone}, {0x02, 7, 99}, {0x04, 4, kNone}, {0x10, 5, kNone}, {0x20, 0, kNone}});
  EXPECT_EQ(*modeWithAcl(S_IFREG | 04777, with_mask), S_IFREG | 04650u);  // group bits: the mask
  EXPECT_FALSE(aclIsMinimal(with_mask));
  std::string changed = aclWithMode(with_mask, 0701);
  EXPECT_EQ(*modeWithAcl(0, changed), 0701u);
  EXPECT_TRUE(aclIsMinimal(acl({{0x01, 7, kNone}, {0x04, 5, kNone}, {0x20, 5, kNone}})));
}

TEST(XattrsTest, NewInodesInheritTheDefaultAclMaskedByTheirMode) {
  std::string default_acl =
      acl({{0x01, 7, kNone}, {0x02, 7, 99}, {0x04, 5, kNone}, {0x10, 7, kNone}, {0x20, 5, kNone}});
  auto file = inheritAcl(default_acl, 0666);
  EXPECT_EQ(file.mode, 0664u);  // owner rw-, mask rw-, other r--
  ASSERT_TRUE(file.access);
  EXPECT_EQ(*modeWithAcl(0, *file.access), 0664u);
  auto minimal = inheritAcl(acl({{0x01, 7, kNone}, {0x04, 5, kNone}, {0x20, 0, kNone}}), 0777);
  EXPECT_EQ(minimal.mode, 0750u);
  EXPECT_FALSE(minimal.access);
}

}  // namespace
}  // namespace dfs::master

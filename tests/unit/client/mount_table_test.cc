#include "lib/client/mount_table.h"

#include <gtest/gtest.h>

namespace dfs::client {
namespace {

constexpr const char* kMounts =
    "/dev/vda / ext4 rw 0 0\n"
    "127.0.0.1:9600 /mnt/dfs fuse.dfs rw,nosuid 0 0\n"
    "127.0.0.1:9700 /mnt/dfs/nested fuse.dfs rw 0 0\n"
    "127.0.0.1:9800 /mnt/with\\040space fuse.dfs rw 0 0\n"
    "other:1 /mnt/sshfs fuse.sshfs rw 0 0\n";

TEST(MountTableTest, FindsTheInnermostDfsMount) {
  auto located = locateOnMount("/mnt/dfs/a/b", kMounts);
  ASSERT_TRUE(located);
  EXPECT_EQ(located->master.toString(), "127.0.0.1:9600");
  EXPECT_EQ(located->path, "/a/b");
  EXPECT_EQ(located->mount_point, "/mnt/dfs");
  EXPECT_EQ(locateOnMount("/mnt/dfs/nested/x", kMounts)->master.port, 9700);
  EXPECT_EQ(locateOnMount("/mnt/dfs", kMounts)->path, "/");
  EXPECT_EQ(locateOnMount("/mnt/with space/f", kMounts)->path, "/f");
}

TEST(MountTableTest, IgnoresOtherFileSystemsAndLookalikePrefixes) {
  EXPECT_FALSE(locateOnMount("/mnt/sshfs/x", kMounts));
  EXPECT_FALSE(locateOnMount("/mnt/dfs2/x", kMounts));
  EXPECT_FALSE(locateOnMount("/home", kMounts));
}

}  // namespace
}  // namespace dfs::client

#include "fuse/kernel_readahead.h"

#include <gtest/gtest.h>

namespace dfs::fuse {
namespace {

constexpr char kMountinfo[] =
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "61 22 0:39 / /tmp/cmp/m rw,nosuid,nodev,relatime shared:30 - fuse.dfs 127.0.0.1:1 rw\n"
    "62 22 0:41 / /mnt/with\\040space rw shared:31 - fuse.dfs 127.0.0.1:2 rw\n"
    "63 61 0:44 / /tmp/cmp/m rw shared:32 - fuse.dfs 127.0.0.1:3 rw\n";

TEST(KernelReadaheadTest, FindsTheDeviceOfTheTopMostMountAtAPath) {
  EXPECT_EQ(mountDevice(kMountinfo, "/"), "254:0");
  EXPECT_EQ(mountDevice(kMountinfo, "/tmp/cmp/m"), "0:44");  // mounted over the first one
  EXPECT_EQ(mountDevice(kMountinfo, "/mnt/with space"), "0:41");
  EXPECT_EQ(mountDevice(kMountinfo, "/tmp/cmp"), std::nullopt);
  EXPECT_EQ(mountDevice("", "/"), std::nullopt);
  EXPECT_EQ(mountDevice("garbage\n\n1 2\n", "/"), std::nullopt);
}

}  // namespace
}  // namespace dfs::fuse

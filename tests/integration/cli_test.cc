// The dfs command line tool against a real cluster, by mount path and by --master.
#include <filesystem>

#include <gtest/gtest.h>

#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

using namespace std::chrono_literals;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { m_ = cluster_.mount("m"); }
  ShellResult dfs(const std::string& args) { return sh(Cluster::binary("tools/dfs") + " " + args); }

  Cluster cluster_;
  std::string m_;
};

TEST_F(CliTest, PutGetStatLsMvRmByMountPath) {
  std::string local = cluster_.dir() + "/local.bin";
  ASSERT_EQ(sh("head -c 3000000 /dev/urandom > " + local).exit_code, 0);
  ASSERT_EQ(dfs("mkdir -p " + m_ + "/x/y").exit_code, 0);
  auto put = dfs("put " + local + " " + m_ + "/x/y/file");
  ASSERT_EQ(put.exit_code, 0) << put.output;
  EXPECT_EQ(sh("cmp " + local + " " + m_ + "/x/y/file").exit_code, 0);

  auto got = dfs("get " + m_ + "/x/y/file " + cluster_.dir() + "/back.bin");
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(sh("cmp " + local + " " + cluster_.dir() + "/back.bin").exit_code, 0);
  EXPECT_EQ(dfs("getrange " + m_ + "/x/y/file 100 5").output,
            readFile(local).substr(100, 5));

  auto stat = dfs("stat " + m_ + "/x/y/file");
  EXPECT_NE(stat.output.find("size:   3000000"), std::string::npos) << stat.output;
  auto ls = dfs("ls -l " + m_ + "/x/y");
  EXPECT_NE(ls.output.find("3000000"), std::string::npos) << ls.output;
  EXPECT_NE(ls.output.find(" file\n"), std::string::npos) << ls.output;

  ASSERT_EQ(dfs("mv " + m_ + "/x/y/file " + m_ + "/moved").exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(m_ + "/moved"));
  ASSERT_EQ(dfs("rm -r " + m_ + "/x").exit_code, 0);
  // The mount may have the entry cached for its entry timeout (1 s).
  EXPECT_TRUE(waitFor([&] { return !std::filesystem::exists(m_ + "/x"); }, 5s));
}

TEST_F(CliTest, InfoListsEveryChunkWithItsReplicas) {
  ASSERT_EQ(sh("head -c 140000000 /dev/zero > " + m_ + "/big").exit_code, 0);
  auto info = dfs("info " + m_ + "/big");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("3 chunks"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("chunk 2: "), std::string::npos);
  EXPECT_NE(info.output.find("replicas 3: "), std::string::npos);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(info.output.find(cluster_.chunkserverAddress(i)), std::string::npos);
  }
}

TEST_F(CliTest, StatusShowsChunkserversAndSpace) {
  writeFile(m_ + "/f", "x");
  auto status = dfs("status " + m_);
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("chunkservers: 3 up of 3"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("files: 1"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("health: ok"), std::string::npos) << status.output;
}

TEST_F(CliTest, MasterFlagNamesTheClusterDirectly) {
  writeFile(m_ + "/hello", "world");
  auto got = dfs("--master " + cluster_.masterAddress() + " get /hello -");
  EXPECT_EQ(got.exit_code, 0);
  EXPECT_EQ(got.output, "world");
}

TEST_F(CliTest, FsckFindsCorruptReplicasWithVerify) {
  ASSERT_EQ(sh("head -c 5000000 /dev/urandom > " + m_ + "/f && echo x > " + m_ + "/g").exit_code, 0);
  auto clean = dfs("fsck " + m_ + " --verify");
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_NE(clean.output.find("2 files, 2 chunks verified: 0 problems"), std::string::npos)
      << clean.output;
  // Flip a byte of one replica's data on disk (f's, the largest).
  auto replica = sh("ls -S " + cluster_.chunkserverDir(0) + "/chunks/*/*.chunk | head -1").output;
  replica.pop_back();
  flipByte(replica, 9000);
  auto damaged = dfs("fsck " + m_ + " --verify");
  EXPECT_EQ(damaged.exit_code, 1) << damaged.output;
  EXPECT_NE(damaged.output.find("crc mismatch"), std::string::npos) << damaged.output;
  EXPECT_NE(damaged.output.find(cluster_.chunkserverAddress(0)), std::string::npos);
}

TEST_F(CliTest, ErrorsAreOneLineAndNonZero) {
  auto missing = dfs("stat " + m_ + "/nope");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.output, "dfs stat: not found: nope\n");
  auto elsewhere = dfs("ls /tmp");
  EXPECT_NE(elsewhere.exit_code, 0);
  EXPECT_NE(elsewhere.output.find("not on a DFS mount"), std::string::npos);
  auto unreachable = dfs("--master 127.0.0.1:1 ls /");
  EXPECT_NE(unreachable.exit_code, 0);
  EXPECT_EQ(std::count(unreachable.output.begin(), unreachable.output.end(), '\n'), 1)
      << unreachable.output;
}

}  // namespace
}  // namespace dfs::testing

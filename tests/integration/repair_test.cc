// Replicas return to their goal on their own: chunks of a dead chunkserver are copied elsewhere,
// and replicas above the goal (a chunkserver that comes back) are dropped.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

using namespace std::chrono_literals;

// Live replica addresses of every chunk of the file.
std::vector<std::vector<std::string>> replicasOf(const Cluster&, const std::string& path) {
  std::vector<std::vector<std::string>> chunks;
  for (auto& chunk : chunksOf(path)) chunks.push_back(std::move(chunk.replicas));
  return chunks;
}

bool allChunksHave(const Cluster& cluster, const std::string& path, size_t count,
                   const std::string& without = "") {
  auto chunks = replicasOf(cluster, path);
  if (chunks.empty()) return false;
  for (const auto& replicas : chunks) {
    if (replicas.size() != count) return false;
    if (!without.empty() && std::find(replicas.begin(), replicas.end(), without) != replicas.end()) {
      return false;
    }
  }
  return true;
}

TEST(RepairTest, ChunksOfADeadChunkserverReturnToGoalAndExtrasAreTrimmed) {
  ClusterOptions options;
  options.chunkservers = 4;
  options.chunkserver_dead_ms = 1500;
  Cluster cluster(options);
  std::string m = cluster.mount("m");
  std::string source = cluster.dir() + "/src";
  ASSERT_EQ(sh("head -c 150000000 /dev/urandom > " + source + " && cp " + source + " " + m +
               "/big && echo small > " + m + "/small").exit_code, 0);
  ASSERT_TRUE(allChunksHave(cluster, m + "/big", 3));

  // Kill a chunkserver that holds replicas of the file.
  std::string victim = replicasOf(cluster, m + "/big")[0][0];
  int victim_index = -1;
  for (int i = 0; i < 4; ++i) {
    if (cluster.chunkserverAddress(i) == victim) victim_index = i;
  }
  ASSERT_GE(victim_index, 0);
  cluster.killChunkserver(victim_index);
  EXPECT_TRUE(waitFor([&] { return allChunksHave(cluster, m + "/big", 3, victim); }, 60s))
      << sh(Cluster::binary("tools/dfs") + " info " + m + "/big").output;
  EXPECT_TRUE(waitFor([&] { return allChunksHave(cluster, m + "/small", 3, victim); }, 60s));

  // The copies are real: with one more chunkserver gone the file still reads back whole.
  std::string second = replicasOf(cluster, m + "/big")[0][0];
  for (int i = 0; i < 4; ++i) {
    if (cluster.chunkserverAddress(i) == second) cluster.killChunkserver(i);
  }
  dropCaches();
  EXPECT_EQ(sh("cmp " + source + " " + m + "/big").exit_code, 0);

  // The first victim comes back: chunks it still holds are above goal until trimmed.
  cluster.startChunkserver(victim_index);
  EXPECT_TRUE(waitFor([&] {
    auto status = sh(Cluster::binary("tools/dfs") + " status " + m).output;
    return status.find("under goal 3: 0)") != std::string::npos &&
           allChunksHave(cluster, m + "/big", 3);
  }, 60s)) << sh(Cluster::binary("tools/dfs") + " info " + m + "/big").output;
  dropCaches();
  EXPECT_EQ(sh("cmp " + source + " " + m + "/big").exit_code, 0);
}

}  // namespace
}  // namespace dfs::testing

namespace dfs::testing {
namespace {

TEST(RepairTest, GoalsAreInheritedAndChangingThemCopiesOrTrims) {
  ClusterOptions options;
  options.chunkservers = 4;
  Cluster cluster(options);
  std::string m = cluster.mount("m");
  auto dfs = [](const std::string& args) { return sh(Cluster::binary("tools/dfs") + " " + args); };
  ASSERT_EQ(sh("mkdir " + m + "/two").exit_code, 0);
  ASSERT_EQ(dfs("setgoal 2 " + m + "/two").exit_code, 0);
  ASSERT_EQ(sh("mkdir " + m + "/two/inner && head -c 3000000 /dev/urandom > " + m +
               "/two/inner/f").exit_code, 0);
  EXPECT_EQ(dfs("getgoal " + m + "/two/inner/f").output, "/two/inner/f: 2\n");
  EXPECT_TRUE(allChunksHave(cluster, m + "/two/inner/f", 2));

  ASSERT_EQ(dfs("setgoal 4 " + m + "/two -r").exit_code, 0);
  EXPECT_TRUE(waitFor([&] { return allChunksHave(cluster, m + "/two/inner/f", 4); }, 30s))
      << dfs("info " + m + "/two/inner/f").output;
  ASSERT_EQ(dfs("setgoal 1 " + m + "/two/inner/f").exit_code, 0);
  EXPECT_TRUE(waitFor([&] { return allChunksHave(cluster, m + "/two/inner/f", 1); }, 30s))
      << dfs("info " + m + "/two/inner/f").output;
  dropCaches();
  EXPECT_EQ(readFile(m + "/two/inner/f").size(), 3000000u);
  EXPECT_NE(dfs("setgoal 0 " + m + "/two").exit_code, 0);
}

TEST(RepairTest, DeletedDataLeavesEveryChunkserverAfterTheGracePeriod) {
  ClusterOptions options;
  options.master_flags = {"--deleted-chunk-grace-ms", "3000"};
  Cluster cluster(options);
  std::string m = cluster.mount("m");
  ASSERT_EQ(sh("head -c 100000000 /dev/zero > " + m + "/big && echo x > " + m + "/small && " +
               "head -c 150000000 /dev/zero > " + m + "/cut").exit_code, 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(replicaFileCount(cluster.chunkserverDir(i)), 6u);  // 2 + 1 + 3 chunks
  ASSERT_EQ(sh("rm " + m + "/big " + m + "/small && truncate -s 1000 " + m + "/cut").exit_code, 0);
  // Within the grace period the replicas are still there...
  for (int i = 0; i < 3; ++i) EXPECT_EQ(replicaFileCount(cluster.chunkserverDir(i)), 6u);
  // ...and then only the one chunk that /cut still references is left.
  EXPECT_TRUE(waitFor([&] {
    return replicaFileCount(cluster.chunkserverDir(0)) == 1 && replicaFileCount(cluster.chunkserverDir(1)) == 1 &&
           replicaFileCount(cluster.chunkserverDir(2)) == 1;
  }, 20s));
  EXPECT_EQ(readFile(m + "/cut"), std::string(1000, '\0'));
}

// A mount killed after its chunk was placed but before its close committed a byte of it: the
// chunk holds nothing the file shows (the writer died before a close or fsync could succeed),
// so it is a hole of its file, not damage. It is neither copied (where its listed chunkservers
// never created it, every copy would fail, once a second, forever) nor counted below goal.
TEST(RepairTest, AChunkPlacedButNeverWrittenIsAHoleNotARepair) {
  ClusterOptions options;
  options.chunkservers = 4;
  options.chunkserver_dead_ms = 3000;
  options.master_flags = {"--session-lease-ms", "2000"};
  Cluster cluster(options);
  std::string m = cluster.mount("m");
  std::string b = cluster.mount("b");
  // A byte far into a new file: its chunk is placed and written, but not committed.
  int fd = ::open((m + "/f").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "x", 1, 2 << 20), 1);
  std::vector<ChunkReplicas> chunks;
  ASSERT_TRUE(waitFor(
      [&] {
        chunks = chunksOf(b + "/f");
        return chunks.size() == 1 && chunks[0].replicas.size() == 3;
      },
      10s));
  cluster.killMount(m);
  ::close(fd);
  for (int i = 0; i < 4; ++i) {
    if (cluster.chunkserverAddress(i) == chunks[0].replicas[0]) cluster.killChunkserver(i);
  }
  // Past the session's end (its write lease with it) and the chunkserver's death.
  std::string dfs = Cluster::binary("tools/dfs");
  ASSERT_TRUE(waitFor([&] { return sh(dfs + " status " + b).output.find("chunkservers: 3 up") !=
                                   std::string::npos; },
                      20s));
  ASSERT_TRUE(waitFor([&] { return sh("stat -c %s " + b + "/f").output == "0\n"; }, 20s));
  auto log = [&] { return cluster.log("master"); };
  // A few repair passes (one a second) go by: none tries to copy the chunk.
  std::string status;
  for (int pass = 0; pass < 4; ++pass) {
    std::this_thread::sleep_for(1s);
    status = sh(dfs + " status " + b).output;
    EXPECT_NE(status.find("health: ok"), std::string::npos) << status;
  }
  EXPECT_EQ(log().find("copy of chunk"), std::string::npos) << log();
  EXPECT_EQ(log().find("copied to"), std::string::npos) << log();
  EXPECT_EQ(sh("cat " + b + "/f").exit_code, 0);
}

}  // namespace
}  // namespace dfs::testing

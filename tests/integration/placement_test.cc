// Where replicas go: a full chunkserver takes no new chunks and writes carry on elsewhere; a
// new chunkserver receives a share of the existing data.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

using namespace std::chrono_literals;

std::string dfsCommand(const std::string& args) { return Cluster::binary("tools/dfs") + " " + args; }

bool holds(const ChunkReplicas& chunk, const std::string& address) {
  return std::find(chunk.replicas.begin(), chunk.replicas.end(), address) != chunk.replicas.end();
}

TEST(PlacementTest, AFullChunkserverTakesNoNewChunksAndWritesGoOn) {
  ClusterOptions options;
  options.chunkserver_dead_ms = 3000;
  options.chunkservers = 4;
  options.chunkserver_tmpfs_mib = {{3, 200}};  // chunkserver 3's disk is small
  Cluster cluster(options);
  std::string m = cluster.mount("m");
  std::string small_disk = cluster.chunkserverAddress(3);
  std::string source = cluster.dir() + "/src";
  ASSERT_EQ(sh("head -c 30000000 /dev/urandom > " + source).exit_code, 0);

  // The first chunk goes to the three big disks; the next one to the least loaded: the small
  // one and two others.
  writeFile(m + "/first", "1");
  int fd = ::open((m + "/victim").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  std::string data = readFile(source);
  ASSERT_EQ(::pwrite(fd, data.data(), 1 << 20, 0), 1 << 20);
  ASSERT_EQ(::fsync(fd), 0);
  auto chunks = chunksOf(m + "/victim");
  ASSERT_EQ(chunks.size(), 1u);
  ASSERT_TRUE(holds(chunks[0], small_disk)) << "placement did not pick the empty chunkserver";

  // Its disk fills up under the writer.
  sh("dd if=/dev/zero of=" + cluster.chunkserverDir(3) + "/filler bs=1M status=none");
  ASSERT_EQ(::pwrite(fd, data.data() + (1 << 20), data.size() - (1 << 20), 1 << 20),
            static_cast<ssize_t>(data.size() - (1 << 20)));
  ASSERT_EQ(::fsync(fd), 0);
  ASSERT_EQ(::close(fd), 0);
  dropCaches();
  EXPECT_EQ(sh("cmp " + source + " " + m + "/victim").exit_code, 0);
  // The chunk left the full chunkserver and is back at 3 replicas on the others.
  EXPECT_TRUE(waitFor([&] {
    auto now = chunksOf(m + "/victim");
    return now.size() == 1 && now[0].replicas.size() == 3 && !holds(now[0], small_disk);
  }, 30s)) << sh(dfsCommand("info " + m + "/victim")).output;

  // New files avoid the full chunkserver once its heartbeat shows it full.
  EXPECT_TRUE(waitFor([&] {
    auto status = sh(dfsCommand("status " + m)).output;
    auto line = status.find(small_disk);
    if (line == std::string::npos) return false;
    std::istringstream fields(status.substr(line + small_disk.size()));
    std::string state;
    uint64_t capacity_mib = 0, used_mib = 0;
    fields >> state >> capacity_mib >> used_mib;
    return capacity_mib > 0 && capacity_mib - used_mib < 64;
  }, 10s));
  ASSERT_EQ(sh("head -c 150000000 /dev/urandom > " + source + " && cp " + source + " " + m +
               "/after").exit_code, 0);
  for (const auto& chunk : chunksOf(m + "/after")) {
    EXPECT_EQ(chunk.replicas.size(), 3u);
    EXPECT_FALSE(holds(chunk, small_disk));
  }
  dropCaches();
  EXPECT_EQ(sh("cmp " + source + " " + m + "/after").exit_code, 0);
}

TEST(PlacementTest, ANewChunkserverReceivesItsShareOfTheData) {
  ClusterOptions options;
  options.chunkserver_dead_ms = 3000;
  options.goal = 2;
  Cluster cluster(options);
  std::string m = cluster.mount("m");
  // 6 chunks, 12 replicas: 4 on each of 3 chunkservers.
  ASSERT_EQ(sh("for i in 1 2 3 4 5 6; do head -c 3000000 /dev/urandom > " + cluster.dir() +
               "/src$i && cp " + cluster.dir() + "/src$i " + m + "/f$i || exit 1; done").exit_code,
            0);
  int added = cluster.addChunkserver();
  std::string address = cluster.chunkserverAddress(added);
  // Moves go on until no move narrows the gap: 3 replicas on each of the 4.
  EXPECT_TRUE(waitFor([&] {
    for (int i = 0; i <= added; ++i) {
      if (replicaFileCount(cluster.chunkserverDir(i)) != 3) return false;
    }
    return true;
  }, 60s)) << sh("ls -R " + cluster.dir() + "/cs*/chunks").output;
  for (int i = 1; i <= 6; ++i) {
    auto chunks = chunksOf(m + "/f" + std::to_string(i));
    ASSERT_EQ(chunks.size(), 1u);
    EXPECT_EQ(chunks[0].replicas.size(), 2u);
  }
  dropCaches();
  for (int i = 1; i <= 6; ++i) {
    EXPECT_EQ(sh("cmp " + cluster.dir() + "/src" + std::to_string(i) + " " + m + "/f" +
                 std::to_string(i)).exit_code, 0);
  }
  auto fsck = sh(dfsCommand("fsck " + m + " --verify"));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
}

}  // namespace
}  // namespace dfs::testing

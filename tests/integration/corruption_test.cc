// Damaged replicas: nothing corrupt reaches a program, the damage is found (by a read or by the
// scrubber) and the replica is rebuilt from a good copy.
#include <filesystem>

#include <gtest/gtest.h>

#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

using namespace std::chrono_literals;

int chunkserverIndex(const Cluster& cluster, int count, const std::string& address) {
  for (int i = 0; i < count; ++i) {
    if (cluster.chunkserverAddress(i) == address) return i;
  }
  return -1;
}

std::string dfsCommand(const std::string& args) { return Cluster::binary("tools/dfs") + " " + args; }

TEST(CorruptionTest, ReadsSkipADamagedReplicaWhichIsThenRebuilt) {
  ClusterOptions options;
  options.chunkserver_dead_ms = 3000;  // repairs start after this grace at start-up
  Cluster cluster(options);
  std::string m = cluster.mount("m");
  std::string source = cluster.dir() + "/src";
  ASSERT_EQ(sh("head -c 5000000 /dev/urandom > " + source + " && cp " + source + " " + m + "/f")
                .exit_code, 0);
  auto chunks = chunksOf(m + "/f");
  ASSERT_EQ(chunks.size(), 1u);
  ASSERT_EQ(chunks[0].replicas.size(), 3u);
  // The replica reads try first is damaged in two places.
  int damaged = chunkserverIndex(cluster, 3, chunks[0].replicas[0]);
  ASSERT_GE(damaged, 0);
  std::string replica = replicaPath(cluster.chunkserverDir(damaged), chunks[0].chunk_id);
  flipByte(replica, kReplicaDataOffset + 1000);
  flipByte(replica, kReplicaDataOffset + 3000000);

  dropCaches();
  EXPECT_EQ(sh("cmp " + source + " " + m + "/f").exit_code, 0);
  // The client reported it: the master rebuilds it in place, after which every replica
  // verifies and has the same content.
  EXPECT_TRUE(waitFor([&] { return sh(dfsCommand("fsck " + m + " --verify")).exit_code == 0; },
                      30s))
      << sh(dfsCommand("fsck " + m + " --verify")).output;
  EXPECT_EQ(chunksOf(m + "/f")[0].replicas.size(), 3u);
  auto status = sh(dfsCommand("status " + m)).output;
  EXPECT_NE(status.find("damaged replicas being rebuilt: 0"), std::string::npos) << status;
  EXPECT_NE(status.find("health: ok"), std::string::npos) << status;
}

TEST(CorruptionTest, TheScrubberFindsDamageNobodyReadsAndItIsRebuilt) {
  ClusterOptions options;
  options.chunkserver_dead_ms = 3000;
  options.chunkserver_flags = {"--scrub-mib-per-s", "256", "--scrub-interval-s", "1"};
  Cluster cluster(options);
  std::string m = cluster.mount("m");
  ASSERT_EQ(sh("head -c 3000000 /dev/urandom > " + m + "/f").exit_code, 0);
  auto chunks = chunksOf(m + "/f");
  ASSERT_EQ(chunks.size(), 1u);
  std::string replica = replicaPath(cluster.chunkserverDir(1), chunks[0].chunk_id);
  uint64_t offset = kReplicaDataOffset + 2000000;
  std::string before = readFile(replica).substr(offset, 1);
  flipByte(replica, offset);
  // Nobody reads the file: the scrubber finds the damage and the replica file is replaced by
  // a good copy.
  EXPECT_TRUE(waitFor([&] {
    std::string now = readFile(replica);
    return now.size() > offset && now.substr(offset, 1) == before;
  }, 30s));
  auto fsck = sh(dfsCommand("fsck " + m + " --verify"));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
  auto status = sh(dfsCommand("status " + m)).output;
  EXPECT_NE(status.find("health: ok"), std::string::npos) << status;
}

}  // namespace
}  // namespace dfs::testing

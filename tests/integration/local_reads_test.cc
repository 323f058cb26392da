// Short-circuit reads (lib/client/local_replicas.h, server/chunkserver/local_reads.h): a client
// on the chunkservers' machine reads their replica files directly, and falls back to the network
// whenever that does not work out.
#include <fcntl.h>
#include <gtest/gtest.h>

#include "lib/client/dfs_client.h"
#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

using namespace std::chrono_literals;
using client::DfsClient;

std::unique_ptr<DfsClient> connect(const Cluster& cluster) {
  auto master = parseHostPort(cluster.masterAddress());
  EXPECT_TRUE(master.has_value());
  client::ClientOptions options;
  options.master = *master;
  auto connected = DfsClient::connect(options);
  EXPECT_TRUE(connected.has_value()) << connected.error().toString();
  return connected ? std::move(*connected) : nullptr;
}

std::string patterned(size_t size, int seed) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 131 + i / 997 + seed) & 0xff);
  return data;
}

// A file of data written through client and closed; its inode.
uint64_t writeFile(DfsClient& client, const std::string& name, const std::string& data) {
  auto created = client.run(client.create(client::kRootIno, name, 0644, 0, 0));
  EXPECT_TRUE(created.has_value()) << created.error().toString();
  if (!created) return 0;
  EXPECT_TRUE(client.run(client.write(created->ino(), 0, data)).has_value());
  EXPECT_TRUE(client.run(client.flush(created->ino())).has_value());
  EXPECT_TRUE(client.run(client.release(created->ino())).has_value());
  return created->ino();
}

// Reads the whole file as a fresh open would (no data or locations kept from before).
std::string readAll(DfsClient& client, uint64_t ino, size_t size) {
  EXPECT_TRUE(client.run(client.open(ino, O_RDONLY)).has_value());
  auto data = client.run(client.read(ino, 0, static_cast<uint32_t>(size)));
  EXPECT_TRUE(data.has_value()) << data.error().toString();
  return data.value_or("");
}

// Whether reads of the file return data and, within the deadline, come through replica files (the
// first read asks the chunkservers for their sockets; reads after it go through them).
bool readsLocally(DfsClient& client, uint64_t ino, const std::string& data) {
  return waitFor(
      [&] { return readAll(client, ino, data.size()) == data && client.bytesReadLocally() > 0; },
      10s);
}

TEST(LocalReadsTest, ReplicasOnThisMachineAreReadFromTheirFiles) {
  Cluster cluster;
  auto client = connect(cluster);
  ASSERT_TRUE(client);
  std::string data = patterned(3 << 20, 1);
  uint64_t ino = writeFile(*client, "f", data);
  EXPECT_TRUE(readsLocally(*client, ino, data));
  uint64_t before = client->bytesReadLocally();
  EXPECT_EQ(readAll(*client, ino, data.size()), data);
  EXPECT_EQ(client->bytesReadLocally(), before + data.size());
}

TEST(LocalReadsTest, DamagedReplicasAreReadOverTheNetworkWhereTheyAreFoundAndRebuilt) {
  ClusterOptions options;
  options.chunkserver_dead_ms = 3000;
  Cluster cluster(options);
  auto client = connect(cluster);
  ASSERT_TRUE(client);
  std::string data = patterned(2 << 20, 2);
  uint64_t ino = writeFile(*client, "f", data);
  ASSERT_TRUE(readsLocally(*client, ino, data));
  auto chunks = client->run(client->chunks(ino));
  ASSERT_TRUE(chunks.has_value());
  ASSERT_EQ(chunks->chunks_size(), 1);
  const auto& chunk = chunks->chunks(0);
  // Every replica but the last is damaged: the direct read of the first one fails its check,
  // the network reads find and report the damage, and the good replica answers.
  for (int i = 0; i + 1 < chunk.replicas_size(); ++i) {
    for (int c = 0; c < 3; ++c) {
      if (cluster.chunkserverAddress(c) == chunk.replicas(i)) {
        flipByte(replicaPath(cluster.chunkserverDir(c), chunk.chunk_id()),
                 kReplicaDataOffset + 1234567);
      }
    }
  }
  uint64_t before = client->bytesReadLocally();
  EXPECT_EQ(readAll(*client, ino, data.size()), data);
  EXPECT_EQ(client->bytesReadLocally(), before);  // nothing damaged came through the files
  std::string fsck =
      Cluster::binary("tools/dfs") + " --master " + cluster.masterAddress() + " fsck / --verify";
  EXPECT_TRUE(waitFor([&] { return sh(fsck).exit_code == 0; }, 30s)) << sh(fsck).output;
  EXPECT_EQ(readAll(*client, ino, data.size()), data);
}

TEST(LocalReadsTest, ChunkserversThatDoNotOfferThemAreReadOverTheNetwork) {
  ClusterOptions options;
  options.chunkserver_flags = {"--local-reads", "false"};
  Cluster cluster(options);
  auto client = connect(cluster);
  ASSERT_TRUE(client);
  std::string data = patterned(1 << 20, 3);
  uint64_t ino = writeFile(*client, "f", data);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(readAll(*client, ino, data.size()), data);
  EXPECT_EQ(client->bytesReadLocally(), 0u);
}

TEST(LocalReadsTest, RestartedChunkserversAreFoundAgain) {
  Cluster cluster;
  auto client = connect(cluster);
  ASSERT_TRUE(client);
  std::string first = patterned(1 << 20, 4);
  uint64_t first_ino = writeFile(*client, "f", first);
  ASSERT_TRUE(readsLocally(*client, first_ino, first));
  for (int c = 0; c < 3; ++c) {
    cluster.killChunkserver(c);
    cluster.startChunkserver(c);
  }
  // A chunk whose replica file was not open before needs the restarted chunkserver's socket.
  std::string second = patterned(1 << 20, 5);
  uint64_t second_ino = writeFile(*client, "g", second);
  uint64_t before = client->bytesReadLocally();
  EXPECT_TRUE(waitFor(
      [&] {
        return readAll(*client, second_ino, second.size()) == second &&
               client->bytesReadLocally() >= before + second.size();
      },
      20s));
  EXPECT_EQ(readAll(*client, first_ino, first.size()), first);
}

}  // namespace
}  // namespace dfs::testing

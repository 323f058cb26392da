// The client library (lib/client) driven directly against a real cluster: orderings a mount
// cannot produce on demand.
#include <gtest/gtest.h>

#include <future>

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
  options.close_behind = true;  // as the mount
  auto connected = DfsClient::connect(options);
  EXPECT_TRUE(connected.has_value()) << connected.error().toString();
  return connected ? std::move(*connected) : nullptr;
}

DfsClient::LockSpec flock(uint64_t ino, uint64_t owner) {
  DfsClient::LockSpec spec;
  spec.ino = ino;
  spec.kind = proto::LOCK_FLOCK;
  spec.type = proto::LOCK_EXCLUSIVE;
  spec.owner = owner;
  return spec;
}

// The kernel names a flock owner by the address of the open file, and reuses it: a process that
// opens and locks right after another one's last close can lock under the id whose release is
// still writing the file out. That release must not drop the new lock (two mounts' appends
// under flock once lost a line to it).
TEST(ClientTest, ALockTakenUnderTheIdOfAnOwnerStillReleasingIsNotDroppedByThatRelease) {
  Cluster cluster;
  auto client = connect(cluster);
  auto other = connect(cluster);
  ASSERT_TRUE(client && other);
  auto created = client->run(client->create(client::kRootIno, "f", 0644, 0, 0));
  ASSERT_TRUE(created.has_value()) << created.error().toString();
  uint64_t ino = created->ino();
  constexpr uint64_t kOwner = 42;
  ASSERT_TRUE(client->run(client->setLock(flock(ino, kOwner), false, 0)).has_value());
  ASSERT_TRUE(client->run(client->write(ino, 0, "under the lock")).has_value());

  // The close returns at once; its release waits for the write-out, which waits for the
  // stopped chunkservers. Meanwhile the same owner id locks again.
  cluster.pauseChunkservers();
  ASSERT_TRUE(client->run(client->flushOnClose(ino)).has_value());
  std::promise<Result<void>> released, relocked;
  client->spawn<void>(client->releaseAndUnlock(ino, {{proto::LOCK_FLOCK, kOwner}}),
                      [&](Result<void> done) { released.set_value(std::move(done)); });
  client->spawn<void>(client->setLock(flock(ino, kOwner), true, client->newWaitId()),
                      [&](Result<void> done) { relocked.set_value(std::move(done)); });
  auto relock = relocked.get_future();
  // Later only makes the check weaker.
  bool waited = relock.wait_for(1s) == std::future_status::timeout;
  cluster.resumeChunkservers();
  EXPECT_TRUE(waited) << "the lock was taken before the release of the same owner ended";
  EXPECT_TRUE(released.get_future().get().has_value());
  ASSERT_EQ(relock.wait_for(30s), std::future_status::ready);
  EXPECT_TRUE(relock.get().has_value());

  // The new lock is held: another owner, on another client, is refused.
  auto refused = other->run(other->setLock(flock(ino, 7), false, 0));
  ASSERT_FALSE(refused.has_value()) << "the release dropped the lock taken after it";
  EXPECT_EQ(refused.error().code(), Code::kLocked);
}

}  // namespace
}  // namespace dfs::testing

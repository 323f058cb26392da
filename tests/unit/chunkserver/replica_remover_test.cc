#include "server/chunkserver/replica_remover.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/unit/chunkserver/store_fixture.h"

namespace dfs::chunkserver {
namespace {

using namespace std::chrono_literals;

class ReplicaRemoverTest : public StoreFixture {
 protected:
  // Until no replica of chunk_id is left, or 10 s.
  bool goneWithin10s(uint64_t chunk_id) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (store_->versionOf(chunk_id) != 0) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }
};

TEST_F(ReplicaRemoverTest, QueuedReplicasAreDeletedInTheBackground) {
  for (uint64_t chunk_id : {1, 2, 3}) {
    ASSERT_TRUE(store_->write(chunk_id, 1, 0, "data", /*create=*/true, false));
  }
  ReplicaRemover remover(*store_);
  remover.add(1);
  remover.add(3);
  remover.add(99);  // no such replica: nothing to do
  EXPECT_TRUE(goneWithin10s(1));
  EXPECT_TRUE(goneWithin10s(3));
  EXPECT_EQ(store_->versionOf(2), 1u);
  EXPECT_FALSE(std::filesystem::exists(store_->pathOf(1)));
}

TEST_F(ReplicaRemoverTest, ADeletionDecidedForAnOlderVersionLeavesANewerCopy) {
  // What the remover asks of the store: the version the replica had when it was queued.
  ASSERT_TRUE(store_->write(7, 1, 0, "old", /*create=*/true, false));
  ASSERT_TRUE(store_->install(7, 2, "new"));
  ASSERT_TRUE(store_->remove(7, /*version=*/1));
  EXPECT_EQ(store_->read(7, 2, 0, 3).value(), "new");
  ASSERT_TRUE(store_->remove(7, /*version=*/2));
  EXPECT_EQ(store_->versionOf(7), 0u);
}

}  // namespace
}  // namespace dfs::chunkserver

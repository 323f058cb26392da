#include "server/master/chunk_manager.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

namespace dfs::master {
namespace {

proto::RegisterChunkserverRequest registration(const std::string& address, uint64_t free_gib) {
  proto::RegisterChunkserverRequest request;
  request.set_address(address);
  request.set_data_dir_id(address);
  request.set_capacity_bytes(1000ull << 30);
  request.set_used_bytes((1000ull - free_gib) << 30);
  return request;
}

// Creates file "f" with count chunks in ns; returns their ids in index order.
std::vector<uint64_t> fileWithChunks(Namespace& ns, uint64_t count) {
  proto::MetaRecord create;
  create.mutable_create_inode()->set_parent(kRootIno);
  create.mutable_create_inode()->set_name("f");
  create.mutable_create_inode()->set_ino(ns.nextIno());
  create.mutable_create_inode()->set_mode(S_IFREG | 0644);
  uint64_t ino = ns.apply(create).value().ino;
  std::vector<uint64_t> ids;
  for (uint64_t index = 0; index < count; ++index) {
    proto::MetaRecord alloc;
    alloc.mutable_alloc_chunk()->set_ino(ino);
    alloc.mutable_alloc_chunk()->set_chunk_index(index);
    alloc.mutable_alloc_chunk()->set_chunk_id(ns.nextChunkId());
    ids.push_back(alloc.alloc_chunk().chunk_id());
    EXPECT_TRUE(ns.apply(alloc));
  }
  return ids;
}

TEST(ChunkManagerTest, PlacesOnDistinctLiveServersMostFreeFirst) {
  Namespace ns;
  ChunkManager chunks(10000);
  uint32_t a = chunks.registerChunkserver(registration("h:1", 10), ns, 0);
  uint32_t b = chunks.registerChunkserver(registration("h:2", 30), ns, 0);
  uint32_t c = chunks.registerChunkserver(registration("h:3", 20), ns, 0);
  EXPECT_EQ(chunks.place(2, {}), (std::vector<uint32_t>{b, c}));
  EXPECT_EQ(chunks.place(5, {}), (std::vector<uint32_t>{b, c, a}));
  EXPECT_EQ(chunks.place(3, {b}), (std::vector<uint32_t>{c, a}));
}

TEST(ChunkManagerTest, SilentServersDieAndMustRegisterAgain) {
  Namespace ns;
  ChunkManager chunks(10000);
  uint32_t a = chunks.registerChunkserver(registration("h:1", 10), ns, 0);
  uint32_t b = chunks.registerChunkserver(registration("h:2", 10), ns, 0);
  proto::ChunkserverHeartbeatRequest beat;
  beat.set_chunkserver_id(b);
  beat.set_capacity_bytes(1000ull << 30);
  ASSERT_TRUE(chunks.heartbeat(beat, 9000));
  EXPECT_EQ(chunks.expireDead(15000), 1);
  EXPECT_FALSE(chunks.server(a)->alive);
  EXPECT_TRUE(chunks.server(b)->alive);
  EXPECT_EQ(chunks.place(3, {}), std::vector<uint32_t>{b});
  beat.set_chunkserver_id(a);
  EXPECT_FALSE(chunks.heartbeat(beat, 15000));
  EXPECT_EQ(chunks.registerChunkserver(registration("h:1", 10), ns, 15000), a);  // same identity
  EXPECT_TRUE(chunks.server(a)->alive);
}

TEST(ChunkManagerTest, BlockReportKeepsCurrentAndDeletesStaleReplicas) {
  Namespace ns;
  ASSERT_EQ(fileWithChunks(ns, 2), (std::vector<uint64_t>{1, 2}));
  proto::MetaRecord bump;
  bump.mutable_set_chunk_version()->set_chunk_id(2);
  bump.mutable_set_chunk_version()->set_version(3);
  ASSERT_TRUE(ns.apply(bump));

  ChunkManager chunks(10000);
  auto request = registration("h:1", 10);
  auto add = [&](uint64_t id, uint64_t version) {
    auto* report = request.add_chunks();
    report->set_chunk_id(id);
    report->set_version(version);
  };
  add(1, 1);   // current
  add(2, 2);   // stale: the namespace is at v3
  add(77, 1);  // unknown: left alone
  uint32_t id = chunks.registerChunkserver(request, ns, 0);
  EXPECT_EQ(chunks.replicas(1), std::vector<uint32_t>{id});
  EXPECT_TRUE(chunks.replicas(2).empty());
  proto::ChunkserverHeartbeatRequest beat;
  beat.set_chunkserver_id(id);
  EXPECT_EQ(chunks.heartbeat(beat, 1).value(), std::vector<uint64_t>{2});
  chunks.release(1, 2);
  EXPECT_EQ(chunks.heartbeat(beat, 2).value(), std::vector<uint64_t>{1});
}

TEST(ChunkManagerTest, ReleasedChunksAreDeletedAfterTheGracePeriod) {
  Namespace ns;
  ChunkManager chunks(100000, /*deleted_grace_ms=*/5000);
  uint32_t id = chunks.registerChunkserver(registration("h:1", 10), ns, 0);
  chunks.setReplicas(9, {id});
  chunks.release(9, 1000);
  proto::ChunkserverHeartbeatRequest beat;
  beat.set_chunkserver_id(id);
  chunks.releaseDue(5999);
  EXPECT_TRUE(chunks.heartbeat(beat, 5999)->empty());
  chunks.releaseDue(6000);
  EXPECT_EQ(chunks.heartbeat(beat, 6000).value(), std::vector<uint64_t>{9});
}

TEST(ChunkManagerTest, UnreferencedReplicasAreDeletedAfterTheGracePeriod) {
  Namespace ns;
  ChunkManager chunks(100000);
  auto request = registration("h:1", 10);
  auto* report = request.add_chunks();
  report->set_chunk_id(500);
  report->set_version(3);
  uint32_t id = chunks.registerChunkserver(request, ns, 1000);
  EXPECT_TRUE(chunks.isLeftover(500));
  EXPECT_EQ(chunks.collectUnreferenced(ns, 1500, 1000), 0u);  // still in its grace period
  proto::ChunkserverHeartbeatRequest beat;
  beat.set_chunkserver_id(id);
  EXPECT_TRUE(chunks.heartbeat(beat, 1500)->empty());
  EXPECT_EQ(chunks.collectUnreferenced(ns, 2000, 1000), 1u);
  EXPECT_EQ(chunks.heartbeat(beat, 2000).value(), std::vector<uint64_t>{500});
  EXPECT_FALSE(chunks.isLeftover(500));
}

TEST(ChunkManagerTest, RepairPlanCopiesTheMostEndangeredFirstAndTrimsExtras) {
  Namespace ns;
  std::vector<uint64_t> ids = fileWithChunks(ns, 4);
  ChunkManager chunks(10000);
  uint32_t a = chunks.registerChunkserver(registration("h:1", 10), ns, 0);
  uint32_t b = chunks.registerChunkserver(registration("h:2", 20), ns, 0);
  uint32_t c = chunks.registerChunkserver(registration("h:3", 30), ns, 0);
  uint32_t d = chunks.registerChunkserver(registration("h:4", 40), ns, 0);
  chunks.setReplicas(ids[0], {a, b});        // 2 of 3
  chunks.setReplicas(ids[1], {a});           // 1 of 3: first
  chunks.setReplicas(ids[2], {a, b, c, d});  // 4 of 3: trim the fullest (a)
  chunks.setReplicas(ids[3], {b});           // 1 of 3, but being written
  ASSERT_TRUE(chunks.acquireLease(ids[3], 1, 0, 60000));

  auto plan = chunks.planRepairs(ns, 3, 2, {}, 100);
  ASSERT_EQ(plan.copies.size(), 2u);
  EXPECT_EQ(plan.copies[0].chunk_id, ids[1]);
  EXPECT_EQ(plan.copies[0].source, a);
  EXPECT_EQ(plan.copies[0].target, d);  // most free space
  EXPECT_EQ(plan.copies[1].chunk_id, ids[0]);
  EXPECT_NE(plan.copies[1].target, d);  // one copy per target at a time
  EXPECT_NE(plan.copies[1].target, a);
  EXPECT_NE(plan.copies[1].target, b);
  ASSERT_EQ(plan.extra.size(), 1u);
  EXPECT_EQ(plan.extra[0], std::make_pair(ids[2], a));

  // Chunks already being copied wait for the copy to finish.
  auto next = chunks.planRepairs(ns, 3, 5, {ids[0], ids[1]}, 100);
  EXPECT_TRUE(next.copies.empty());
}

TEST(ChunkManagerTest, OneWriterPerChunk) {
  ChunkManager chunks(10000);
  EXPECT_TRUE(chunks.acquireLease(5, /*session=*/1, 0, 1000));
  EXPECT_FALSE(chunks.acquireLease(5, 2, 500, 1000));
  EXPECT_TRUE(chunks.acquireLease(5, 1, 500, 1000));  // the holder extends it
  EXPECT_TRUE(chunks.acquireLease(5, 2, 1600, 1000));  // expired
  chunks.releaseAllLeases(2);
  EXPECT_TRUE(chunks.acquireLease(5, 3, 1700, 1000));
}

}  // namespace
}  // namespace dfs::master

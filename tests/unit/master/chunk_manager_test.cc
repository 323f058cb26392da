#include "server/master/chunk_manager.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <map>
#include <set>

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

// Creates file "name" with count chunks in ns, its size committed through all of them unless
// committed is false; returns their ids in index order.
std::vector<uint64_t> fileWithChunks(Namespace& ns, uint64_t count, bool committed = true,
                                     const std::string& name = "f") {
  proto::MetaRecord create;
  create.mutable_create_inode()->set_parent(kRootIno);
  create.mutable_create_inode()->set_name(name);
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
  if (committed) {
    proto::MetaRecord commit;
    commit.mutable_commit_write()->set_ino(ino);
    commit.mutable_commit_write()->set_min_size(count * kChunkSize);
    EXPECT_TRUE(ns.apply(commit));
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

// Chunks reserved ahead are spread over the chunkservers and weigh on no load until a commit
// binds them; a block report's replica of one is kept as its placement, not collected as a
// leftover; a released one is deleted where it was placed.
TEST(ChunkManagerTest, ReservedChunksAreSpreadBoundOrDeletedWhereTheyWerePlaced) {
  Namespace ns;
  ChunkManager chunks(100000);
  std::set<uint64_t> reserved = {900, 901, 902, 903, 904, 905};
  chunks.setReservedCheck([&](uint64_t id) { return reserved.contains(id); });
  uint32_t a = chunks.registerChunkserver(registration("h:1", 10), ns, 0);
  uint32_t b = chunks.registerChunkserver(registration("h:2", 10), ns, 0);
  uint32_t c = chunks.registerChunkserver(registration("h:3", 10), ns, 0);
  auto placed = chunks.placeReserved(2, {900, 901, 902});
  ASSERT_EQ(placed.size(), 3u);
  std::map<uint32_t, int> per_server;
  for (const auto& servers : placed) {
    ASSERT_EQ(servers.size(), 2u);
    EXPECT_NE(servers[0], servers[1]);
    for (uint32_t server : servers) per_server[server]++;
  }
  EXPECT_EQ(per_server, (std::map<uint32_t, int>{{a, 2}, {b, 2}, {c, 2}}));
  for (uint32_t server : {a, b, c}) EXPECT_EQ(chunks.server(server)->replica_count, 0u);
  EXPECT_TRUE(chunks.replicas(900).empty());

  chunks.bindReserved(900, {placed[0][0]});
  EXPECT_EQ(chunks.replicas(900).size(), 2u);
  EXPECT_TRUE(chunks.reservedPlacement(900).empty());

  // A restarted master learns placements from block reports.
  auto request = registration("h:1", 10);
  auto* report = request.add_chunks();
  report->set_chunk_id(904);
  report->set_version(1);
  EXPECT_EQ(chunks.registerChunkserver(request, ns, 10), a);
  EXPECT_FALSE(chunks.isLeftover(904));
  EXPECT_EQ(chunks.reservedPlacement(904), std::vector<uint32_t>{a});
  EXPECT_EQ(chunks.collectUnreferenced(ns, 100000, 1000), 0u);

  ChunkManager deleting(100000, /*deleted_grace_ms=*/0);
  deleting.setReservedCheck([&](uint64_t id) { return reserved.contains(id); });
  uint32_t x = deleting.registerChunkserver(registration("h:1", 10), ns, 0);
  deleting.placeReserved(1, {905});
  deleting.release(905, 0);
  deleting.releaseDue(1);
  proto::ChunkserverHeartbeatRequest beat;
  beat.set_chunkserver_id(x);
  EXPECT_EQ(deleting.heartbeat(beat, 2).value(), std::vector<uint64_t>{905});
  EXPECT_TRUE(deleting.reservedPlacement(905).empty());
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

// A chunk placed for a writer that never committed a byte of it is a hole, not damage: it is
// neither copied nor counted below goal, and a listed server that never had it is forgotten.
TEST(ChunkManagerTest, AChunkNoCommittedByteReachesIsNeitherRepairedNorCounted) {
  Namespace ns;
  uint64_t written = fileWithChunks(ns, 1)[0];
  uint64_t placed = fileWithChunks(ns, 1, /*committed=*/false, "g")[0];
  ChunkManager chunks(10000);
  uint32_t a = chunks.registerChunkserver(registration("h:1", 10), ns, 0);
  uint32_t b = chunks.registerChunkserver(registration("h:2", 20), ns, 0);
  chunks.registerChunkserver(registration("h:3", 30), ns, 0);
  chunks.setReplicas(written, {a, b});
  chunks.setReplicas(placed, {a, b});
  EXPECT_TRUE(ns.holdsCommittedData(written));
  EXPECT_FALSE(ns.holdsCommittedData(placed));
  EXPECT_EQ(chunks.underReplicated(ns, 3), 1u);
  auto plan = chunks.planRepairs(ns, 3, 5, {}, 100);
  ASSERT_EQ(plan.copies.size(), 1u);
  EXPECT_EQ(plan.copies[0].chunk_id, written);

  chunks.forgetReplica(placed, a);
  EXPECT_EQ(chunks.liveReplicas(placed), std::vector<uint32_t>{b});
}

TEST(ChunkManagerTest, DamagedReplicaIsRebuiltInPlaceFromAGoodOne) {
  Namespace ns;
  std::vector<uint64_t> ids = fileWithChunks(ns, 1);
  ChunkManager chunks(10000);
  uint32_t a = chunks.registerChunkserver(registration("h:1", 10), ns, 0);
  uint32_t b = chunks.registerChunkserver(registration("h:2", 10), ns, 0);
  uint32_t c = chunks.registerChunkserver(registration("h:3", 10), ns, 0);
  chunks.registerChunkserver(registration("h:4", 90), ns, 0);  // empty: not a target here
  chunks.setReplicas(ids[0], {a, b, c});
  EXPECT_TRUE(chunks.markDamaged(ids[0], c));
  EXPECT_FALSE(chunks.markDamaged(ids[0], c));  // reported twice
  EXPECT_EQ(chunks.liveReplicas(ids[0]), (std::vector<uint32_t>{a, b}));  // no longer served
  EXPECT_EQ(chunks.damagedCount(), 1u);

  auto plan = chunks.planRepairs(ns, 3, 2, {}, 0);
  ASSERT_EQ(plan.copies.size(), 1u);  // a rebuild, not a second copy elsewhere
  EXPECT_EQ(plan.copies[0].source, a);
  EXPECT_EQ(plan.copies[0].target, c);
  EXPECT_TRUE(plan.copies[0].replace_damaged);

  // Until rebuilt, a block report from c does not make the damaged replica count again.
  auto report = registration("h:3", 10);
  report.add_chunks()->set_chunk_id(ids[0]);
  report.mutable_chunks(0)->set_version(1);
  EXPECT_EQ(chunks.registerChunkserver(report, ns, 10), c);
  EXPECT_EQ(chunks.liveReplicas(ids[0]).size(), 2u);

  chunks.repaired(ids[0], c);
  EXPECT_EQ(chunks.liveReplicas(ids[0]).size(), 3u);
  EXPECT_EQ(chunks.damagedCount(), 0u);
  EXPECT_TRUE(chunks.planRepairs(ns, 3, 2, {}, 0).copies.empty());
}

TEST(ChunkManagerTest, NewChunkserversReceiveDataUntilBalanced) {
  Namespace ns;
  std::vector<uint64_t> ids = fileWithChunks(ns, 6);
  ChunkManager chunks(10000);
  uint32_t a = chunks.registerChunkserver(registration("h:1", 500), ns, 0);
  uint32_t b = chunks.registerChunkserver(registration("h:2", 500), ns, 0);
  for (uint64_t id : ids) chunks.setReplicas(id, {a, b});
  EXPECT_TRUE(chunks.planRepairs(ns, 2, 2, {}, 0).copies.empty());  // balanced

  uint32_t c = chunks.registerChunkserver(registration("h:3", 500), ns, 0);
  EXPECT_EQ(chunks.place(1, {}), std::vector<uint32_t>{c});  // least loaded first
  int moves = 0;
  for (int pass = 0; pass < 20; ++pass) {
    auto plan = chunks.planRepairs(ns, 2, 2, {}, 0);
    for (const auto& [chunk_id, server] : plan.extra) chunks.dropReplica(chunk_id, server);
    if (plan.copies.empty() && plan.extra.empty()) break;
    for (const auto& copy : plan.copies) {
      EXPECT_TRUE(copy.rebalance);
      EXPECT_EQ(copy.target, c);
      chunks.addReplica(copy.chunk_id, copy.target);
      moves++;
    }
  }
  // 12 replicas over 3 equal servers: 4 each, every chunk still at its goal of 2.
  EXPECT_EQ(moves, 4);
  EXPECT_EQ(chunks.server(a)->replica_count, 4u);
  EXPECT_EQ(chunks.server(b)->replica_count, 4u);
  EXPECT_EQ(chunks.server(c)->replica_count, 4u);
  for (uint64_t id : ids) EXPECT_EQ(chunks.liveReplicas(id).size(), 2u);
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

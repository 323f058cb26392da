#include "server/master/sessions.h"

#include <gtest/gtest.h>

namespace dfs::master {
namespace {

TEST(SessionsTest, SessionsExpireWithoutKeepAlive) {
  SessionTable sessions(1000);
  uint64_t a = sessions.create("h", 1, "/m", 0);
  uint64_t b = sessions.create("h", 2, "/n", 0);
  EXPECT_NE(a, b);
  ASSERT_TRUE(sessions.renew(b, 900).isOk());
  auto expired = sessions.expired(1000);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0], a);
  EXPECT_NE(sessions.find(a), nullptr);  // until its close is applied
  ASSERT_TRUE(sessions.close(a));
  EXPECT_EQ(sessions.find(a), nullptr);
  EXPECT_FALSE(sessions.renew(a, 1000).isOk());
  EXPECT_NE(sessions.find(b), nullptr);
}

TEST(SessionsTest, OpenCountsSpanSessions) {
  SessionTable sessions(1000);
  Session& a = *sessions.find(sessions.create("h", 1, "", 0));
  Session& b = *sessions.find(sessions.create("h", 2, "", 0));
  sessions.open(a, 7);
  sessions.open(a, 7);
  sessions.open(b, 7);
  EXPECT_FALSE(sessions.release(a, 7));
  EXPECT_FALSE(sessions.release(a, 7));
  EXPECT_TRUE(sessions.isOpen(7));
  EXPECT_TRUE(sessions.release(b, 7));
  EXPECT_FALSE(sessions.isOpen(7));
  EXPECT_FALSE(sessions.release(b, 7));  // a release without an open changes nothing
}

TEST(SessionsTest, ExpiryAndCloseDropTheSessionsOpens) {
  SessionTable sessions(1000);
  uint64_t a = sessions.create("h", 1, "", 0);
  uint64_t b = sessions.create("h", 2, "", 0);
  sessions.open(*sessions.find(a), 7);
  sessions.open(*sessions.find(b), 8);
  ASSERT_TRUE(sessions.renew(b, 500).isOk());
  ASSERT_EQ(sessions.expired(1000), std::vector<uint64_t>{a});
  EXPECT_TRUE(sessions.isOpen(7));
  ASSERT_TRUE(sessions.close(a));
  EXPECT_FALSE(sessions.isOpen(7));
  auto closed = sessions.close(b);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->open_inodes.at(8), 1u);
  EXPECT_FALSE(sessions.isOpen(8));
}

// A client's creates answered by itself use reserved numbers in order, each once.
TEST(SessionsTest, ReservedInodeNumbersAreUsedOnceAndOnlyByTheirSession) {
  SessionTable sessions(1000);
  uint64_t a = sessions.create("h", 1, "", 0);
  uint64_t b = sessions.create("h", 2, "", 0);
  sessions.reserveInodes(a, 100, 104);
  EXPECT_TRUE(sessions.mayUseReserved(a, 100));
  EXPECT_TRUE(sessions.mayUseReserved(a, 103));
  EXPECT_FALSE(sessions.mayUseReserved(a, 104));
  EXPECT_FALSE(sessions.mayUseReserved(b, 100));
  sessions.useReserved(a, 101);
  EXPECT_FALSE(sessions.mayUseReserved(a, 100));  // numbers below a used one are gone too
  EXPECT_FALSE(sessions.mayUseReserved(a, 101));
  EXPECT_TRUE(sessions.mayUseReserved(a, 102));
  sessions.useReserved(a, 103);
  EXPECT_TRUE(sessions.find(a)->reserved_inodes.empty());
  // A session keeps its last few ranges; the oldest go first.
  for (uint64_t first = 200; first < 1000; first += 100)
    sessions.reserveInodes(a, first, first + 10);
  EXPECT_FALSE(sessions.mayUseReserved(a, 200));
  EXPECT_TRUE(sessions.mayUseReserved(a, 900));
  EXPECT_TRUE(sessions.mayUseReserved(a, 600));
  sessions.close(a);
  EXPECT_FALSE(sessions.mayUseReserved(a, 900));
  sessions.reserveInodes(a, 1000, 1010);  // an ended session gets nothing
  EXPECT_FALSE(sessions.mayUseReserved(a, 1000));
}

}  // namespace
// Chunk ids reserved for small files' first chunks are used in order; the ones passed over
// (their write failed) and those of a range the session no longer keeps come back, to be
// released, and every reserved id is known as reserved until then.
TEST(SessionsTest, ReservedChunksPassedOverOrDroppedComeBackForRelease) {
  SessionTable sessions(1000);
  uint64_t a = sessions.create("h", 1, "", 0);
  uint64_t b = sessions.create("h", 2, "", 0);
  EXPECT_TRUE(sessions.reserveChunks(a, 10, 14).empty());
  EXPECT_TRUE(sessions.reserveChunks(a, 20, 22).empty());
  EXPECT_TRUE(sessions.mayUseReservedChunk(a, 12));
  EXPECT_FALSE(sessions.mayUseReservedChunk(b, 12));
  EXPECT_TRUE(sessions.isReservedChunk(21));
  EXPECT_TRUE(sessions.useReservedChunk(a, 10).empty());
  EXPECT_EQ(sessions.useReservedChunk(a, 12), std::vector<uint64_t>{11});
  EXPECT_FALSE(sessions.isReservedChunk(11));
  EXPECT_FALSE(sessions.mayUseReservedChunk(a, 12));  // once only
  // Into the next range: what is left of the older one is passed over too.
  EXPECT_EQ(sessions.useReservedChunk(a, 21), (std::vector<uint64_t>{13, 20}));
  EXPECT_TRUE(sessions.find(a)->reserved_chunks.empty());
  EXPECT_TRUE(sessions.useReservedChunk(b, 21).empty());  // not b's: nothing happens
  for (uint64_t first = 100; first < 500; first += 100) {
    EXPECT_TRUE(sessions.reserveChunks(a, first, first + 2).empty());
  }
  EXPECT_EQ(sessions.reserveChunks(a, 500, 502), (std::vector<uint64_t>{100, 101}));
  EXPECT_EQ(idsOf(sessions.close(a)->reserved_chunks),
            (std::vector<uint64_t>{200, 201, 300, 301, 400, 401, 500, 501}));
  EXPECT_FALSE(sessions.isReservedChunk(500));
}

}  // namespace dfs::master

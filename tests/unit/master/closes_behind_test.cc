#include "server/master/closes_behind.h"

#include <gtest/gtest.h>

namespace dfs::master {
namespace {

constexpr uint64_t kFile = 7;
constexpr uint64_t kWriter = 100;
constexpr uint64_t kReader = 200;
constexpr uint64_t kOtherReader = 300;

TEST(ClosesBehindTest, AReaderOfAHeldFileWaitsForTheHoldersAnswer) {
  ClosesBehind closes;
  EXPECT_FALSE(closes.heldByOthers(kFile, kReader));
  closes.hold(kFile, kWriter);
  EXPECT_TRUE(closes.heldByOthers(kFile, kReader));
  EXPECT_FALSE(closes.heldByOthers(kFile, kWriter)) << "a client sees its own writes";
  EXPECT_FALSE(closes.heldByOthers(kFile + 1, kReader));
  EXPECT_TRUE(closes.recall(kFile, kWriter).empty());

  auto waits = closes.recall(kFile, kReader);
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_EQ(waits[0].session_id, kWriter);
  EXPECT_FALSE(closes.satisfied(kFile, waits[0]));
  EXPECT_FALSE(closes.hasRecalls(kReader));
  ASSERT_TRUE(closes.hasRecalls(kWriter));
  auto recalls = closes.takeRecalls(kWriter);
  ASSERT_EQ(recalls.size(), 1u);
  EXPECT_EQ(recalls[0].ino, kFile);
  EXPECT_EQ(recalls[0].number, waits[0].number);
  EXPECT_FALSE(closes.hasRecalls(kWriter));
  EXPECT_FALSE(closes.satisfied(kFile, waits[0]));
  EXPECT_TRUE(closes.answer(kFile, kWriter, recalls[0].number));
  EXPECT_TRUE(closes.satisfied(kFile, waits[0]));
  EXPECT_TRUE(closes.heldByOthers(kFile, kReader)) << "answered, but still open there";
}

TEST(ClosesBehindTest, AReaderSharesARecallNotYetDeliveredButNotOneDelivered) {
  ClosesBehind closes;
  closes.hold(kFile, kWriter);
  auto first = closes.recall(kFile, kReader);
  auto shared = closes.recall(kFile, kOtherReader);
  ASSERT_EQ(shared.size(), 1u);
  EXPECT_EQ(shared[0].number, first[0].number) << "the holder has not looked yet";
  EXPECT_EQ(closes.takeRecalls(kWriter).size(), 1u);

  // The holder may have closed the file again after it looked: a reader now needs a new recall.
  auto later = closes.recall(kFile, kReader);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_GT(later[0].number, first[0].number);
  EXPECT_TRUE(closes.answer(kFile, kWriter, first[0].number));
  EXPECT_TRUE(closes.satisfied(kFile, first[0]));
  EXPECT_FALSE(closes.satisfied(kFile, later[0]));
  auto recalls = closes.takeRecalls(kWriter);
  ASSERT_EQ(recalls.size(), 1u);
  EXPECT_EQ(recalls[0].number, later[0].number);
  EXPECT_TRUE(closes.answer(kFile, kWriter, later[0].number));
  EXPECT_TRUE(closes.satisfied(kFile, later[0]));
}

TEST(ClosesBehindTest, AnAnswerNeverCoversARecallNotYetMade) {
  ClosesBehind closes;
  closes.hold(kFile, kWriter);
  auto first = closes.recall(kFile, kReader);
  closes.takeRecalls(kWriter);
  EXPECT_TRUE(closes.answer(kFile, kWriter, first[0].number + 100));  // a stray number
  auto next = closes.recall(kFile, kReader);
  EXPECT_FALSE(closes.satisfied(kFile, next[0]));
  EXPECT_FALSE(closes.answer(kFile, kWriter, first[0].number)) << "an old answer, again";
}

TEST(ClosesBehindTest, TwoHoldersOfOneFileAreEachRecalled) {
  ClosesBehind closes;
  closes.hold(kFile, kWriter);
  closes.hold(kFile, kReader);
  EXPECT_TRUE(closes.heldByOthers(kFile, kWriter));
  auto waits = closes.recall(kFile, kOtherReader);
  ASSERT_EQ(waits.size(), 2u);
  EXPECT_EQ(closes.takeRecalls(kWriter).size(), 1u);
  EXPECT_EQ(closes.takeRecalls(kReader).size(), 1u);
  auto own = closes.recall(kFile, kReader);
  ASSERT_EQ(own.size(), 1u) << "a holder that reads recalls only the other";
  EXPECT_EQ(own[0].session_id, kWriter);
}

TEST(ClosesBehindTest, AReleaseOrAnEndedSessionEndsTheWait) {
  ClosesBehind closes;
  closes.hold(kFile, kWriter);
  closes.hold(kFile + 1, kWriter);
  auto waits = closes.recall(kFile, kReader);
  auto other = closes.recall(kFile + 1, kReader);
  EXPECT_TRUE(closes.dropFile(kFile, kWriter));
  EXPECT_FALSE(closes.dropFile(kFile, kWriter));
  EXPECT_TRUE(closes.satisfied(kFile, waits[0]));
  EXPECT_FALSE(closes.satisfied(kFile + 1, other[0]));
  auto recalls = closes.takeRecalls(kWriter);
  ASSERT_EQ(recalls.size(), 1u) << "a recall of a file let go of is not delivered";
  EXPECT_EQ(recalls[0].ino, kFile + 1);

  closes.recall(kFile + 1, kReader);
  EXPECT_TRUE(closes.dropSession(kWriter));
  EXPECT_TRUE(closes.satisfied(kFile + 1, other[0]));
  EXPECT_FALSE(closes.hasRecalls(kWriter));
  EXPECT_TRUE(closes.empty());

  // Held again later: an answer left over from the earlier hold satisfies no new recall.
  closes.hold(kFile, kWriter);
  EXPECT_FALSE(closes.answer(kFile, kWriter, waits[0].number));
  auto again = closes.recall(kFile, kReader);
  EXPECT_FALSE(closes.satisfied(kFile, again[0]));
}

TEST(ClosesBehindTest, ARemovedOrUnansweredHoldEndsEveryWaitForIt) {
  ClosesBehind closes;
  closes.hold(kFile, kWriter);
  closes.hold(kFile, kOtherReader);
  auto waits = closes.recall(kFile, kReader);
  ASSERT_EQ(waits.size(), 2u);
  // The directory was removed: nobody holds it any more.
  EXPECT_TRUE(closes.dropInode(kFile));
  EXPECT_FALSE(closes.dropInode(kFile));
  for (const auto& wait : waits) EXPECT_TRUE(closes.satisfied(kFile, wait));
  EXPECT_TRUE(closes.empty());

  // Holders that did not answer in time lose it; the one who waited keeps its own hold.
  closes.hold(kFile, kWriter);
  closes.hold(kFile, kReader);
  waits = closes.recall(kFile, kReader);
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_TRUE(closes.dropOthers(kFile, kReader));
  EXPECT_FALSE(closes.dropOthers(kFile, kReader));
  EXPECT_TRUE(closes.satisfied(kFile, waits[0]));
  EXPECT_FALSE(closes.heldByOthers(kFile, kReader));
  EXPECT_TRUE(closes.heldByOthers(kFile, kWriter));
  EXPECT_FALSE(closes.dropOthers(kFile + 1, kReader));
}

}  // namespace
}  // namespace dfs::master

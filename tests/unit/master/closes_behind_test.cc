#include "server/master/closes_behind.h"

#include <gtest/gtest.h>

namespace dfs::master {
namespace {

constexpr uint64_t kFile = 7;
constexpr uint64_t kWriter = 100;
constexpr uint64_t kReader = 200;

TEST(ClosesBehindTest, AnOtherSessionWaitsUntilTheCloseLands) {
  ClosesBehind closes;
  EXPECT_FALSE(closes.pendingForOthers(kFile, kReader));
  closes.announce(kFile, kWriter, 1);
  EXPECT_TRUE(closes.pendingForOthers(kFile, kReader));
  EXPECT_FALSE(closes.pendingForOthers(kFile, kWriter)) << "a client sees its own writes";
  EXPECT_FALSE(closes.pendingForOthers(kFile + 1, kReader));
  EXPECT_TRUE(closes.land(kFile, kWriter, 1));
  EXPECT_FALSE(closes.pendingForOthers(kFile, kReader));
  EXPECT_TRUE(closes.empty());
}

TEST(ClosesBehindTest, ALandingOvertakenByANewerCloseKeepsItPending) {
  ClosesBehind closes;
  closes.announce(kFile, kWriter, 1);
  closes.announce(kFile, kWriter, 2);  // the second close, before the first commit landed
  EXPECT_FALSE(closes.land(kFile, kWriter, 1));
  EXPECT_TRUE(closes.pendingForOthers(kFile, kReader));
  closes.announce(kFile, kWriter, 2);  // a retried announcement changes nothing
  closes.announce(kFile, kWriter, 1);  // nor does a late one
  EXPECT_TRUE(closes.land(kFile, kWriter, 2));
  EXPECT_FALSE(closes.pendingForOthers(kFile, kReader));
  EXPECT_FALSE(closes.land(kFile, kWriter, 2)) << "a second landing finds nothing";
}

TEST(ClosesBehindTest, TwoWritersOfOneFileAreEachWaitedFor) {
  ClosesBehind closes;
  closes.announce(kFile, kWriter, 1);
  closes.announce(kFile, kReader, 1);
  EXPECT_TRUE(closes.pendingForOthers(kFile, kReader));
  EXPECT_TRUE(closes.pendingForOthers(kFile, kWriter));
  EXPECT_TRUE(closes.pendingForOthers(kFile, 300));
  EXPECT_TRUE(closes.land(kFile, kWriter, 1));
  EXPECT_FALSE(closes.pendingForOthers(kFile, kReader));
  EXPECT_TRUE(closes.pendingForOthers(kFile, kWriter));
}

TEST(ClosesBehindTest, AReleaseOrAnEndedSessionDropsWhatItAnnounced) {
  ClosesBehind closes;
  closes.announce(kFile, kWriter, 3);
  closes.announce(kFile + 1, kWriter, 1);
  closes.announce(kFile + 1, kReader, 1);
  EXPECT_TRUE(closes.dropFile(kFile, kWriter));
  EXPECT_FALSE(closes.dropFile(kFile, kWriter));
  EXPECT_FALSE(closes.pendingForOthers(kFile, kReader));
  EXPECT_TRUE(closes.pendingForOthers(kFile + 1, kReader));
  EXPECT_TRUE(closes.dropSession(kWriter));
  EXPECT_FALSE(closes.pendingForOthers(kFile + 1, kReader));
  EXPECT_TRUE(closes.pendingForOthers(kFile + 1, kWriter));
  EXPECT_FALSE(closes.dropSession(kWriter));
  EXPECT_TRUE(closes.dropSession(kReader));
  EXPECT_TRUE(closes.empty());
}

}  // namespace
}  // namespace dfs::master

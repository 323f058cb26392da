#include "lib/locks/lock_table.h"

#include <gtest/gtest.h>

namespace dfs::locks {
namespace {

constexpr Owner kA{1, 10}, kB{2, 20}, kC{3, 30}, kD{4, 40};

Request posix(const Owner& owner, bool exclusive, uint64_t start, uint64_t end,
              uint64_t ino = 7) {
  return Request{ino, Kind::kPosix, Lock{owner, exclusive, Range{start, end}}};
}
Request flock(const Owner& owner, bool exclusive, uint64_t ino = 7) {
  return Request{ino, Kind::kFlock, Lock{owner, exclusive, Range{0, kToEnd}}};
}

std::vector<std::pair<uint64_t, uint64_t>> rangesOf(const LockTable& table, const Owner& owner) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& entry : table.list()) {
    if (entry.lock.owner == owner && !entry.waiting) {
      ranges.emplace_back(entry.lock.range.start, entry.lock.range.end);
    }
  }
  return ranges;
}

TEST(LockTableTest, SharedLocksCoexistExclusiveConflicts) {
  LockTable table;
  EXPECT_FALSE(table.tryLock(flock(kA, false)));
  EXPECT_FALSE(table.tryLock(flock(kB, false)));
  auto conflict = table.tryLock(flock(kC, true));
  ASSERT_TRUE(conflict);
  EXPECT_EQ(conflict->owner, kA);
  // flock and POSIX locks live apart, as in Linux.
  EXPECT_FALSE(table.tryLock(posix(kC, true, 0, kToEnd)));
  // Another file is another file.
  EXPECT_FALSE(table.tryLock(flock(kC, true, /*ino=*/8)));
}

TEST(LockTableTest, ByteRangesSplitAndMergeLikeALocalFileSystem) {
  LockTable table;
  EXPECT_FALSE(table.tryLock(posix(kA, true, 0, 99)));
  EXPECT_FALSE(table.tryLock(posix(kB, true, 100, 199)));  // no overlap
  EXPECT_TRUE(table.tryLock(posix(kB, true, 50, 60)));     // overlap
  EXPECT_TRUE(table.conflicting(posix(kB, false, 99, 99)));
  EXPECT_FALSE(table.conflicting(posix(kA, true, 0, 99)));  // its own locks never conflict

  // Unlocking the middle splits; the hole is free for others.
  table.unlock(7, Kind::kPosix, kA, Range{40, 59});
  EXPECT_EQ(rangesOf(table, kA), (std::vector<std::pair<uint64_t, uint64_t>>{{0, 39}, {60, 99}}));
  EXPECT_FALSE(table.tryLock(posix(kC, true, 45, 50)));
  table.unlock(7, Kind::kPosix, kC, Range{0, kToEnd});
  // Re-locking the hole with the same type merges back into one lock.
  EXPECT_FALSE(table.tryLock(posix(kA, true, 40, 59)));
  EXPECT_EQ(rangesOf(table, kA), (std::vector<std::pair<uint64_t, uint64_t>>{{0, 99}}));
  // A different type over part of it splits it in three.
  EXPECT_FALSE(table.tryLock(posix(kA, false, 10, 19)));
  EXPECT_EQ(rangesOf(table, kA).size(), 3u);
  // Adjacent ranges of one type merge, also up to the end of the file.
  EXPECT_FALSE(table.tryLock(posix(kD, false, 300, 399)));
  EXPECT_FALSE(table.tryLock(posix(kD, false, 400, kToEnd)));
  EXPECT_EQ(rangesOf(table, kD), (std::vector<std::pair<uint64_t, uint64_t>>{{300, kToEnd}}));
}

TEST(LockTableTest, WaitersAreGrantedInFifoOrderAndWritersDoNotStarve) {
  LockTable table;
  ASSERT_FALSE(table.tryLock(flock(kA, false)));
  ASSERT_TRUE(table.tryLock(flock(kB, true)));
  table.enqueue(flock(kB, true), 1);
  // A shared request would fit with A's shared lock, but B's exclusive wait comes first.
  ASSERT_TRUE(table.tryLock(flock(kC, false)));
  table.enqueue(flock(kC, false), 2);
  ASSERT_TRUE(table.tryLock(flock(kD, false)));
  table.enqueue(flock(kD, false), 3);
  EXPECT_EQ(table.releaseOwner(7, Kind::kFlock, kA), std::vector<uint64_t>{1});
  // Both shared waiters go together once the writer is done.
  EXPECT_EQ(table.releaseOwner(7, Kind::kFlock, kB), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(rangesOf(table, kC).size(), 1u);
  EXPECT_EQ(rangesOf(table, kD).size(), 1u);
}

TEST(LockTableTest, AHolderChangingItsLockDoesNotQueueBehindItsOwnWaiters) {
  LockTable table;
  ASSERT_FALSE(table.tryLock(flock(kA, false)));
  ASSERT_TRUE(table.tryLock(flock(kB, true)));
  table.enqueue(flock(kB, true), 1);
  // A upgrades: B waits for A, so A must not wait for B.
  EXPECT_FALSE(table.tryLock(flock(kA, true)));
}

TEST(LockTableTest, CancelledWaitersAreWithdrawnAndUnblockThoseBehind) {
  LockTable table;
  ASSERT_FALSE(table.tryLock(flock(kA, false)));
  table.enqueue(flock(kB, true), 1);
  table.enqueue(flock(kC, false), 2);  // held back only by B's exclusive wait
  bool found = false;
  EXPECT_EQ(table.cancel(1, &found), std::vector<uint64_t>{2});
  EXPECT_TRUE(found);
  table.cancel(1, &found);
  EXPECT_FALSE(found);
  EXPECT_TRUE(table.releaseOwner(7, Kind::kFlock, kA).empty());  // B is gone, not granted
  EXPECT_TRUE(rangesOf(table, kB).empty());
}

TEST(LockTableTest, AnEndedSessionLosesItsLocksAndItsWaits) {
  LockTable table;
  ASSERT_FALSE(table.tryLock(posix(kA, true, 0, 10)));
  ASSERT_FALSE(table.tryLock(flock(Owner{1, 11}, true)));
  table.enqueue(posix(kB, true, 5, 5), 1);
  table.enqueue(flock(kC, false), 2);
  table.enqueue(posix(Owner{1, 12}, true, 100, 200), 3);  // session 1 waiting too
  auto end = table.releaseSession(1);
  EXPECT_EQ(end.granted, (std::vector<uint64_t>{2, 1}));  // in file order
  EXPECT_EQ(end.dropped, std::vector<uint64_t>{3});
  EXPECT_EQ(table.heldBy(1).size(), 0u);
  EXPECT_EQ(table.heldBy(2).size(), 1u);
  table.releaseSession(2);
  table.releaseSession(3);
  EXPECT_TRUE(table.empty());
}

TEST(LockTableTest, ClaimedLocksAreForcedAndListed) {
  LockTable table;
  table.forceLock(posix(kA, true, 0, 9));
  table.forceLock(flock(kB, false, 9));
  auto held = table.heldBy(kA.session);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].lock.range.end, 9u);
  EXPECT_EQ(table.list(9).size(), 1u);
  EXPECT_EQ(table.list().size(), 2u);
}

}  // namespace
}  // namespace dfs::locks

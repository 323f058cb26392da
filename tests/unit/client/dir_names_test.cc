#include "lib/client/dir_names.h"

#include <gtest/gtest.h>

namespace dfs::client {
namespace {

using namespace std::chrono_literals;
using Clock = DirNames::Clock;

constexpr uint64_t kDir = 5;

TEST(DirNamesTest, AFreshListingSaysWhichNamesAreAbsent) {
  DirNames names(1000ms, 16, 100);
  auto t = Clock::now();
  EXPECT_FALSE(names.absent(kDir, "a", t)) << "nothing is known of a directory never listed";
  names.listed(kDir, {"a", "b"}, names.changes(), t);
  EXPECT_FALSE(names.absent(kDir, "a", t + 10ms));
  EXPECT_TRUE(names.absent(kDir, "c", t + 10ms));
  EXPECT_FALSE(names.absent(kDir, "c", t + 1000ms)) << "past the ttl the master is asked";
  EXPECT_FALSE(names.absent(kDir + 1, "c", t));
}

TEST(DirNamesTest, ThisClientsOwnChangesKeepTheListingCurrent) {
  DirNames names(1000ms, 16, 100);
  auto t = Clock::now();
  names.made(kDir, t);
  EXPECT_TRUE(names.absent(kDir, "x", t));
  names.added(kDir, "x");
  EXPECT_FALSE(names.absent(kDir, "x", t));
  names.removed(kDir, "x");
  EXPECT_TRUE(names.absent(kDir, "x", t));
  names.added(kDir, "y");
  names.forget(kDir);  // a change with no answer: nothing is known any more
  EXPECT_FALSE(names.absent(kDir, "z", t));
}

TEST(DirNamesTest, AListingFetchedAcrossALocalChangeIsNotTaken) {
  DirNames names(1000ms, 16, 100);
  auto t = Clock::now();
  uint64_t before = names.changes();
  names.added(kDir + 1, "new");  // made while the listing was on its way, maybe not in it
  names.listed(kDir + 1, {}, before, t);
  EXPECT_FALSE(names.absent(kDir + 1, "new", t));
  EXPECT_FALSE(names.absent(kDir + 1, "other", t));
  names.listed(kDir + 1, {"new"}, names.changes(), t);
  EXPECT_TRUE(names.absent(kDir + 1, "other", t));
}

TEST(DirNamesTest, LargeDirectoriesAreNotKeptAndStaleOnesAreListedAgainWhenItPays) {
  DirNames names(1000ms, 16, 300);
  auto t = Clock::now();
  std::vector<std::string> many;
  for (int i = 0; i < 301; ++i) many.push_back("f" + std::to_string(i));
  names.listed(kDir, many, names.changes(), t);
  EXPECT_FALSE(names.absent(kDir, "g", t));

  many.pop_back();  // 300 names: kept
  names.listed(kDir, many, names.changes(), t);
  EXPECT_TRUE(names.absent(kDir, "g", t));
  EXPECT_FALSE(names.worthRelisting(kDir, t + 500ms)) << "still fresh";
  EXPECT_FALSE(names.worthRelisting(kDir, t + 1000ms)) << "300 names cost more than one lookup";
  names.missed(kDir);
  names.missed(kDir);
  EXPECT_TRUE(names.worthRelisting(kDir, t + 1000ms)) << "after misses it pays";

  names.listed(kDir + 1, {"a"}, names.changes(), t);
  EXPECT_TRUE(names.worthRelisting(kDir + 1, t + 1000ms)) << "a small directory always pays";
  EXPECT_FALSE(names.worthRelisting(kDir + 2, t + 1000ms)) << "never listed";
}

TEST(DirNamesTest, ManyDirectoriesDropTheStaleOnesFirst) {
  DirNames names(1000ms, 2, 100);
  auto t = Clock::now();
  names.listed(1, {}, names.changes(), t);
  names.listed(2, {}, names.changes(), t + 900ms);
  names.listed(3, {}, names.changes(), t + 1500ms);  // 1 is stale by now and goes
  EXPECT_TRUE(names.absent(2, "x", t + 1500ms));
  EXPECT_TRUE(names.absent(3, "x", t + 1500ms));
  EXPECT_FALSE(names.worthRelisting(1, t + 1500ms));
}

}  // namespace
}  // namespace dfs::client

#include "fuse/name_keeping.h"

#include <gtest/gtest.h>

#include <thread>

namespace dfs::fuse {
namespace {

using namespace std::chrono_literals;

TEST(NameKeepingTest, NamesInDirectoriesEveryoneMaySearchAreAlwaysKept) {
  NameKeeping names(1000ms);
  EXPECT_TRUE(names.mayKeep(true));
  EXPECT_FALSE(names.admit(1000, true).has_value());  // nothing kept that it could pass through
  EXPECT_TRUE(names.mayKeep(true));
}

TEST(NameKeepingTest, RestrictedNamesAreKeptForRootUntilAnotherUserComes) {
  NameKeeping names(1000ms);
  EXPECT_TRUE(names.mayKeep(false));
  EXPECT_FALSE(names.admit(0, true).has_value());
  EXPECT_TRUE(names.mayKeep(false));

  auto before = NameKeeping::Clock::now();
  // Not from a walk (an open file, a lookup): served.
  EXPECT_FALSE(names.admit(1000, false).has_value());
  // From a walk: answered ESTALE once the kept names have expired in the kernel.
  auto stale_at = names.admit(1000, true);
  ASSERT_TRUE(stale_at.has_value());
  EXPECT_GE(*stale_at, before + 1000ms);
  EXPECT_LE(*stale_at, before + 2000ms);
  EXPECT_FALSE(names.admit(0, true).has_value());

  // No longer kept, for anyone.
  EXPECT_FALSE(names.mayKeep(false));
  EXPECT_TRUE(names.mayKeep(true));
}

TEST(NameKeepingTest, OnceKeptNamesHaveExpiredOtherUsersWalkFreely) {
  NameKeeping names(0ms);  // expires after the kernel's margin alone
  EXPECT_TRUE(names.mayKeep(false));
  auto stale_at = names.admit(1000, true);
  ASSERT_TRUE(stale_at.has_value());
  while (NameKeeping::Clock::now() < *stale_at) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(names.admit(1000, true).has_value());
  EXPECT_FALSE(names.admit(1001, true).has_value());
}

}  // namespace
}  // namespace dfs::fuse

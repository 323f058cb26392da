#include "lib/base/priority.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <thread>

namespace dfs {
namespace {

// Linux keeps nice levels per thread: each case changes a thread of its own, never the runner's.
template <class Body>
void onOwnThread(Body body) {
  std::thread thread(body);
  thread.join();
}

TEST(PriorityTest, LevelsOutsideTheKernelsRangeAreRefused) {
  for (int nice : {-21, 20, 1000}) {
    auto set = setNiceLevel(nice);
    ASSERT_FALSE(set) << nice;
    EXPECT_EQ(set.error().code(), Code::kInvalid);
  }
}

TEST(PriorityTest, TheLevelHoldsForTheCallerAndTheThreadsItStartsLater) {
  onOwnThread([] {
    ASSERT_TRUE(setNiceLevel(7));
    EXPECT_EQ(::getpriority(PRIO_PROCESS, 0), 7);
    int inherited = -100;
    std::thread started_later([&] { inherited = ::getpriority(PRIO_PROCESS, 0); });
    started_later.join();
    EXPECT_EQ(inherited, 7);
  });
}

TEST(PriorityTest, RaisingThePriorityNeedsThePrivilegeAndSaysSoWithout) {
  onOwnThread([] {
    ASSERT_TRUE(setNiceLevel(10));
    auto raised = setNiceLevel(kServerNiceLevel);
    if (::geteuid() == 0) {
      ASSERT_TRUE(raised) << raised.error().toString();
      EXPECT_EQ(::getpriority(PRIO_PROCESS, 0), kServerNiceLevel);
    } else {
      ASSERT_FALSE(raised);
      EXPECT_EQ(raised.error().code(), Code::kNotPermitted);
      EXPECT_NE(raised.error().message().find("-19"), std::string::npos);
      EXPECT_EQ(::getpriority(PRIO_PROCESS, 0), 10);
    }
  });
}

}  // namespace
}  // namespace dfs

#include "server/chunkserver/scrubber.h"
#include "tests/unit/chunkserver/store_fixture.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

namespace dfs::chunkserver {
namespace {

using namespace std::chrono_literals;

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

using ScrubberTest = StoreFixture;

TEST_F(ScrubberTest, FindsDamageNobodyReadsAndKeepsScrubbing) {
  std::string data(3 * kBlockSize, 'x');
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(store_->write(id, 1, 0, data, true, false));
  flipByteOnDisk(2, kBlockSize * 2 + 100);

  ScrubberOptions options;
  options.bytes_per_second = 1ull << 30;
  options.pass_interval = 10ms;
  Scrubber scrubber(*store_, options);
  scrubber.start();
  ASSERT_TRUE(waitFor([&] { return scrubber.passes() >= 2; }, 10s));
  EXPECT_GE(scrubber.damagedFound(), 1u);
  EXPECT_EQ(store_->takeDamaged(), std::vector<uint64_t>{2});
  // Two passes over the good replicas at least; the damaged one stops at its bad block.
  EXPECT_GE(scrubber.scrubbedBytes(), 2 * 2 * data.size());
  scrubber.stop();
}

TEST_F(ScrubberTest, OffWhenTheRateIsZeroAndStopsPromptly) {
  ASSERT_TRUE(store_->write(1, 1, 0, std::string(kBlockSize, 'y'), true, false));
  ScrubberOptions off;
  off.bytes_per_second = 0;
  Scrubber idle(*store_, off);
  idle.start();
  EXPECT_EQ(idle.passes(), 0u);

  ScrubberOptions slow;
  slow.bytes_per_second = 1;  // a block would take 18 hours
  Scrubber scrubber(*store_, slow);
  scrubber.start();
  scrubber.stop();  // returns although it is pacing
  EXPECT_EQ(scrubber.scrubbedBytes(), 0u);
}

}  // namespace
}  // namespace dfs::chunkserver

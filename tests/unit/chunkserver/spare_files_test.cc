#include "server/chunkserver/spare_files.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

namespace dfs::chunkserver {
namespace {

using namespace std::chrono_literals;

bool waitFor(const std::function<bool()>& condition) {
  auto until = std::chrono::steady_clock::now() + 10s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

class SpareFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/spare_files_test.XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(SpareFilesTest, KeepsAPoolOfEmptyFilesAndRefillsIt) {
  SpareFiles spares(dir_ + "/spare", 8);
  ASSERT_TRUE(waitFor([&] { return spares.available() == 8; }));
  // Taken until the pool is below half (the refill may top it up between takes): then it is
  // refilled, and nothing takes from it any more.
  std::vector<std::string> taken;
  while (spares.available() >= 4) {
    auto path = spares.take();
    ASSERT_TRUE(path);
    EXPECT_EQ(std::filesystem::file_size(*path), 0u);
    std::filesystem::rename(*path, dir_ + "/used" + std::to_string(taken.size()));
    taken.push_back(*path);
  }
  std::sort(taken.begin(), taken.end());
  EXPECT_EQ(std::unique(taken.begin(), taken.end()), taken.end());  // each handed out once
  EXPECT_TRUE(waitFor([&] { return spares.available() == 8; })) << spares.available();
}

TEST_F(SpareFilesTest, ReusesEmptySparesOfAPreviousRunAndDropsOthers) {
  {
    SpareFiles spares(dir_ + "/spare", 4);
    ASSERT_TRUE(waitFor([&] { return spares.available() == 4; }));
  }
  std::ofstream(dir_ + "/spare/999") << "not empty";
  SpareFiles again(dir_ + "/spare", 0);  // no refilling: only what was there
  EXPECT_EQ(again.available(), 4u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/spare/999"));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(again.take());
  EXPECT_FALSE(again.take());
}

TEST_F(SpareFilesTest, ARecycledFileComesBackEmptyUntilThePoolIsFull) {
  SpareFiles spares(dir_ + "/spare", 1, 4);
  ASSERT_TRUE(waitFor([&] { return spares.available() == 1; }));
  for (int i = 0; i < 4; ++i) {
    std::string path = dir_ + "/replica" + std::to_string(i);
    std::ofstream(path) << "replica bytes";
    bool recycled = spares.recycle(path);
    if (i < 3) {
      EXPECT_TRUE(recycled) << i;
      EXPECT_FALSE(std::filesystem::exists(path));
    } else {
      EXPECT_FALSE(recycled) << "the pool holds 4 already";
      EXPECT_TRUE(std::filesystem::exists(path));
    }
  }
  EXPECT_EQ(spares.available(), 4u);
  for (int i = 0; i < 4; ++i) {
    auto path = spares.take();
    ASSERT_TRUE(path);
    EXPECT_EQ(std::filesystem::file_size(*path), 0u);
    std::filesystem::rename(*path, dir_ + "/reused" + std::to_string(i));
  }
}

}  // namespace
}  // namespace dfs::chunkserver

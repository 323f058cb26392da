#include "server/chunkserver/write_behind.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace dfs::chunkserver {
namespace {

using namespace std::chrono_literals;

bool isOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

class WriteBehindTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/write_behind_test.XXXXXX";
    int fd = ::mkstemp(pattern);
    ASSERT_GE(fd, 0);
    path_ = pattern;
    std::string data(1 << 20, 'd');
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    file_ = fd;
  }
  void TearDown() override {
    ::close(file_);
    std::filesystem::remove(path_);
  }
  int own() { return ::dup(file_); }

  std::string path_;
  int file_ = -1;
};

TEST_F(WriteBehindTest, StartsEachRangeAndClosesItsDescriptor) {
  WriteBehind behind;
  std::vector<int> fds;
  for (int i = 0; i < 20; ++i) {
    fds.push_back(own());
    behind.add(fds.back(), static_cast<uint64_t>(i) << 16, 1 << 16);
  }
  auto until = std::chrono::steady_clock::now() + 10s;
  while (behind.queued() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(behind.queued(), 0u);
  // Gone once started (a later dup may reuse a number, so only until the next open).
  until = std::chrono::steady_clock::now() + 10s;
  while (isOpen(fds.back()) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(2ms);
  }
  for (int fd : fds) EXPECT_FALSE(isOpen(fd)) << fd;
}

TEST_F(WriteBehindTest, ARangeWaitsForItsDelayUnlessTheDestructorDrainsIt) {
  int fd = own();
  {
    WriteBehind behind(16, 60s);
    behind.add(fd, 0, 1 << 16);
    std::this_thread::sleep_for(20ms);  // time for an undelayed start, which would close fd
    EXPECT_EQ(behind.queued(), 1u);
    EXPECT_TRUE(isOpen(fd));
  }
  EXPECT_FALSE(isOpen(fd));
}

TEST_F(WriteBehindTest, AFullQueueLeavesTheRangeToTheKernelAndTheDestructorDrainsIt) {
  std::vector<int> fds;
  {
    WriteBehind behind(/*max_queued=*/0);
    int fd = own();
    behind.add(fd, 0, 4096);  // nothing may wait: closed at once
    EXPECT_FALSE(isOpen(fd));
  }
  {
    WriteBehind behind(/*max_queued=*/64);
    for (int i = 0; i < 64; ++i) {
      fds.push_back(own());
      behind.add(fds.back(), 0, 4096);
    }
  }  // the destructor starts what is queued and joins
  for (int fd : fds) EXPECT_FALSE(isOpen(fd)) << fd;
}

}  // namespace
}  // namespace dfs::chunkserver

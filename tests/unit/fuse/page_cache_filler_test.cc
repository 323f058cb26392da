#include "fuse/page_cache_filler.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <string>
#include <vector>

namespace dfs::fuse {
namespace {

// Records what would go into the kernel's page cache; a store can be held until
// released.
struct Recorder {
  std::mutex mutex;
  std::vector<std::string> calls;
  std::promise<void> store_started;
  std::shared_future<void> release_store;  // waited on by the first store when set
  bool first_store = true;
};

class RecordingKernelCache : public PageCacheFiller::KernelCache {
 public:
  explicit RecordingKernelCache(Recorder* recorder) : recorder_(recorder) {}
  void store(uint64_t ino, uint64_t offset, const std::string& data) override {
    bool hold = false;
    {
      std::lock_guard lock(recorder_->mutex);
      recorder_->calls.push_back("store " + std::to_string(ino) + " " + std::to_string(offset) +
                                 "+" + std::to_string(data.size()));
      hold = recorder_->first_store && recorder_->release_store.valid();
      recorder_->first_store = false;
    }
    if (hold) {
      recorder_->store_started.set_value();
      recorder_->release_store.wait();
    }
  }
  void drop(uint64_t ino, uint64_t offset, uint64_t length) override {
    std::lock_guard lock(recorder_->mutex);
    recorder_->calls.push_back("drop " + std::to_string(ino) + " " + std::to_string(offset) + "+" +
                               std::to_string(length));
  }

 private:
  Recorder* recorder_;
};

class PageCacheFillerTest : public ::testing::Test {
 protected:
  std::vector<std::string> calls() {
    filler_.drain();
    std::lock_guard lock(recorder_.mutex);
    return recorder_.calls;
  }
  static std::string block() { return std::string(64 * 1024, 'x'); }

  Recorder recorder_;
  PageCacheFiller filler_{std::make_unique<RecordingKernelCache>(&recorder_)};
};

TEST_F(PageCacheFillerTest, StoresTheBlockAroundTheReadInWholePages) {
  uint64_t ticket = filler_.ticket();
  // The kernel asked for 4 KiB at 65636 (pages 16..17 of the block at 65536).
  filler_.store(7, ticket, 65536, block(), 65636, 65636 + 4096);
  // Pages 65536..69631 hold the read's first bytes, 69632..73727 its last: both
  // are skipped.
  EXPECT_EQ(calls(), (std::vector<std::string>{"store 7 73728+57344"}));
}

TEST_F(PageCacheFillerTest, KeepsBothSidesOfAReadInTheMiddleAndAPartialLastPage) {
  uint64_t ticket = filler_.ticket();
  std::string tail(10000, 't');  // the file ends 10000 bytes into this block
  filler_.store(3, ticket, 0, tail, 4096, 8192);
  EXPECT_EQ(calls(), (std::vector<std::string>{"store 3 0+4096", "store 3 8192+1808"}));
}

TEST_F(PageCacheFillerTest, NothingIsStoredWhileTheFileIsOpenForWriting) {
  filler_.opened(5, /*writable=*/true);
  filler_.store(5, filler_.ticket(), 0, block(), 0, 4096);
  EXPECT_TRUE(calls().empty());
  filler_.released(5, /*writable=*/true);
  filler_.store(5, filler_.ticket(), 0, block(), 0, 4096);
  EXPECT_EQ(calls(), (std::vector<std::string>{"store 5 4096+61440"}));
}

TEST_F(PageCacheFillerTest, AReadOlderThanAChangeStoresNothing) {
  uint64_t before = filler_.ticket();
  filler_.changed(9);  // a truncate or lock grant after the read arrived
  filler_.store(9, before, 0, block(), 0, 4096);
  filler_.opened(9,
                 /*writable=*/false);  // a read-only open counts as a change too
  uint64_t between = filler_.ticket();
  filler_.store(9, before, 0, block(), 0, 4096);
  filler_.store(9, between, 0, block(), 0, 4096);
  filler_.store(10, before, 0, block(), 0,
                4096);  // other files are not affected
  EXPECT_EQ(calls(), (std::vector<std::string>{"store 9 4096+61440", "store 10 4096+61440"}));
}

TEST_F(PageCacheFillerTest, AChangeDuringAStoreDropsWhatItStored) {
  std::promise<void> release;
  recorder_.release_store = release.get_future().share();
  filler_.store(4, filler_.ticket(), 0, block(), 0, 4096);
  recorder_.store_started.get_future().wait();
  filler_.opened(4,
                 /*writable=*/true);  // a writer came while the store waited on page locks
  release.set_value();
  EXPECT_EQ(calls(), (std::vector<std::string>{"store 4 4096+61440", "drop 4 4096+61440"}));
}

TEST_F(PageCacheFillerTest, ForgettingInodesRefusesOlderTickets) {
  uint64_t ticket = filler_.ticket();
  filler_.changed(100);
  // Enough other inodes to make the filler forget those nobody writes, inode
  // 100 among them: the read's ticket must still not pass for one from after
  // the change.
  for (uint64_t ino = 101; ino < 101 + PageCacheFiller::kMaxTrackedInodes; ++ino) {
    filler_.changed(ino);
  }
  filler_.store(100, ticket, 0, block(), 0, 4096);
  filler_.store(100, filler_.ticket(), 0, block(), 0, 4096);
  EXPECT_EQ(calls(), (std::vector<std::string>{"store 100 4096+61440"}));
}

}  // namespace
}  // namespace dfs::fuse

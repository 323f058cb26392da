#include "server/master/journal.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "server/master/recovery.h"

namespace dfs::master {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/journal_test.XXXXXX";
    dir_ = ::mkdtemp(pattern);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    io_.stop();
    thread_.join();
    fs::remove_all(dir_);
  }
  static proto::MetaRecord createRecord(uint64_t ino) {
    proto::MetaRecord record;
    record.set_time_ns(static_cast<int64_t>(ino));
    auto* op = record.mutable_create_inode();
    op->set_parent(kRootIno);
    op->set_name("f" + std::to_string(ino));
    op->set_ino(ino);
    op->set_mode(S_IFREG | 0644);
    return record;
  }
  // Runs on the journal's executor, as the master does.
  template <class F>
  auto onIo(F f) {
    return asio::co_spawn(io_, [&]() -> asio::awaitable<decltype(f())> { co_return f(); },
                          asio::use_future)
        .get();
  }
  void appendRecords(Journal& journal, uint64_t first_ino, int count) {
    for (int i = 0; i < count; ++i) {
      auto record = createRecord(first_ino + i);
      ASSERT_TRUE(onIo([&] { return journal.append(record); }));
    }
  }

  std::string dir_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
};

TEST_F(JournalTest, AppendedRecordsAreRecoveredInOrder) {
  {
    auto journal = Journal::open(dir_, 1, io_.get_executor()).value();
    appendRecords(*journal, 2, 100);
    EXPECT_EQ(journal->lastSeq(), 100u);
    // Durability: waiting for the last record returns once a sync covered it.
    auto durable = asio::co_spawn(io_, journal->durable(100), asio::use_future).get();
    EXPECT_TRUE(durable);
    EXPECT_GE(journal->syncedSeq(), 100u);
  }
  auto recovered = recoverMetadata(dir_, RecoveryMode::kCheckOnly).value();
  ASSERT_EQ(recovered.records.size(), 100u);
  EXPECT_EQ(recovered.records.front().seq(), 1u);
  EXPECT_EQ(recovered.records.back().seq(), 100u);
  EXPECT_EQ(recovered.records[41].create_inode().name(), "f43");
}

TEST_F(JournalTest, GroupCommitSharesSyncs) {
  auto journal = Journal::open(dir_, 1, io_.get_executor()).value();
  appendRecords(*journal, 2, 2000);
  asio::co_spawn(io_, journal->durable(2000), asio::use_future).get();
  EXPECT_LT(journal->syncCount(), 2000u);
}

TEST_F(JournalTest, WithADelayRecordsGatherButDurableSyncsAtOnce) {
  auto journal = Journal::open(dir_, 1, io_.get_executor(), std::chrono::hours(1)).value();
  appendRecords(*journal, 2, 50);
  EXPECT_EQ(journal->syncCount(), 0u);  // an hour's delay: nothing synced yet
  auto durable = asio::co_spawn(io_, journal->durable(50), asio::use_future);
  ASSERT_EQ(durable.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_TRUE(durable.get());
  EXPECT_GE(journal->syncedSeq(), 50u);
  EXPECT_EQ(journal->syncCount(), 1u);
}

TEST_F(JournalTest, WithADelayRecordsAreSyncedWithoutAnyoneWaiting) {
  auto journal =
      Journal::open(dir_, 1, io_.get_executor(), std::chrono::milliseconds(20)).value();
  appendRecords(*journal, 2, 10);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (journal->syncedSeq() < 10 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(journal->syncedSeq(), 10u);
  appendRecords(*journal, 12, 10);  // and again, after the thread went idle
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (journal->syncedSeq() < 20 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(journal->syncedSeq(), 20u);
}

TEST_F(JournalTest, TornTailIsTruncatedAndCorruptionStopsRecovery) {
  {
    auto journal = Journal::open(dir_, 1, io_.get_executor()).value();
    appendRecords(*journal, 2, 500);
  }
  auto segment = Journal::listSegments(dir_).at(0).path;
  auto size = fs::file_size(segment);
  fs::resize_file(segment, size - 5);  // a write cut short
  auto repaired = recoverMetadata(dir_, RecoveryMode::kRepair);
  ASSERT_TRUE(repaired) << repaired.error().toString();
  EXPECT_EQ(repaired->records.size(), 499u);
  ASSERT_EQ(repaired->warnings.size(), 1u);
  EXPECT_NE(repaired->warnings[0].find("torn tail"), std::string::npos);
  EXPECT_LT(fs::file_size(segment), size - 5);  // truncated to the last whole record
  EXPECT_TRUE(recoverMetadata(dir_, RecoveryMode::kCheckOnly)->warnings.empty());

  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(1000);
    file.put('\x7f');
  }
  auto corrupt = recoverMetadata(dir_, RecoveryMode::kRepair);
  ASSERT_FALSE(corrupt);
  EXPECT_EQ(corrupt.error().code(), Code::kCorrupt);
  EXPECT_NE(corrupt.error().message().find(segment), std::string::npos);
  EXPECT_NE(corrupt.error().message().find("offset"), std::string::npos);
}

TEST_F(JournalTest, RotationStartsANewSegmentAndOldOnesCanGo) {
  auto journal = Journal::open(dir_, 1, io_.get_executor()).value();
  appendRecords(*journal, 2, 10);
  ASSERT_TRUE(onIo([&] { return journal->rotate(); }));
  appendRecords(*journal, 12, 10);
  auto segments = Journal::listSegments(dir_);
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[1].first_seq, 11u);
  journal->removeSegmentsBefore(11);
  segments = Journal::listSegments(dir_);
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(segments[0].first_seq, 11u);
  // Without the checkpoint that covered 1..10, recovery sees a gap.
  auto gap = recoverMetadata(dir_, RecoveryMode::kCheckOnly);
  ASSERT_FALSE(gap);
  EXPECT_NE(gap.error().message().find("missing"), std::string::npos);
}

}  // namespace
}  // namespace dfs::master

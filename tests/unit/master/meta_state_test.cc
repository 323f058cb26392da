#include "server/master/meta_state.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace dfs::master {
namespace {

// A session's life in records: it opens, reserves inode numbers, creates with one of them
// (a call with a request id), makes a directory, and a second session comes and goes.
std::vector<proto::MetaRecord> history() {
  std::vector<proto::MetaRecord> records;
  int64_t t = 1'000'000'000;
  auto add = [&](auto fill) {
    proto::MetaRecord record;
    record.set_seq(records.size() + 1);
    record.set_time_ns(t += 1000);
    fill(record);
    records.push_back(std::move(record));
  };
  add([](auto& r) {
    r.mutable_open_session()->set_session_id(7);
    r.mutable_open_session()->set_host("h");
  });
  add([](auto& r) {
    r.mutable_reserve_inodes()->set_session_id(7);
    r.mutable_reserve_inodes()->set_first(100);
    r.mutable_reserve_inodes()->set_count(10);
  });
  add([](auto& r) {
    r.set_session_id(7);
    r.set_request_id(1);
    auto* op = r.mutable_create_inode();
    op->set_parent(kRootIno);
    op->set_name("f");
    op->set_ino(100);
    op->set_mode(S_IFREG | 0644);
    op->set_reserved(true);
  });
  add([](auto& r) {
    r.mutable_open_session()->set_session_id(8);
    r.mutable_open_session()->set_host("g");
  });
  add([](auto& r) {
    r.set_session_id(8);
    r.set_request_id(1);
    auto* op = r.mutable_create_inode();
    op->set_parent(kRootIno);
    op->set_name("d");
    op->set_ino(110);
    op->set_mode(S_IFDIR | 0755);
  });
  add([](auto& r) { r.mutable_close_session()->set_session_id(8); });
  return records;
}

// The state a checkpoint holds, in an order of its own (the encoding follows hash maps).
std::string canonical(const std::string& checkpoint) {
  auto decoded = decodeCheckpoint(checkpoint, "test");
  if (!decoded) return decoded.error().toString();
  std::map<uint64_t, std::string> lines;
  decoded->ns->forEachInode([&](const Inode& inode) {
    std::string line = std::to_string(inode.mode) + " " + std::to_string(inode.nlink) + " " +
                       std::to_string(inode.uid) + ":" + std::to_string(inode.gid) + " " +
                       std::to_string(inode.size) + " " + std::to_string(inode.mtime_ns) + " " +
                       std::to_string(inode.ctime_ns) + " " + std::to_string(inode.parent) +
                       " [";
    for (const auto& [name, ino] : inode.entries) line += name + "=" + std::to_string(ino) + " ";
    lines[inode.ino] = line + "]";
  });
  std::string out = "next " + std::to_string(decoded->ns->nextIno()) + " " +
                    std::to_string(decoded->ns->nextChunkId()) + " sessions from " +
                    std::to_string(decoded->next_session_id) + "\n";
  for (const auto& [ino, line] : lines) out += std::to_string(ino) + ": " + line + "\n";
  std::map<uint64_t, std::string> sessions;
  for (const auto& session : decoded->sessions) {
    sessions[session.id()] = session.ShortDebugString();
  }
  for (const auto& [id, session] : sessions) out += session + "\n";
  return out;
}

TEST(MetaStateTest, TheSameRecordsGiveTheSameStateFromAnyCheckpoint) {
  auto records = history();
  MetaState whole(30000);
  for (const auto& record : records) ASSERT_TRUE(whole.apply(record)) << record.DebugString();
  std::string expected = canonical(whole.encodeCheckpoint(records.size()));
  EXPECT_NE(expected.find("100: 33188 1"), std::string::npos) << expected;

  // A master that starts from a checkpoint taken after any record, then applies the rest,
  // ends in the same state (what a restarted master, or a standby, does).
  for (size_t cut = 0; cut <= records.size(); ++cut) {
    MetaState first(30000);
    for (size_t i = 0; i < cut; ++i) ASSERT_TRUE(first.apply(records[i]));
    auto checkpoint = decodeCheckpoint(first.encodeCheckpoint(cut), "test");
    ASSERT_TRUE(checkpoint) << checkpoint.error().toString();
    MetaState resumed(30000);
    resumed.restore(std::move(*checkpoint), 0);
    for (size_t i = cut; i < records.size(); ++i) ASSERT_TRUE(resumed.apply(records[i]));
    EXPECT_EQ(canonical(resumed.encodeCheckpoint(records.size())), expected)
        << "cut after " << cut;
  }
  EXPECT_EQ(whole.lastTimeNs(), records.back().time_ns());
}

TEST(MetaStateTest, ARetriedCallFindsItsAnswerUntilItsSessionCloses) {
  auto records = history();
  MetaState state(30000);
  for (size_t i = 0; i < 5; ++i) ASSERT_TRUE(state.apply(records[i]));
  EXPECT_EQ(state.answerTo(7, 1), 100u);
  EXPECT_EQ(state.answerTo(8, 1), 110u);
  EXPECT_FALSE(state.answerTo(7, 2));
  EXPECT_FALSE(state.answerTo(0, 0));
  ASSERT_TRUE(state.apply(records[5]));  // session 8 closes
  EXPECT_FALSE(state.answerTo(8, 1));
  EXPECT_EQ(state.answerTo(7, 1), 100u);

  // Kept across a checkpoint and restart: a call retried then is not applied a second time.
  auto checkpoint = decodeCheckpoint(state.encodeCheckpoint(6), "test");
  ASSERT_TRUE(checkpoint);
  MetaState restarted(30000);
  restarted.restore(std::move(*checkpoint), 0);
  EXPECT_EQ(restarted.answerTo(7, 1), 100u);
  EXPECT_FALSE(restarted.answerTo(8, 1));
}

TEST(MetaStateTest, ARecordThatDoesNotApplyChangesNothing) {
  auto records = history();
  MetaState state(30000);
  for (const auto& record : records) ASSERT_TRUE(state.apply(record));
  std::string before = canonical(state.encodeCheckpoint(1));
  proto::MetaRecord again = records[2];  // the same name and inode number a second time
  again.set_request_id(2);
  again.set_time_ns(records.back().time_ns() + 1'000'000);
  EXPECT_FALSE(state.apply(again));
  EXPECT_EQ(state.lastTimeNs(), records.back().time_ns());
  EXPECT_EQ(canonical(state.encodeCheckpoint(1)), before);
  EXPECT_FALSE(state.answerTo(7, 2));
}

}  // namespace
}  // namespace dfs::master

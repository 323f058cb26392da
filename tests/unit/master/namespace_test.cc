#include "server/master/namespace.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

namespace dfs::master {
namespace {

class NamespaceTest : public ::testing::Test {
 protected:
  Result<ApplyOutcome> create(uint64_t parent, const std::string& name, uint32_t mode) {
    proto::MetaRecord record;
    record.set_time_ns(++clock_);
    auto* op = record.mutable_create_inode();
    op->set_parent(parent);
    op->set_name(name);
    op->set_ino(ns_.nextIno());
    op->set_mode(mode);
    return ns_.apply(record);
  }
  uint64_t mkdir(uint64_t parent, const std::string& name) {
    return create(parent, name, S_IFDIR | 0755).value().ino;
  }
  uint64_t mkfile(uint64_t parent, const std::string& name) {
    return create(parent, name, S_IFREG | 0644).value().ino;
  }
  Result<ApplyOutcome> rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                              const std::string& new_name, uint32_t flags = 0) {
    proto::MetaRecord record;
    record.set_time_ns(++clock_);
    auto* op = record.mutable_rename();
    op->set_parent(parent);
    op->set_name(name);
    op->set_new_parent(new_parent);
    op->set_new_name(new_name);
    op->set_flags(flags);
    return ns_.apply(record);
  }
  Result<ApplyOutcome> unlink(uint64_t parent, const std::string& name, bool directory = false) {
    proto::MetaRecord record;
    record.set_time_ns(++clock_);
    record.mutable_unlink()->set_parent(parent);
    record.mutable_unlink()->set_name(name);
    record.mutable_unlink()->set_directory(directory);
    return ns_.apply(record);
  }
  Result<ApplyOutcome> allocChunk(uint64_t ino, uint64_t index) {
    proto::MetaRecord record;
    auto* op = record.mutable_alloc_chunk();
    op->set_ino(ino);
    op->set_chunk_index(index);
    op->set_chunk_id(ns_.nextChunkId());
    return ns_.apply(record);
  }
  Result<ApplyOutcome> setSize(uint64_t ino, uint64_t size) {
    proto::MetaRecord record;
    record.mutable_set_attr()->mutable_attr()->set_ino(ino);
    record.mutable_set_attr()->mutable_attr()->set_valid(proto::SET_SIZE);
    record.mutable_set_attr()->mutable_attr()->set_size(size);
    return ns_.apply(record);
  }
  Code errorOf(const Result<ApplyOutcome>& result) {
    return result ? Code::kOk : result.error().code();
  }

  Namespace ns_;
  int64_t clock_ = 1000;
};

TEST_F(NamespaceTest, CreateAndLookup) {
  uint64_t dir = mkdir(kRootIno, "a");
  uint64_t file = mkfile(dir, "f");
  EXPECT_EQ(ns_.lookup(dir, "f").value()->ino, file);
  EXPECT_EQ(ns_.lookup(kRootIno, "a").value()->nlink, 2u);
  EXPECT_EQ(ns_.find(kRootIno)->nlink, 3u);
  EXPECT_EQ(errorOf(create(dir, "f", S_IFREG)), Code::kExists);
  EXPECT_EQ(errorOf(create(file, "x", S_IFREG)), Code::kNotDir);
  EXPECT_EQ(errorOf(create(999, "x", S_IFREG)), Code::kNotFound);
  EXPECT_EQ(ns_.lookup(dir, "nope").error().code(), Code::kNotFound);
}

TEST_F(NamespaceTest, ASetgidDirectoryGivesItsGroupAndSetgidToNewDirectories) {
  proto::MetaRecord record;
  record.set_time_ns(++clock_);
  auto* op = record.mutable_create_inode();
  op->set_parent(kRootIno);
  op->set_name("shared");
  op->set_ino(ns_.nextIno());
  op->set_mode(S_IFDIR | 02775);
  op->set_uid(1000);
  op->set_gid(2000);
  uint64_t shared = ns_.apply(record).value().ino;
  uint64_t plain = mkdir(kRootIno, "plain");
  // the creates below carry gid 0 (the caller's); the directory decides
  uint64_t file = mkfile(shared, "f");
  uint64_t dir = mkdir(shared, "d");
  EXPECT_EQ(ns_.find(file)->gid, 2000u);
  EXPECT_EQ(ns_.find(file)->mode & 07777, 0644u);
  EXPECT_EQ(ns_.find(dir)->gid, 2000u);
  EXPECT_EQ(ns_.find(dir)->mode & 07777, 02755u);
  EXPECT_EQ(ns_.find(mkdir(dir, "deeper"))->mode & S_ISGID, S_ISGID);
  EXPECT_EQ(ns_.find(mkfile(plain, "f"))->gid, 0u);
}

TEST_F(NamespaceTest, NamesAreChecked) {
  EXPECT_EQ(errorOf(create(kRootIno, std::string(256, 'n'), S_IFREG)), Code::kNameTooLong);
  EXPECT_TRUE(create(kRootIno, std::string(255, 'n'), S_IFREG));
  EXPECT_EQ(errorOf(create(kRootIno, "a/b", S_IFREG)), Code::kInvalid);
  EXPECT_EQ(errorOf(create(kRootIno, "..", S_IFDIR)), Code::kInvalid);
  EXPECT_EQ(errorOf(create(kRootIno, "", S_IFREG)), Code::kInvalid);
}

TEST_F(NamespaceTest, FailedRecordChangesNothing) {
  uint64_t next = ns_.nextIno();
  EXPECT_FALSE(create(kRootIno, std::string(300, 'x'), S_IFREG));
  EXPECT_EQ(ns_.nextIno(), next);
  EXPECT_EQ(ns_.fileCount(), 0u);
}

// Numbers reserved for a client's creates lie below the next number; only a create marked as
// using a reservation may take one, and only once.
TEST_F(NamespaceTest, ReservedNumbersAreSkippedAndTakenOnlyByReservedCreates) {
  uint64_t first = ns_.nextIno();
  proto::MetaRecord reserve;
  reserve.mutable_reserve_inodes()->set_first(first);
  reserve.mutable_reserve_inodes()->set_count(10);
  ASSERT_EQ(ns_.apply(reserve).value().ino, first);
  EXPECT_EQ(ns_.nextIno(), first + 10);
  EXPECT_EQ(errorOf(ns_.apply(reserve)), Code::kInternal);  // the same numbers twice
  EXPECT_EQ(mkfile(kRootIno, "ordinary"), first + 10);

  proto::MetaRecord record;
  auto* op = record.mutable_create_inode();
  op->set_parent(kRootIno);
  op->set_name("behind");
  op->set_ino(first + 3);
  op->set_mode(S_IFREG | 0644);
  EXPECT_EQ(errorOf(ns_.apply(record)), Code::kInternal);  // not marked: a reused number
  op->set_reserved(true);
  ASSERT_EQ(ns_.apply(record).value().ino, first + 3);
  EXPECT_EQ(ns_.lookup(kRootIno, "behind").value()->ino, first + 3);
  EXPECT_EQ(ns_.nextIno(), first + 11);
  op->set_name("again");
  EXPECT_EQ(errorOf(ns_.apply(record)), Code::kInternal);  // in use
  op->set_ino(kRootIno);
  EXPECT_EQ(errorOf(ns_.apply(record)), Code::kInternal);
  EXPECT_TRUE(ns_.checkConsistency().isOk());
}

// Chunk ids reserved ahead lie below the next id; a commit that names one makes it the file's
// chunk 0 at version 1, once.
TEST_F(NamespaceTest, AReservedChunkBecomesChunkZeroOfTheFileWhoseCommitNamesIt) {
  uint64_t first = ns_.nextChunkId();
  proto::MetaRecord reserve;
  reserve.mutable_reserve_chunks()->set_first(first);
  reserve.mutable_reserve_chunks()->set_count(4);
  ASSERT_EQ(ns_.apply(reserve).value().ino, first);
  EXPECT_EQ(ns_.nextChunkId(), first + 4);
  EXPECT_EQ(errorOf(ns_.apply(reserve)), Code::kInternal);  // the same ids twice
  uint64_t f = mkfile(kRootIno, "f");
  proto::MetaRecord commit;
  commit.mutable_commit_write()->set_ino(f);
  commit.mutable_commit_write()->set_min_size(6);
  commit.mutable_commit_write()->set_reserved_chunk_id(first + 1);
  ASSERT_TRUE(ns_.apply(commit));
  const Inode* inode = ns_.find(f);
  ASSERT_EQ(inode->chunks.size(), 1u);
  EXPECT_EQ(inode->chunks[0], first + 1);
  EXPECT_EQ(inode->size, 6u);
  EXPECT_EQ(ns_.chunk(first + 1)->version, 1u);
  EXPECT_TRUE(ns_.holdsCommittedData(first + 1));
  commit.mutable_commit_write()->set_reserved_chunk_id(first + 2);
  EXPECT_EQ(errorOf(ns_.apply(commit)), Code::kExists);  // chunk 0 is there already
  uint64_t g = mkfile(kRootIno, "g");
  commit.mutable_commit_write()->set_ino(g);
  commit.mutable_commit_write()->set_reserved_chunk_id(first + 1);
  EXPECT_EQ(errorOf(ns_.apply(commit)), Code::kInternal);  // in use
  commit.mutable_commit_write()->set_reserved_chunk_id(first + 4);
  EXPECT_EQ(errorOf(ns_.apply(commit)), Code::kInternal);  // never reserved
  EXPECT_TRUE(ns_.checkConsistency().isOk());
}

TEST_F(NamespaceTest, RenameOverExistingFileReplacesItAtomically) {
  uint64_t a = mkfile(kRootIno, "a");
  uint64_t b = mkfile(kRootIno, "b");
  auto outcome = rename(kRootIno, "a", kRootIno, "b");
  ASSERT_TRUE(outcome);
  EXPECT_EQ(ns_.lookup(kRootIno, "b").value()->ino, a);
  EXPECT_FALSE(ns_.lookup(kRootIno, "a"));
  ASSERT_EQ(outcome->unlinked.size(), 1u);
  EXPECT_EQ(outcome->unlinked[0], b);
}

TEST_F(NamespaceTest, RenameErrorsFollowPosix) {
  uint64_t dir = mkdir(kRootIno, "d");
  uint64_t sub = mkdir(dir, "sub");
  mkfile(sub, "f");
  mkfile(kRootIno, "file");
  mkdir(kRootIno, "empty");
  EXPECT_EQ(errorOf(rename(kRootIno, "d", sub, "x")), Code::kInvalid);      // into itself
  EXPECT_EQ(errorOf(rename(kRootIno, "d", kRootIno, "file")), Code::kNotDir);
  EXPECT_EQ(errorOf(rename(kRootIno, "file", kRootIno, "empty")), Code::kIsDir);
  EXPECT_EQ(errorOf(rename(kRootIno, "empty", dir, "sub")), Code::kNotEmpty);
  EXPECT_EQ(errorOf(rename(kRootIno, "nope", kRootIno, "x")), Code::kNotFound);
  EXPECT_EQ(errorOf(rename(kRootIno, "file", kRootIno, "d", kRenameNoReplace)), Code::kExists);
  EXPECT_EQ(errorOf(rename(kRootIno, "file", kRootIno, "zz", kRenameExchange)), Code::kNotFound);
}

TEST_F(NamespaceTest, RenameDirectoryMovesLinkCounts) {
  uint64_t a = mkdir(kRootIno, "a");
  uint64_t b = mkdir(kRootIno, "b");
  uint64_t moved = mkdir(a, "m");
  ASSERT_TRUE(rename(a, "m", b, "m2"));
  EXPECT_EQ(ns_.find(a)->nlink, 2u);
  EXPECT_EQ(ns_.find(b)->nlink, 3u);
  EXPECT_EQ(ns_.find(moved)->parent, b);
  // Now the old parent can be removed, and moving b below m2 would be a cycle.
  EXPECT_EQ(errorOf(rename(kRootIno, "b", moved, "b")), Code::kInvalid);
  EXPECT_TRUE(unlink(kRootIno, "a", true));
}

TEST_F(NamespaceTest, RenameExchangeSwapsEntries) {
  uint64_t file = mkfile(kRootIno, "f");
  uint64_t dir = mkdir(kRootIno, "d");
  uint64_t other = mkdir(kRootIno, "o");
  ASSERT_TRUE(rename(kRootIno, "f", dir, "x"));
  ASSERT_TRUE(rename(dir, "x", kRootIno, "o", kRenameExchange));
  EXPECT_EQ(ns_.lookup(kRootIno, "o").value()->ino, file);
  EXPECT_EQ(ns_.lookup(dir, "x").value()->ino, other);
  EXPECT_EQ(ns_.find(other)->parent, dir);
  EXPECT_EQ(ns_.find(dir)->nlink, 3u);
  EXPECT_EQ(ns_.find(kRootIno)->nlink, 3u);
}

TEST_F(NamespaceTest, UnlinkAndRmdirCheckTypes) {
  uint64_t dir = mkdir(kRootIno, "d");
  mkfile(dir, "f");
  EXPECT_EQ(errorOf(unlink(kRootIno, "d")), Code::kIsDir);
  EXPECT_EQ(errorOf(unlink(kRootIno, "d", true)), Code::kNotEmpty);
  EXPECT_EQ(errorOf(unlink(dir, "f", true)), Code::kNotDir);
  auto removed = unlink(dir, "f");
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->unlinked.size(), 1u);
  EXPECT_TRUE(unlink(kRootIno, "d", true));
  EXPECT_EQ(ns_.find(kRootIno)->nlink, 2u);
}

TEST_F(NamespaceTest, HardLinksKeepTheInodeUntilTheLastLinkGoes) {
  uint64_t file = mkfile(kRootIno, "f");
  proto::MetaRecord link;
  link.mutable_link()->set_ino(file);
  link.mutable_link()->set_new_parent(kRootIno);
  link.mutable_link()->set_new_name("g");
  ASSERT_TRUE(ns_.apply(link));
  EXPECT_EQ(ns_.find(file)->nlink, 2u);
  EXPECT_TRUE(unlink(kRootIno, "f")->unlinked.empty());
  EXPECT_EQ(unlink(kRootIno, "g")->unlinked.size(), 1u);
  EXPECT_NE(ns_.find(file), nullptr);  // an orphan until purged
  proto::MetaRecord purge;
  purge.mutable_purge_inode()->set_ino(file);
  ASSERT_TRUE(ns_.apply(purge));
  EXPECT_EQ(ns_.find(file), nullptr);
}

TEST_F(NamespaceTest, TruncateFreesChunksPastTheEnd) {
  uint64_t file = mkfile(kRootIno, "f");
  ASSERT_TRUE(allocChunk(file, 0));
  ASSERT_TRUE(allocChunk(file, 3));
  uint64_t id3 = ns_.find(file)->chunks[3];
  ASSERT_TRUE(setSize(file, 4 * kChunkSize));
  auto shrunk = setSize(file, kChunkSize + 1);
  ASSERT_TRUE(shrunk);
  EXPECT_EQ(shrunk->freed_chunks, std::vector<uint64_t>{id3});
  EXPECT_EQ(ns_.find(file)->chunks.size(), 2u);
  EXPECT_EQ(ns_.chunk(id3), nullptr);
  EXPECT_EQ(errorOf(allocChunk(file, 0)), Code::kExists);
}

TEST_F(NamespaceTest, ACommitSetsSizeTimesAndTheModeItCarries) {
  uint64_t file = create(kRootIno, "f", S_IFREG | 0600).value().ino;
  proto::MetaRecord record;
  record.set_time_ns(5000);
  auto* op = record.mutable_commit_write();
  op->set_ino(file);
  op->set_min_size(5000);
  op->set_mtime_ns(700);
  ASSERT_TRUE(ns_.apply(record));
  EXPECT_EQ(ns_.find(file)->mode, S_IFREG | 0600u);  // no mode carried: unchanged
  op->set_has_mode(true);
  op->set_mode(0644);
  op->set_has_atime(true);
  op->set_atime_ns(600);
  op->set_min_size(10);  // a commit never shrinks the file
  ASSERT_TRUE(ns_.apply(record));
  const Inode* inode = ns_.find(file);
  EXPECT_EQ(inode->mode, S_IFREG | 0644u);
  EXPECT_EQ(inode->size, 5000u);
  EXPECT_EQ(inode->mtime_ns, 700);
  EXPECT_EQ(inode->atime_ns, 600);
  EXPECT_EQ(inode->ctime_ns, 5000);
  // A change never takes the ctime back (a record stamped earlier, a clock stepped back).
  record.set_time_ns(3000);
  ASSERT_TRUE(ns_.apply(record));
  EXPECT_EQ(ns_.find(file)->ctime_ns, 5000);
  // The writer's own time of its last change is the ctime, when it says.
  record.set_time_ns(9000);
  op->set_ctime_ns(8000);
  ASSERT_TRUE(ns_.apply(record));
  EXPECT_EQ(ns_.find(file)->ctime_ns, 8000);
}

TEST_F(NamespaceTest, GoalsApplyRecursivelyAndChunksFollowTheirFile) {
  uint64_t dir = mkdir(kRootIno, "d");
  uint64_t sub = mkdir(dir, "s");
  uint64_t file = mkfile(sub, "f");
  ASSERT_TRUE(allocChunk(file, 0));
  uint64_t chunk = ns_.find(file)->chunks[0];
  EXPECT_EQ(ns_.chunkGoal(chunk, 3), 3u);  // the cluster default
  proto::MetaRecord record;
  record.mutable_set_goal()->set_ino(dir);
  record.mutable_set_goal()->set_goal(2);
  record.mutable_set_goal()->set_recursive(true);
  ASSERT_TRUE(ns_.apply(record));
  EXPECT_EQ(ns_.find(sub)->goal, 2u);
  EXPECT_EQ(ns_.chunkGoal(chunk, 3), 2u);
  record.mutable_set_goal()->set_ino(file);
  record.mutable_set_goal()->set_goal(5);
  record.mutable_set_goal()->set_recursive(false);
  ASSERT_TRUE(ns_.apply(record));
  EXPECT_EQ(ns_.chunkGoal(chunk, 3), 5u);
  EXPECT_EQ(ns_.find(sub)->goal, 2u);
  record.mutable_set_goal()->set_goal(17);
  EXPECT_EQ(errorOf(ns_.apply(record)), Code::kInvalid);
}

TEST_F(NamespaceTest, ReplayingTheSameRecordsRebuildsTheSameState) {
  std::vector<proto::MetaRecord> journal;
  Namespace live;
  auto apply = [&](proto::MetaRecord record) {
    if (live.apply(record)) journal.push_back(record);
  };
  for (int i = 0; i < 50; ++i) {
    proto::MetaRecord record;
    record.set_time_ns(i);
    auto* op = record.mutable_create_inode();
    op->set_parent(kRootIno);
    op->set_name("f" + std::to_string(i % 40));  // some collide and fail
    op->set_ino(live.nextIno());
    op->set_mode(S_IFREG | 0600);
    apply(record);
  }
  Namespace replayed;
  for (const auto& record : journal) ASSERT_TRUE(replayed.apply(record));
  EXPECT_EQ(replayed.fileCount(), live.fileCount());
  EXPECT_EQ(replayed.nextIno(), live.nextIno());
  EXPECT_EQ(replayed.find(kRootIno)->entries, live.find(kRootIno)->entries);
}

// The cluster's identity is set once, by the journal's first record, and never changed.
TEST_F(NamespaceTest, TheClusterIdentityIsSetOnce) {
  Namespace ns;
  EXPECT_EQ(ns.clusterId(), "");
  proto::MetaRecord init;
  init.mutable_init_cluster()->set_cluster_id("one");
  ASSERT_TRUE(ns.apply(init));
  EXPECT_EQ(ns.clusterId(), "one");
  init.mutable_init_cluster()->set_cluster_id("two");
  EXPECT_FALSE(ns.apply(init));
  EXPECT_EQ(ns.clusterId(), "one");
}

}  // namespace
}  // namespace dfs::master

#include "server/master/checkpoint.h"

#include <sys/stat.h>

#include <random>

#include <gtest/gtest.h>

namespace dfs::master {
namespace {

// Drives a namespace with a random but reproducible mix of mutations, keeping the records.
class Workload {
 public:
  explicit Workload(unsigned seed) : random_(seed) {}

  void run(Namespace& ns, int count, std::vector<proto::MetaRecord>* journal) {
    for (int i = 0; i < count; ++i) {
      proto::MetaRecord record = next(ns);
      record.set_time_ns(++clock_);
      if (ns.apply(record)) journal->push_back(record);
    }
  }

 private:
  proto::MetaRecord next(Namespace& ns) {
    proto::MetaRecord record;
    std::string name = "n" + std::to_string(random_() % 50);
    uint64_t dir = dirs_[random_() % dirs_.size()];
    switch (random_() % 6) {
      case 0:
      case 1: {
        auto* op = record.mutable_create_inode();
        op->set_parent(dir);
        op->set_name(name);
        op->set_ino(ns.nextIno());
        bool is_dir = random_() % 3 == 0;
        op->set_mode(is_dir ? S_IFDIR | 0755 : S_IFREG | 0644);
        if (is_dir) dirs_.push_back(ns.nextIno());
        break;
      }
      case 2: {
        auto* op = record.mutable_rename();
        op->set_parent(dir);
        op->set_name(name);
        op->set_new_parent(dirs_[random_() % dirs_.size()]);
        op->set_new_name("n" + std::to_string(random_() % 50));
        break;
      }
      case 3:
        record.mutable_unlink()->set_parent(dir);
        record.mutable_unlink()->set_name(name);
        break;
      case 4: {
        auto found = ns.lookup(dir, name);
        auto* op = record.mutable_alloc_chunk();
        op->set_ino(found ? (*found)->ino : 0);
        op->set_chunk_index(random_() % 4);
        op->set_chunk_id(ns.nextChunkId());
        break;
      }
      case 5: {
        auto found = ns.lookup(dir, name);
        auto* op = record.mutable_set_attr()->mutable_attr();
        op->set_ino(found ? (*found)->ino : 0);
        op->set_valid(proto::SET_SIZE | proto::SET_MODE);
        op->set_size(random_() % (3 * kChunkSize));
        op->set_mode(random_() % 0777);
        break;
      }
    }
    return record;
  }

  std::mt19937 random_;
  std::vector<uint64_t> dirs_{kRootIno};
  int64_t clock_ = 0;
};

// Everything a namespace holds, as text, for comparisons.
std::string dump(const Namespace& ns) {
  std::map<uint64_t, std::string> lines;
  ns.forEachInode([&](const Inode& inode) {
    std::string line = std::to_string(inode.mode) + " " + std::to_string(inode.nlink) + " " +
                       std::to_string(inode.size) + " " + std::to_string(inode.mtime_ns) + " " +
                       std::to_string(inode.parent) + " [";
    for (const auto& [name, ino] : inode.entries) line += name + "=" + std::to_string(ino) + " ";
    line += "] chunks";
    for (uint64_t id : inode.chunks) {
      line += " " + std::to_string(id) + "v" + std::to_string(id ? ns.chunk(id)->version : 0);
    }
    lines[inode.ino] = line;
  });
  std::string out = "next " + std::to_string(ns.nextIno()) + " " +
                    std::to_string(ns.nextChunkId()) + "\n";
  for (const auto& [ino, line] : lines) out += std::to_string(ino) + ": " + line + "\n";
  return out;
}

TEST(CheckpointTest, DecodedCheckpointEqualsTheState) {
  Namespace ns;
  proto::MetaRecord init;
  init.mutable_init_cluster()->set_cluster_id("c1a2");
  ASSERT_TRUE(ns.apply(init));
  std::vector<proto::MetaRecord> journal;
  Workload(1).run(ns, 3000, &journal);
  SessionTable sessions(1000);
  sessions.add(77, "host", 5, "/mnt", 0);
  sessions.reserveInodes(77, 5000, 5010);
  sessions.useReserved(77, 5003);
  (void)sessions.reserveChunks(77, 900, 964);
  (void)sessions.useReservedChunk(77, 910);
  auto bytes = encodeCheckpoint(ns, sessions, 1234);
  auto decoded = decodeCheckpoint(bytes, "test");
  ASSERT_TRUE(decoded) << decoded.error().toString();
  EXPECT_EQ(decoded->seq, 1234u);
  EXPECT_EQ(decoded->ns->clusterId(), "c1a2");
  EXPECT_EQ(dump(*decoded->ns), dump(ns));
  EXPECT_EQ(decoded->ns->fileCount(), ns.fileCount());
  EXPECT_EQ(decoded->ns->directoryCount(), ns.directoryCount());
  EXPECT_EQ(decoded->ns->chunkCount(), ns.chunkCount());
  ASSERT_EQ(decoded->sessions.size(), 1u);
  EXPECT_EQ(decoded->sessions[0].id(), 77u);
  ASSERT_EQ(decoded->sessions[0].reserved_inodes_size(), 1);
  EXPECT_EQ(decoded->sessions[0].reserved_inodes(0).next(), 5004u);
  EXPECT_EQ(decoded->sessions[0].reserved_inodes(0).end(), 5010u);
  ASSERT_EQ(decoded->sessions[0].reserved_chunks_size(), 1);
  EXPECT_EQ(decoded->sessions[0].reserved_chunks(0).next(), 911u);
  EXPECT_EQ(decoded->sessions[0].reserved_chunks(0).end(), 964u);
  EXPECT_EQ(decoded->next_session_id, 78u);
}

TEST(CheckpointTest, CheckpointTakenDuringMutationsPlusLaterRecordsEqualsTheState) {
  Namespace live;
  std::vector<proto::MetaRecord> journal;
  Workload workload(2);
  workload.run(live, 2000, &journal);
  size_t at_checkpoint = journal.size();
  auto bytes = encodeCheckpoint(live, SessionTable(1000), at_checkpoint);
  workload.run(live, 2000, &journal);  // mutations keep coming after the checkpoint

  auto restored = decodeCheckpoint(bytes, "test");
  ASSERT_TRUE(restored);
  for (size_t i = at_checkpoint; i < journal.size(); ++i) {
    ASSERT_TRUE(restored->ns->apply(journal[i])) << "record " << i;
  }
  EXPECT_EQ(dump(*restored->ns), dump(live));

  Namespace replayed;
  for (const auto& record : journal) ASSERT_TRUE(replayed.apply(record));
  EXPECT_EQ(dump(replayed), dump(live));
}

TEST(CheckpointTest, IncompleteOrDamagedCheckpointsAreRefused) {
  Namespace ns;
  std::vector<proto::MetaRecord> journal;
  Workload(3).run(ns, 500, &journal);
  auto bytes = encodeCheckpoint(ns, SessionTable(1000), 9);
  auto cut = decodeCheckpoint(std::string_view(bytes).substr(0, bytes.size() - 20), "cut");
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code(), Code::kCorrupt);
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  auto damaged = decodeCheckpoint(flipped, "flipped");
  ASSERT_FALSE(damaged);
  EXPECT_NE(damaged.error().message().find("flipped"), std::string::npos);
}

}  // namespace
}  // namespace dfs::master

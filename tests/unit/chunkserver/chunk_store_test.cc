#include "server/chunkserver/chunk_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "lib/checksum/crc32c.h"
#include "tests/unit/chunkserver/store_fixture.h"

namespace dfs::chunkserver {
namespace {

class ChunkStoreTest : public StoreFixture {
 protected:
  static std::string randomBytes(size_t size, unsigned seed) {
    std::mt19937 random(seed);
    std::string data(size, '\0');
    for (auto& byte : data) byte = static_cast<char>(random());
    return data;
  }
};

TEST_F(ChunkStoreTest, WritesAtAnyOffsetReadBack) {
  std::string model(3 * kBlockSize + 500, '\0');
  ASSERT_TRUE(store_->write(1, 1, 0, "", /*create=*/true, false));
  unsigned seed = 1;
  for (auto [offset, size] : std::vector<std::pair<size_t, size_t>>{
           {0, 100}, {kBlockSize - 10, 20}, {5, kBlockSize * 2}, {3 * kBlockSize, 500},
           {70000, 1}, {kBlockSize, kBlockSize}}) {
    std::string data = randomBytes(size, seed++);
    ASSERT_TRUE(store_->write(1, 1, offset, data, false, false));
    model.replace(offset, size, data);
  }
  EXPECT_EQ(store_->read(1, 1, 0, static_cast<uint32_t>(model.size())).value(), model);
  EXPECT_EQ(store_->read(1, 1, 12345, 100).value(), model.substr(12345, 100));
  // Past what was written: zeros.
  EXPECT_EQ(store_->read(1, 1, 10 * kBlockSize, 10).value(), std::string(10, '\0'));
}

TEST_F(ChunkStoreTest, ANewReplicasFirstWriteAtAnyOffsetSurvivesAReopen) {
  // A new replica's header, checksums and first data go down together.
  std::string start = randomBytes(5000, 7);
  std::string middle = randomBytes(3 * kBlockSize + 17, 8);
  ASSERT_TRUE(store_->write(11, 3, 0, start, /*create=*/true, false));
  ASSERT_TRUE(store_->write(12, 3, kBlockSize + 100, middle, /*create=*/true, false));
  store_.reset();
  store_ = std::move(ChunkStore::open(dir_).value());
  EXPECT_EQ(store_->read(11, 3, 0, 5000).value(), start);
  EXPECT_EQ(store_->read(11, 3, 5000, 100).value(), std::string(100, '\0'));
  EXPECT_EQ(store_->read(12, 3, 0, kBlockSize + 100).value(), std::string(kBlockSize + 100, '\0'));
  EXPECT_EQ(store_->read(12, 3, kBlockSize + 100, static_cast<uint32_t>(middle.size())).value(),
            middle);
  EXPECT_EQ(store_->read(12, 4, 0, 1).error().code(), Code::kStale);
}

// How many of the pages of [offset, offset + length) of a file are in the page cache.
size_t residentPages(const std::string& path, uint64_t offset, uint64_t length) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return SIZE_MAX;
  void* mapped = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(offset));
  ::close(fd);
  if (mapped == MAP_FAILED) return SIZE_MAX;
  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((length + page - 1) / page);
  size_t count = SIZE_MAX;
  if (::mincore(mapped, length, resident.data()) == 0) {
    count = static_cast<size_t>(std::count_if(resident.begin(), resident.end(),
                                              [](unsigned char bits) { return bits & 1; }));
  }
  ::munmap(mapped, length);
  return count;
}

TEST_F(ChunkStoreTest, LargeWholeBlockWritesGoAroundThePageCacheAndReadBackAfterAReopen) {
  // Larger than one aligned slice of the direct path, starting a new replica.
  std::string first = randomBytes(12 * (1 << 20) + kBlockSize, 21);
  ASSERT_TRUE(store_->write(21, 1, 0, first, /*create=*/true, false));
  // A new replica's first write further in, and an overwrite of an existing replica's middle.
  std::string later = randomBytes(2 << 20, 22);
  ASSERT_TRUE(store_->write(22, 1, 3 * kBlockSize, later, /*create=*/true, false));
  std::string middle = randomBytes(1 << 20, 23);
  ASSERT_TRUE(store_->write(21, 1, 4 * kBlockSize, middle, false, /*sync=*/true));
  first.replace(4 * kBlockSize, middle.size(), middle);
  // From page-aligned memory (a payload received into the chunkserver's large blocks) the data
  // goes to disk as it is, without the aligned copy.
  std::string late = randomBytes(3 << 20, 24);
  std::unique_ptr<char, decltype(&std::free)> aligned(
      static_cast<char*>(std::aligned_alloc(4096, late.size())), &std::free);
  std::memcpy(aligned.get(), late.data(), late.size());
  ASSERT_TRUE(store_->write(21, 1, 32 * kBlockSize, std::string_view(aligned.get(), late.size()),
                            false, false));
  first.replace(32 * kBlockSize, late.size(), late);
  // Where the file system takes direct writes and keeps files on a disk (not tmpfs, whose files
  // are page-cache pages), the data did not stay in the page cache.
  struct statfs where {};
  int direct = ::open((dir_ + "/probe").c_str(), O_CREAT | O_WRONLY | O_DIRECT, 0600);
  if (direct >= 0) ::close(direct);
  if (direct >= 0 && ::statfs(dir_.c_str(), &where) == 0 && where.f_type != TMPFS_MAGIC) {
    EXPECT_EQ(residentPages(store_->pathOf(21), kDataOffset, first.size()), 0u);
  }

  store_.reset();
  store_ = std::move(ChunkStore::open(dir_).value());
  EXPECT_EQ(store_->read(21, 1, 0, static_cast<uint32_t>(first.size())).value(), first);
  EXPECT_EQ(store_->read(22, 1, 0, 3 * kBlockSize).value(), std::string(3 * kBlockSize, '\0'));
  EXPECT_EQ(store_->read(22, 1, 3 * kBlockSize, static_cast<uint32_t>(later.size())).value(),
            later);
}

TEST_F(ChunkStoreTest, DirectWritesToOneReplicaSideBySideLeaveReadersWholePiecesOnly) {
  // Large pieces of one replica are written outside its lock; readers of those blocks wait for
  // them. A reader let in early would find new data under old checksums (kCorrupt) or a piece
  // half written.
  constexpr size_t kPiece = 1 << 20;
  constexpr int kPieces = 16;
  constexpr int kWriters = 4;
  constexpr int kRounds = 12;
  ASSERT_TRUE(store_->write(31, 1, 0, std::string(kPieces * kPiece, 'a'), /*create=*/true, false));
  auto fill = [&](int round) { return std::string(kPiece, static_cast<char>('b' + round)); };
  std::atomic<int> writers_left{kWriters};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int writer = 0; writer < kWriters; ++writer) {
    threads.emplace_back([&, writer] {
      for (int round = 0; round < kRounds; ++round) {
        for (int piece = writer; piece < kPieces; piece += kWriters) {
          if (!store_->write(31, 1, piece * kPiece, fill(round), false, false)) failures++;
        }
      }
      writers_left--;
    });
  }
  // Each read spans two pieces, half of each: each half is one writer's piece, whole.
  auto uniform = [](std::string_view half) {
    return half.find_first_not_of(half.front()) == std::string_view::npos;
  };
  std::atomic<int> reads{0};
  for (int reader = 0; reader < 2; ++reader) {
    threads.emplace_back([&, reader] {
      std::mt19937 random(reader);
      while (writers_left > 0 || reads < 4) {
        uint64_t at = (random() % (kPieces - 1)) * kPiece + kPiece / 2;
        auto got = store_->read(31, 1, at, kPiece);
        if (!got || !uniform(std::string_view(*got).substr(0, kPiece / 2)) ||
            !uniform(std::string_view(*got).substr(kPiece / 2))) {
          failures++;
        }
        reads++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);

  store_.reset();
  store_ = std::move(ChunkStore::open(dir_).value());
  for (int piece = 0; piece < kPieces; ++piece) {
    EXPECT_EQ(store_->read(31, 1, piece * kPiece, kPiece).value(), fill(kRounds - 1)) << piece;
  }
}

TEST_F(ChunkStoreTest, AChunkDirectoryRemovedBehindTheStoresBackIsMadeAgain) {
  ASSERT_TRUE(store_->write(0x101, 1, 0, "first", /*create=*/true, false));
  ASSERT_TRUE(store_->remove(0x101));
  std::filesystem::remove_all(std::filesystem::path(store_->pathOf(0x101)).parent_path());
  ASSERT_TRUE(store_->write(0x201, 1, 0, "second", /*create=*/true, false));  // same directory
  EXPECT_EQ(store_->read(0x201, 1, 0, 6).value(), "second");
}

TEST_F(ChunkStoreTest, ASmallWriteWritesOnlyItsBytes) {
  // A 4 KiB file must not cost a whole 64 KiB block on disk; the block's checksum still covers
  // the block, zeros past the end included.
  ASSERT_TRUE(store_->write(9, 1, 0, std::string(4096, 'a'), /*create=*/true, false));
  EXPECT_EQ(std::filesystem::file_size(store_->pathOf(9)), kDataOffset + 4096);
  ASSERT_TRUE(store_->write(9, 1, 70000, "tail", false, false));
  EXPECT_EQ(std::filesystem::file_size(store_->pathOf(9)), kDataOffset + 70004);
  std::string model(70004, '\0');
  model.replace(0, 4096, std::string(4096, 'a'));
  model.replace(70000, 4, "tail");
  EXPECT_EQ(store_->read(9, 1, 0, 2 * kBlockSize).value(),
            model + std::string(2 * kBlockSize - 70004, '\0'));
  EXPECT_TRUE(store_->verify(9, 0, 2).has_value());
}

TEST_F(ChunkStoreTest, VersionsGuardWrites) {
  ASSERT_TRUE(store_->write(2, 1, 0, "abc", true, false));
  EXPECT_EQ(store_->write(2, 2, 0, "x", false, false).error().code(), Code::kStale);
  ASSERT_TRUE(store_->setVersion(2, 1, 2));
  ASSERT_TRUE(store_->setVersion(2, 1, 2));  // retried: already there
  EXPECT_EQ(store_->write(2, 1, 0, "x", false, false).error().code(), Code::kStale);
  EXPECT_TRUE(store_->write(2, 2, 0, "x", false, false));
  EXPECT_EQ(store_->read(2, 0, 0, 3).value(), "xbc");
  EXPECT_EQ(store_->setVersion(2, 7, 8).error().code(), Code::kStale);
  EXPECT_EQ(store_->write(3, 1, 0, "x", /*create=*/false, false).error().code(), Code::kNotFound);
  EXPECT_TRUE(store_->setVersion(4, 1, 2, /*create_if_missing=*/true));
  EXPECT_EQ(store_->read(4, 2, 0, 4).value(), std::string(4, '\0'));
}

TEST_F(ChunkStoreTest, CrcMismatchIsAnErrorNeverData) {
  std::string data = randomBytes(2 * kBlockSize, 7);
  ASSERT_TRUE(store_->write(5, 1, 0, data, true, true));
  flipByteOnDisk(5, kBlockSize + 17);
  auto bad = store_->read(5, 1, kBlockSize, 100);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kCorrupt);
  EXPECT_NE(bad.error().message().find("block 1"), std::string::npos);
  EXPECT_EQ(store_->read(5, 1, 0, 100).value(), data.substr(0, 100));  // block 0 is fine
  // A partial write into the damaged block must not launder it with a fresh checksum.
  EXPECT_FALSE(store_->write(5, 1, kBlockSize + 5, "zz", false, false));
}

// What the region holds, read from its descriptor as sendfile would send it.
std::string regionBytes(const FileRegion& region) {
  std::string bytes(region.file_bytes, '\0');
  EXPECT_EQ(::pread(region.fd, bytes.data(), bytes.size(), static_cast<off_t>(region.offset)),
            static_cast<ssize_t>(bytes.size()));
  bytes.resize(region.size(), '\0');
  return bytes;
}

bool blocksMatch(const std::string& bytes, const std::vector<uint32_t>& crcs) {
  if (bytes.size() != crcs.size() * kBlockSize) return false;
  for (size_t i = 0; i < crcs.size(); ++i) {
    if (crc32c(bytes.data() + i * kBlockSize, kBlockSize) != crcs[i]) return false;
  }
  return true;
}

TEST_F(ChunkStoreTest, ARegionForAVerifyingReaderIsWholeBlocksWithTheirCrcs) {
  std::string data = randomBytes(2 * kBlockSize + 300, 11);
  ASSERT_TRUE(store_->write(12, 1, 0, data, true, false));
  // Bytes 100..(1 block + 100) lie in blocks 0 and 1; the last block runs past the data.
  auto region = store_->readRegion(12, 1, 100, kBlockSize);
  ASSERT_TRUE(region) << region.error().toString();
  EXPECT_EQ(region->chunk_offset, 0u);
  EXPECT_EQ(region->chunk_length, data.size());
  EXPECT_EQ(region->crcs.size(), 2u);
  EXPECT_EQ(regionBytes(*region->file), data.substr(0, 2 * kBlockSize));
  EXPECT_TRUE(blocksMatch(regionBytes(*region->file), region->crcs));

  auto tail = store_->readRegion(12, 1, 2 * kBlockSize + 10, 5000);
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->chunk_offset, 2 * kBlockSize);
  EXPECT_EQ(tail->file->file_bytes, 300u);  // the rest of the block is zeros past the file
  std::string last = data.substr(2 * kBlockSize);
  last.resize(kBlockSize, '\0');
  EXPECT_EQ(regionBytes(*tail->file), last);
  EXPECT_TRUE(blocksMatch(regionBytes(*tail->file), tail->crcs));

  EXPECT_EQ(store_->readRegion(12, 2, 0, 10).error().code(), Code::kStale);
  EXPECT_EQ(store_->readRegion(13, 1, 0, 10).error().code(), Code::kNotFound);

  // Damage the store does not read is for the reader's check to find.
  flipByteOnDisk(12, kBlockSize + 3);
  auto damaged = store_->readRegion(12, 1, 0, 2 * kBlockSize);
  ASSERT_TRUE(damaged);
  EXPECT_FALSE(blocksMatch(regionBytes(*damaged->file), damaged->crcs));
}

TEST_F(ChunkStoreTest, DamagedReplicasAreNotedForTheMaster) {
  std::string data = randomBytes(3 * kBlockSize, 8);
  ASSERT_TRUE(store_->write(6, 1, 0, data, true, true));
  ASSERT_TRUE(store_->write(7, 1, 0, data, true, true));
  EXPECT_TRUE(store_->verify(6, 0, 3));
  EXPECT_TRUE(store_->takeDamaged().empty());
  flipByteOnDisk(6, 2 * kBlockSize + 1);
  EXPECT_TRUE(store_->verify(6, 0, 2));  // the damage is in block 2
  EXPECT_EQ(store_->verify(6, 0, 3).error().code(), Code::kCorrupt);
  EXPECT_EQ(store_->read(6, 1, 2 * kBlockSize, 10).error().code(), Code::kCorrupt);
  EXPECT_EQ(store_->takeDamaged(), std::vector<uint64_t>{6});  // once, however often found
  EXPECT_TRUE(store_->takeDamaged().empty());
  EXPECT_EQ(store_->verify(6, kBlocksPerChunk - 1, 2).error().code(), Code::kInvalid);

  // A rebuild replaces the damaged replica at its own version, only when asked to.
  EXPECT_EQ(store_->install(6, 1, data).error().code(), Code::kExists);
  ASSERT_TRUE(store_->install(6, 1, data, /*replace_same_version=*/true));
  EXPECT_EQ(store_->read(6, 1, 0, static_cast<uint32_t>(data.size())).value(), data);
  EXPECT_TRUE(store_->verify(6, 0, 3));
}

TEST_F(ChunkStoreTest, TruncateZerosTheTail) {
  std::string data = randomBytes(3 * kBlockSize, 9);
  ASSERT_TRUE(store_->write(6, 1, 0, data, true, false));
  ASSERT_TRUE(store_->truncate(6, 1, kBlockSize + 100));
  std::string expected = data.substr(0, kBlockSize + 100) + std::string(2 * kBlockSize - 100, '\0');
  EXPECT_EQ(store_->read(6, 1, 0, 3 * kBlockSize).value(), expected);
}

TEST_F(ChunkStoreTest, ReplicasSurviveReopenAndDamagedHeadersAreSetAside) {
  ASSERT_TRUE(store_->write(8, 3, 0, "eight", true, true));
  ASSERT_TRUE(store_->write(9, 1, 0, "nine", true, true));
  std::string path9 = store_->pathOf(9);
  store_.reset();
  {
    int fd = ::open(path9.c_str(), O_RDWR);
    ASSERT_EQ(::pwrite(fd, "XX", 2, 0), 2);
    ::close(fd);
  }
  store_ = std::move(ChunkStore::open(dir_).value());
  auto replicas = store_->list();
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_EQ(replicas[0].chunk_id, 8u);
  EXPECT_EQ(replicas[0].version, 3u);
  EXPECT_EQ(store_->read(8, 3, 0, 5).value(), "eight");
  EXPECT_TRUE(std::filesystem::exists(path9 + ".damaged"));
}

TEST_F(ChunkStoreTest, RemoveDeletesTheFile) {
  ASSERT_TRUE(store_->write(10, 1, 0, "x", true, false));
  std::string path = store_->pathOf(10);
  ASSERT_TRUE(std::filesystem::exists(path));
  ASSERT_TRUE(store_->remove(10));
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(store_->read(10, 0, 0, 1).error().code(), Code::kNotFound);
  EXPECT_TRUE(store_->remove(10));  // idempotent
}

TEST_F(ChunkStoreTest, InstalledCopyIsWholeAndReplacesOnlyOlderVersions) {
  std::string data = randomBytes(3 * kBlockSize + 123, 11);
  ASSERT_TRUE(store_->install(12, 4, data));
  EXPECT_EQ(store_->read(12, 4, 0, static_cast<uint32_t>(data.size())).value(), data);
  EXPECT_EQ(store_->length(12).value(), data.size());
  EXPECT_EQ(store_->install(12, 4, "other").error().code(), Code::kExists);
  ASSERT_TRUE(store_->install(12, 5, "newer"));
  EXPECT_EQ(store_->read(12, 5, 0, 5).value(), "newer");
  EXPECT_EQ(store_->read(12, 4, 0, 5).error().code(), Code::kStale);
  EXPECT_FALSE(std::filesystem::exists(store_->pathOf(12) + ".copy"));
  // It survives a reopen like any replica.
  store_.reset();
  store_ = std::move(ChunkStore::open(dir_).value());
  EXPECT_EQ(store_->read(12, 5, 0, 5).value(), "newer");
}

TEST_F(ChunkStoreTest, ManyReplicasDoNotKeepFilesOpen) {
  auto open_files = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                         std::filesystem::directory_iterator{});
  };
  auto before = open_files();
  for (uint64_t id = 100; id < 2600; ++id) {  // more replicas than the default fd limit
    ASSERT_TRUE(store_->write(id, 1, 0, "x", true, false)) << id;
    ASSERT_TRUE(store_->read(id, 1, 0, 1));
  }
  EXPECT_LE(open_files(), before + 2);
  EXPECT_EQ(store_->read(1234, 1, 0, 1).value(), "x");
}

TEST_F(ChunkStoreTest, WritesPastTheChunkEndAreRejected) {
  EXPECT_EQ(store_->write(11, 1, kChunkSize - 1, "ab", true, false).error().code(), Code::kInvalid);
}

}  // namespace
}  // namespace dfs::chunkserver

#include "lib/client/local_replicas.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <vector>

#include "tests/unit/chunkserver/local_read_fixture.h"

namespace dfs::client {
namespace {

using chunkserver::patterned;
constexpr char kAddress[] = "127.0.0.1:7001";

class LocalReplicasTest : public chunkserver::LocalReadFixture {
 protected:
  bool connect(LocalReplicas& replicas, const std::string& token) {
    std::promise<bool> done;
    replicas.connect(kAddress, server_->path(), token, [&](bool ok) { done.set_value(ok); });
    return done.get_future().get();
  }
  static Result<std::string> read(LocalReplicas& replicas, uint64_t chunk_id, uint64_t version,
                                  uint64_t offset, uint32_t length) {
    std::promise<Result<std::string>> done;
    replicas.read(kAddress, chunk_id, version, offset, length,
                  [&](Result<std::string> got) { done.set_value(std::move(got)); });
    return done.get_future().get();
  }
};

TEST_F(LocalReplicasTest, ReadsReplicaFilesCheckedAgainstTheirChecksums) {
  std::string data = patterned(300000);  // 4.6 blocks: the last one partly past the data
  writeReplica(5, 2, data);
  LocalReplicas replicas;
  EXPECT_TRUE(replicas.shouldProbe(kAddress));
  EXPECT_FALSE(replicas.shouldProbe(kAddress));  // once
  ASSERT_TRUE(connect(replicas, server_->token()));
  EXPECT_TRUE(replicas.usable(kAddress));

  auto all = read(replicas, 5, 2, 0, static_cast<uint32_t>(data.size()));
  ASSERT_TRUE(all.has_value()) << all.error().toString();
  EXPECT_EQ(*all, data);
  auto middle = read(replicas, 5, 2, 70000, 100000);  // inside blocks, across a boundary
  ASSERT_TRUE(middle.has_value());
  EXPECT_EQ(*middle, data.substr(70000, 100000));
  auto past = read(replicas, 5, 2, 290000, 30000);  // past the data: zeros
  ASSERT_TRUE(past.has_value());
  EXPECT_EQ(*past, data.substr(290000) + std::string(20000, '\0'));
  EXPECT_EQ(replicas.bytesRead(), data.size() + 100000 + 30000);

  auto stale = read(replicas, 5, 1, 0, 10);
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code(), Code::kStale);
  EXPECT_FALSE(read(replicas, 5, 2, 64ull << 20, 10).has_value());  // past the chunk
}

TEST_F(LocalReplicasTest, LargeReadsGoAroundThePageCacheSmallOnesThroughIt) {
  // Written buffered (not whole 1 MiB pieces), then flushed and dropped from the page cache.
  std::string data = patterned(3 << 20);
  for (size_t at = 0; at < data.size(); at += 100000) {
    std::string piece = data.substr(at, 100000);
    ASSERT_TRUE(store_->write(7, 1, at, piece, /*create=*/at == 0, /*sync=*/false));
  }
  int fd = ::open(store_->pathOf(7).c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fdatasync(fd), 0);
  ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  LocalReplicas replicas;
  ASSERT_TRUE(connect(replicas, server_->token()));
  auto large = read(replicas, 7, 1, 1 << 20, 1 << 20);
  ASSERT_TRUE(large.has_value()) << large.error().toString();
  EXPECT_EQ(*large, data.substr(1 << 20, 1 << 20));
  auto small = read(replicas, 7, 1, 100, 5000);
  ASSERT_TRUE(small.has_value());
  EXPECT_EQ(*small, data.substr(100, 5000));

  size_t file_bytes = kReplicaDataOffset + data.size();
  void* mapped = ::mmap(nullptr, file_bytes, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(mapped, MAP_FAILED);
  std::vector<unsigned char> resident(file_bytes / 4096);
  ASSERT_EQ(::mincore(mapped, file_bytes, resident.data()), 0);
  auto cached = [&](uint64_t from, uint64_t to) {
    return std::count_if(resident.begin() + (kReplicaDataOffset + from) / 4096,
                         resident.begin() + (kReplicaDataOffset + to) / 4096,
                         [](unsigned char page) { return page & 1; });
  };
  EXPECT_EQ(cached(1 << 20, 2 << 20), 0);  // the large read's data
  EXPECT_GT(cached(0, 64 << 10), 0);       // the small read's block
  ::munmap(mapped, file_bytes);
  ::close(fd);
}

TEST_F(LocalReplicasTest, DamageIsReportedNotReturned) {
  std::string data = patterned(200000);
  writeReplica(5, 1, data);
  LocalReplicas replicas;
  ASSERT_TRUE(connect(replicas, server_->token()));
  ASSERT_TRUE(read(replicas, 5, 1, 0, 1000).has_value());  // the descriptor is open now
  flipByteOnDisk(5, 150000);
  auto damaged = read(replicas, 5, 1, 140000, 20000);
  ASSERT_FALSE(damaged.has_value());
  EXPECT_EQ(damaged.error().code(), Code::kCorrupt);
  EXPECT_TRUE(read(replicas, 5, 1, 0, 65536).has_value());  // other blocks still read
}

TEST_F(LocalReplicasTest, AFileReusedForAnotherReplicaIsNotReadAsTheOldOne) {
  std::string old_data = patterned(100000);
  writeReplica(5, 1, old_data);
  LocalReplicas replicas;
  ASSERT_TRUE(connect(replicas, server_->token()));
  ASSERT_EQ(read(replicas, 5, 1, 0, 100000).value_or(""), old_data);  // its file is open now
  // The removed replica's file goes to the spare pool and is the next new replica's.
  ASSERT_TRUE(store_->remove(5).has_value());
  std::string new_data(100000, 'n');
  writeReplica(6, 1, new_data);
  auto gone = read(replicas, 5, 1, 0, 100000);
  ASSERT_FALSE(gone.has_value()) << "read chunk 6's bytes as chunk 5's";
  EXPECT_EQ(gone.error().code(), Code::kStale);
  EXPECT_EQ(read(replicas, 6, 1, 0, 100000).value_or(""), new_data);

  // A version change rewrites the header in place: the descriptor opened at the old one stops.
  ASSERT_TRUE(store_->setVersion(6, 1, 2).has_value());
  auto stale = read(replicas, 6, 1, 0, 100);
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code(), Code::kStale);
  EXPECT_EQ(read(replicas, 6, 2, 0, 100000).value_or(""), new_data);
}

TEST_F(LocalReplicasTest, AnotherChunkserversSocketOrNoneMakesTheAddressRemote) {
  LocalReplicas replicas;
  ASSERT_TRUE(replicas.shouldProbe(kAddress));
  EXPECT_FALSE(connect(replicas, std::string(rpc::kLocalTokenSize, 'z')));
  EXPECT_FALSE(replicas.usable(kAddress));
  EXPECT_FALSE(replicas.shouldProbe(kAddress));  // not asked again soon
  auto unused = read(replicas, 5, 1, 0, 10);
  ASSERT_FALSE(unused.has_value());
  EXPECT_EQ(unused.error().code(), Code::kUnavailable);
}

TEST_F(LocalReplicasTest, AChunkserverThatStoppedIsForgottenAndAskedAgain) {
  writeReplica(5, 1, patterned(1000));
  writeReplica(6, 1, patterned(1000));
  LocalReplicas replicas;
  ASSERT_TRUE(connect(replicas, server_->token()));
  ASSERT_TRUE(read(replicas, 5, 1, 0, 1000).has_value());
  stopServer();
  // A descriptor already open still reads (and is checked); a new one needs the chunkserver.
  EXPECT_TRUE(read(replicas, 5, 1, 0, 1000).has_value());
  auto gone = read(replicas, 6, 1, 0, 1000);
  ASSERT_FALSE(gone.has_value());
  EXPECT_FALSE(replicas.usable(kAddress));
  EXPECT_TRUE(replicas.shouldProbe(kAddress));
  startServer();
  ASSERT_TRUE(connect(replicas, server_->token()));
  EXPECT_TRUE(read(replicas, 6, 1, 0, 1000).has_value());
}

}  // namespace
}  // namespace dfs::client
